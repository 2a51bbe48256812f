import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { AdminHttp, type AdminSession } from '../support/admin-http';
import { ControlFixtures } from '../support/control-fixtures';
import { PosternProcess } from '../support/postern-process';

/**
 * Wire logins read identity data from memory, kept current by the control
 * plane's change notifications. A change must reach new logins without a
 * restart: each test polls new logins until the expected refusal, within a
 * generous overall limit (no timing threshold: only "eventually, and then
 * for good").
 */
const PATIENCE_MS = 30_000;

describe('identity snapshot: changes reach new wire logins', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let admin: AdminSession;
  let fixtures: ControlFixtures;

  before(async () => {
    postern = await PosternProcess.start();
    http = AdminHttp.of(postern);
    admin = await http.session();
    fixtures = await ControlFixtures.connect(postern);
    await http.createUsers(admin.token, ['iris', 'ivan']);
    for (const owner of ['iris', 'ivan']) {
      const created = await admin.request('POST', '/databases', { owner, name: 'main' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
  });

  after(async () => {
    await fixtures?.close();
    await postern?.dispose();
  });

  /** The SQLSTATE a new wire login gets, or 'ok'. */
  async function loginOutcome(user: string, password: string, database: string): Promise<string> {
    try {
      const client = await postern.connect({ user, password, database });
      await client.end();
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? String(err);
    }
  }

  async function eventually(
    expected: string,
    attempt: () => Promise<string>,
    what: string,
  ): Promise<void> {
    const deadline = Date.now() + PATIENCE_MS;
    let last = '';
    while (Date.now() < deadline) {
      last = await attempt();
      if (last === expected) return;
      await sleep(50);
    }
    assert.fail(`${what}: still ${last} after ${PATIENCE_MS} ms, expected ${expected}`);
  }

  test('IDENT-01 a token revoked through the API no longer logs in; the password still does', async () => {
    const token = await admin.createToken('iris', { name: 'to revoke' });
    await eventually('ok', () => loginOutcome('iris', token.token, 'iris/main'), 'new token');
    assert.equal((await admin.request('DELETE', `/tokens/${token.id}`)).status, 204);
    await eventually('28P01', () => loginOutcome('iris', token.token, 'iris/main'), 'revoked');
    assert.equal(await loginOutcome('iris', 'iris-password', 'iris/main'), 'ok');
  });

  test('IDENT-02 a removed grant refuses new logins to that database (3D000)', async () => {
    const put = await admin.request('PUT', '/databases/admin/main/grants/ivan', {
      level: 'read-only',
    });
    assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
    await eventually('ok', () => loginOutcome('ivan', 'ivan-password', 'admin/main'), 'granted');
    const removed = await admin.request('DELETE', '/databases/admin/main/grants/ivan');
    assert.equal(removed.status, 204, JSON.stringify(removed.body));
    await eventually(
      '3D000',
      () => loginOutcome('ivan', 'ivan-password', 'admin/main'),
      'grant removed',
    );
  });

  test('IDENT-03 a token revoked in the control plane directly (SQL, not the API) stops logging in: the trigger notifies the gateway', async () => {
    const token = await admin.createToken('iris', { name: 'revoked in SQL' });
    await eventually('ok', () => loginOutcome('iris', token.token, 'iris/main'), 'new token');
    await fixtures.superuser('postern_control', (client) =>
      client.query('UPDATE public.api_token SET revoked_at = pg_catalog.now() WHERE id = $1', [
        token.id,
      ]),
    );
    await eventually('28P01', () => loginOutcome('iris', token.token, 'iris/main'), 'revoked');
  });

  test('IDENT-04 a disabled user can no longer log in, and can again once enabled', async () => {
    const disable = await admin.request('PATCH', '/entities/ivan', { disabled: true });
    assert.equal(disable.status, 200, JSON.stringify(disable.body));
    await eventually('28P01', () => loginOutcome('ivan', 'ivan-password', 'ivan/main'), 'disabled');
    const enable = await admin.request('PATCH', '/entities/ivan', { disabled: false });
    assert.equal(enable.status, 200, JSON.stringify(enable.body));
    await eventually('ok', () => loginOutcome('ivan', 'ivan-password', 'ivan/main'), 'enabled');
  });

  test('IDENT-05 every wire login is recorded in the audit log (written in batches)', async () => {
    assert.equal(await loginOutcome('iris', 'iris-password', 'iris/main'), 'ok');
    assert.equal(await loginOutcome('iris', 'wrong password', 'iris/main'), '28P01');
    const deadline = Date.now() + PATIENCE_MS;
    let outcomes: string[] = [];
    while (Date.now() < deadline) {
      const page = await admin.request<{ events: Array<{ outcome: string; actor: string }> }>(
        'GET',
        '/audit?kind=wire.login&entity=iris&limit=100',
      );
      outcomes = page.body.events.map((event) => event.outcome);
      if (outcomes.includes('failure')) break;
      await sleep(50);
    }
    assert.ok(outcomes.includes('success') && outcomes.includes('failure'), String(outcomes));
  });
});
