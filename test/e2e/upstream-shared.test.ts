import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminHttp } from '../support/admin-http';
import { PosternProcess } from '../support/postern-process';

interface QueryAnswer {
  rows: unknown[][];
}

const PROBE =
  "SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app, current_setting('IntervalStyle') AS style";

/**
 * One upstream connection serves the wire and SQL over HTTP in turn
 * (POSTERN_POOL_SIZE=1: one connection for admin/main's writer role): the
 * same object, the same pool, the same reset, so a connection opened for
 * one is used by the other and carries nothing of it; and never by both at
 * once.
 */
describe('wire and HTTP share upstream connections', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let token: string;

  before(async () => {
    postern = await PosternProcess.start({
      env: { POSTERN_POOL_SIZE: '1', POSTERN_POOL_TIMEOUT: '1s' },
    });
    http = AdminHttp.of(postern);
    token = await http.login();
  });
  after(() => postern.dispose());

  const overHttp = async (): Promise<[number, string, string]> => {
    const answer = await http.call<QueryAnswer>('POST', '/databases/admin/main/query', {
      token,
      body: { sql: PROBE },
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.rows[0] as [number, string, string];
  };

  test('UPSTREAM-SHARED a connection opened for HTTP serves the wire next, without the HTTP settings, and back', async () => {
    const [httpPid, httpApp, httpStyle] = await overHttp();
    assert.equal(httpApp, 'postern-http');
    assert.equal(httpStyle, 'iso_8601');

    const client = await postern.connect({ application_name: 'wire-app' });
    try {
      const wire = (await client.query(PROBE)).rows[0];
      assert.equal(wire.pid, httpPid, 'the same upstream connection');
      assert.equal(wire.app, 'wire-app');
      assert.equal(wire.style, 'postgres', "the HTTP session's settings were reset");
      await client.query("SET IntervalStyle = 'sql_standard'");
    } finally {
      await client.end();
    }

    const [againPid, againApp, againStyle] = await overHttp();
    assert.equal(againPid, httpPid, 'back to HTTP, still the same connection');
    assert.equal(againApp, 'postern-http');
    assert.equal(againStyle, 'iso_8601', "the wire session's SET is gone");
  });

  test('UPSTREAM-SHARED never both at once: while a wire session holds it, HTTP waits and gets 53300', async () => {
    const client = await postern.connect();
    try {
      const answer = await http.call('POST', '/databases/admin/main/query', {
        token,
        body: { sql: 'SELECT 1' },
      });
      assert.equal(answer.status, 503, JSON.stringify(answer.body));
      assert.equal(answer.body.sqlstate, '53300');
      assert.match(answer.body.message, /pooled upstream connections/);
      assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
    } finally {
      await client.end();
    }
  });
});
