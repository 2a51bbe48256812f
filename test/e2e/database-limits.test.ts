import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminHttp, type AdminSession } from '../support/admin-http';
import { PosternProcess } from '../support/postern-process';

describe('per-database guardrails (issue 5)', () => {
  let postern: PosternProcess;
  let api: AdminSession;

  before(async () => {
    postern = await PosternProcess.start();
    api = await AdminHttp.of(postern).session();
  });
  after(() => postern.dispose());

  const open = () => postern.connect();
  const code = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (err: { code?: string }) => err.code,
    );

  test('limits set through the API apply to new sessions of that database, and can be cleared', async () => {
    const put = await api.request('PUT', '/databases/admin/main/limits', {
      maxResultRows: 5,
      statementTimeoutMs: 500,
      maxConnections: 2,
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const shown = await api.request<{ limits: Record<string, number> }>(
      'GET',
      '/databases/admin/main',
    );
    assert.deepEqual(shown.body.limits, {
      maxResultRows: 5,
      statementTimeoutMs: 500,
      maxConnections: 2,
    });

    const [a, b] = [await open(), await open()];
    assert.equal(await code(a.query('SELECT generate_series(1, 6)')), '54000');
    assert.equal((await a.query('SELECT generate_series(1, 5)')).rowCount, 5);
    assert.equal(await code(b.query('SELECT pg_sleep(5)')), '57014');
    assert.equal(await code(open()), '53300', 'a third session exceeds maxConnections');
    await Promise.all([a.end(), b.end()]);

    assert.equal((await api.request('PUT', '/databases/admin/main/limits', {})).status, 200);
    const c = await open();
    assert.equal((await c.query('SELECT generate_series(1, 6)')).rowCount, 6);
    await c.end();
  });

  test('validation: unknown keys and bad values are 400 with a message', async () => {
    for (const body of [{ maxRows: 1 }, { maxResultRows: -1 }, { statementTimeoutMs: '1s' }, [1]]) {
      const { status, body: answer } = await api.request<{ message: string }>(
        'PUT',
        '/databases/admin/main/limits',
        body,
      );
      assert.equal(status, 400, JSON.stringify(body));
      assert.ok(answer.message);
    }
    assert.equal((await api.request('PUT', '/databases/admin/nope/limits', {})).status, 404);
  });

  test('unauthenticated 401; another tenant cannot see the database (404)', async () => {
    const anonymous = await fetch(
      `http://127.0.0.1:${postern.httpPort}/api/v1/databases/admin/main/limits`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      },
    );
    assert.equal(anonymous.status, 401);
    const created = await api.request('POST', '/entities', {
      kind: 'user',
      slug: 'bob',
      password: 'bob-password-1',
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const bob = await AdminHttp.of(postern).session('bob', 'bob-password-1');
    assert.equal((await bob.request('PUT', '/databases/admin/main/limits', {})).status, 404);
  });
});
