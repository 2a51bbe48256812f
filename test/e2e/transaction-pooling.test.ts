import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { AdminHttp, assertError, type AdminSession } from '../support/admin-http';
import { ControlFixtures } from '../support/control-fixtures';
import { PosternProcess } from '../support/postern-process';

/**
 * Transaction pooling (TXN-xx): a database in `transaction` mode serves many
 * more clients than its pool has connections, each client seeing its own
 * session (settings, prepared statements) as if it had a connection of its
 * own, and what cannot work that way is refused with the mode named.
 */
describe('transaction pooling (TXN)', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let api: AdminSession;
  let tokens: Record<string, string>;
  let fixtures: ControlFixtures;
  const clients: pg.Client[] = [];

  before(async () => {
    postern = await PosternProcess.start({
      env: { POSTERN_POOL_SIZE: '2', POSTERN_POOL_SIZE_PER_USER: '2', POSTERN_POOL_TIMEOUT: '20s' },
    });
    http = AdminHttp.of(postern);
    api = await http.session();
    tokens = await http.createUsers(api.token, ['alice', 'bob']);
    const created = await http.call('POST', '/databases', {
      token: tokens.alice,
      body: { owner: 'alice', name: 'shop' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const grant = await http.call('PUT', '/databases/alice/shop/grants/bob', {
      token: tokens.alice,
      body: { level: 'read-write' },
    });
    assert.equal(grant.status, 200, JSON.stringify(grant.body));
    fixtures = await ControlFixtures.connect(postern);
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    await fixtures.close();
    await postern.dispose();
  });

  const connect = async (user = 'alice') => {
    const client = await postern.connect({
      user,
      password: `${user}-password`,
      database: 'alice/shop',
    });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };

  /** Backends of the database's roles now (the pool's connections, busy or idle). */
  const backends = async () => {
    const database = await fixtures.database('alice', 'shop');
    return fixtures.superuser('postgres', async (client) => {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
        [database.physicalName],
      );
      return rows[0]!.n;
    });
  };

  test('TXN-01 the pool mode is a database limit: set, shown, validated', async () => {
    const bad = await http.call('PUT', '/databases/alice/shop/limits', {
      token: tokens.alice,
      body: { poolMode: 'statement' },
    });
    assertError(bad, 400, /"poolMode" must be one of "session", "transaction"/);
    const set = await http.call('PUT', '/databases/alice/shop/limits', {
      token: tokens.alice,
      body: { poolMode: 'transaction', statementTimeoutMs: 60000 },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const shown = await http.call('GET', '/databases/alice/shop', { token: tokens.alice });
    assert.deepEqual(shown.body.limits, { poolMode: 'transaction', statementTimeoutMs: 60000 });
    const setup = await connect();
    await setup.query('CREATE TABLE items (id serial PRIMARY KEY, owner text, n int)');
    await setup.end();
  });

  test('TXN-02 clients logged in but idle hold no upstream connection: more clients than the pool', async () => {
    const many = await Promise.all(Array.from({ length: 8 }, () => connect()));
    assert.ok((await backends()) <= 2, 'at most the pool size of backends');
    // Each client runs transactions with named prepared statements, over 2 connections.
    await Promise.all(
      many.map(async (client, i) => {
        for (let round = 0; round < 5; round++) {
          await client.query('BEGIN');
          await client.query({
            name: 'add-item',
            text: 'INSERT INTO items (owner, n) VALUES ($1, $2)',
            values: [`client-${i}`, round],
          });
          const { rows } = await client.query({
            name: 'count-mine',
            text: 'SELECT count(*)::int AS n FROM items WHERE owner = $1',
            values: [`client-${i}`],
          });
          assert.equal(rows[0].n, round + 1);
          await client.query('COMMIT');
        }
      }),
    );
    const { rows } = await many[0]!.query('SELECT count(*)::int AS n FROM items');
    assert.equal(rows[0].n, 40);
    assert.ok((await backends()) <= 2);
    await Promise.all(many.map((client) => client.end()));
  });

  test('TXN-03 session settings follow their client from connection to connection, and no one else', async () => {
    const [a, b] = await Promise.all([connect(), connect('bob')]);
    await a.query("SET search_path TO 'custom', public");
    await a.query("SET application_name = 'client-a'");
    for (let i = 0; i < 6; i++) {
      const [mine, theirs] = await Promise.all([
        a.query('SELECT current_setting($1) AS path, current_setting($2) AS app', [
          'search_path',
          'application_name',
        ]),
        b.query('SELECT current_setting($1) AS path', ['search_path']),
      ]);
      assert.deepEqual(mine.rows[0], { path: 'custom, public', app: 'client-a' });
      assert.equal(theirs.rows[0].path, '"$user", public');
    }
    await a.query('RESET search_path');
    const reset = await a.query('SELECT current_setting($1) AS path', ['search_path']);
    assert.equal(reset.rows[0].path, '"$user", public');
  });

  test('TXN-04 what cannot work in transaction mode is refused with 0A000 naming the mode', async () => {
    const client = await connect();
    for (const sql of [
      'LISTEN jobs',
      'SELECT pg_advisory_lock(1)',
      'CREATE TEMP TABLE t (a int)',
    ]) {
      await assert.rejects(client.query(sql), (err: { code?: string; message: string }) => {
        assert.equal(err.code, '0A000', sql);
        assert.match(err.message, /not supported in transaction pooling mode/);
        return true;
      });
    }
    // Inside a transaction the refusal aborts it, as any error would.
    await client.query('BEGIN');
    await assert.rejects(client.query('LISTEN jobs'), { code: '0A000' });
    await assert.rejects(client.query('SELECT 1'), { code: '25P02' });
    await client.query('ROLLBACK');
    assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
  });

  test('TXN-05 a cancel reaches the running statement of its own client', async () => {
    const [victim, other] = await Promise.all([connect(), connect()]);
    const slow = victim.query('SELECT pg_sleep(30)');
    await waitFor(async () =>
      fixtures.superuser('postgres', async (client) => {
        const { rows } = await client.query(
          "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)' AND state = 'active'",
        );
        return rows.length > 0;
      }),
    );
    await cancelQuery(victim);
    await assert.rejects(slow, { code: '57014' });
    assert.equal((await other.query('SELECT 2 AS two')).rows[0].two, 2);
    assert.equal((await victim.query('SELECT 3 AS three')).rows[0].three, 3);
  });

  test('TXN-06 ending a session from the API reaches an idle transaction-mode client as 57P01', async () => {
    const client = await connect('bob');
    await client.query('SELECT 1');
    const ended = new Promise<{ code?: string }>((resolve) => client.once('error', resolve));
    const sessions = await http.call<Array<{ id: number; user: string }>>('GET', '/sessions', {
      token: api.token,
    });
    const mine = sessions.body.filter((s) => s.user === 'bob');
    assert.ok(mine.length > 0);
    for (const session of mine) {
      const killed = await http.call('DELETE', `/sessions/${session.id}`, { token: api.token });
      assert.equal(killed.status, 204, JSON.stringify(killed.body));
    }
    assert.equal((await ended).code, '57P01');
  });
});

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition not reached');
}

/** A CancelRequest for `client`'s running statement, as libpq's PQcancel sends it. */
async function cancelQuery(client: pg.Client): Promise<void> {
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  const { host, port } = client as unknown as { host: string; port: number };
  const net = await import('node:net');
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, host, () => {
      const request = Buffer.alloc(16);
      request.writeInt32BE(16, 0);
      request.writeInt32BE(80877102, 4);
      request.writeInt32BE(processID, 8);
      request.writeInt32BE(secretKey, 12);
      socket.end(request);
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}
