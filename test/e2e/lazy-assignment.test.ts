import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { AdminHttp, assertError, type AdminSession } from '../support/admin-http';
import { CLI } from '../support/cli';
import { DEBIAN_PYTHON, psql, run } from '../support/clients';
import { ControlFixtures } from '../support/control-fixtures';
import { Scrape } from '../support/metrics';
import { cancelRequest } from '../support/raw-client';
import { PosternProcess } from '../support/postern-process';

/** Above every Linux pid: what the gateway announces instead of a backend's. */
const GATEWAY_PIDS_FROM = 0x40000000;

/**
 * Lazy upstream assignment in session mode (LAZY-xx): a database whose
 * limits say `upstreamAssignment: "first-use"` logs its clients in without
 * an upstream connection; a session takes one when it first sends
 * something and keeps it to its end, with everything session mode
 * guarantees (temporary tables, LISTEN, advisory locks, SET), the client's
 * startup settings, its cancels, and its own notifications recognised.
 */
describe('lazy upstream assignment (LAZY)', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let api: AdminSession;
  let tokens: Record<string, string>;
  let fixtures: ControlFixtures;
  const clients: pg.Client[] = [];

  before(async () => {
    postern = await PosternProcess.start({
      env: { POSTERN_POOL_SIZE: '2', POSTERN_POOL_SIZE_PER_USER: '2', POSTERN_POOL_TIMEOUT: '2s' },
    });
    http = AdminHttp.of(postern);
    api = await http.session();
    tokens = await http.createUsers(api.token, ['alice', 'bob']);
    const created = await http.call('POST', '/databases', {
      token: tokens.alice,
      body: { owner: 'alice', name: 'lazy' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const grant = await http.call('PUT', '/databases/alice/lazy/grants/bob', {
      token: tokens.alice,
      body: { level: 'read-write' },
    });
    assert.equal(grant.status, 200, JSON.stringify(grant.body));
    fixtures = await ControlFixtures.connect(postern);
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    await fixtures?.close().catch(() => undefined);
    await postern?.dispose();
  });

  const connect = async (user = 'alice', overrides: pg.ClientConfig = {}) => {
    const client = await postern.connect({
      user,
      password: `${user}-password`,
      database: 'alice/lazy',
      ...overrides,
    });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };

  /** What a client was told in BackendKeyData. */
  const announced = (client: pg.Client) =>
    client as unknown as { processID: number; secretKey: number };

  /** Backends of the database now (the pool's connections, busy or idle). */
  const backends = async () => {
    const database = await fixtures.database('alice', 'lazy');
    return fixtures.superuser('postgres', async (client) => {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
        [database.physicalName],
      );
      return rows[0]!.n;
    });
  };

  test('LAZY-01 upstream assignment is a database limit: validated, set, shown (API and CLI)', async () => {
    const bad = await http.call('PUT', '/databases/alice/lazy/limits', {
      token: tokens.alice,
      body: { upstreamAssignment: 'sometimes' },
    });
    assertError(bad, 400, /"upstreamAssignment" must be one of "login", "first-use"/);
    const set = await http.call('PUT', '/databases/alice/lazy/limits', {
      token: tokens.alice,
      body: { upstreamAssignment: 'first-use', statementTimeoutMs: 60000 },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const shown = await http.call('GET', '/databases/alice/lazy', { token: tokens.alice });
    assert.deepEqual(shown.body.limits, {
      upstreamAssignment: 'first-use',
      statementTimeoutMs: 60000,
    });

    const cli = (args: readonly string[]) =>
      run(process.execPath, [CLI, ...args], {
        env: {
          POSTERN_URL: `http://127.0.0.1:${postern.httpPort}`,
          POSTERN_TOKEN: tokens.alice!,
          XDG_CONFIG_HOME: postern.workDir,
        },
      });
    const back = await cli([
      '--json',
      'databases',
      'limits',
      'alice/lazy',
      '--upstream-assignment',
      'default',
      '--statement-timeout',
      'default',
    ]);
    assert.equal(back.code, 0, back.stderr);
    const reset = await http.call('GET', '/databases/alice/lazy', { token: tokens.alice });
    assert.deepEqual(reset.body.limits, {});
    const wrong = await cli([
      'databases',
      'limits',
      'alice/lazy',
      '--upstream-assignment',
      'never',
    ]);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /login, first-use or default/);
    const lazy = await cli([
      'databases',
      'limits',
      'alice/lazy',
      '--upstream-assignment',
      'first-use',
    ]);
    assert.equal(lazy.code, 0, lazy.stderr);
    assert.match(lazy.stdout, /^upstreamAssignment\s+first-use$/m);

    const setup = await connect();
    await setup.query('CREATE TABLE items (id serial PRIMARY KEY, owner text)');
    await setup.end();
  });

  test('LAZY-02 idle logged-in clients hold no backend, more of them than the pool; each runs in turn', async () => {
    // A pool of 2: with assignment at login the third login would wait and fail (53300).
    const many = await Promise.all(Array.from({ length: 6 }, () => connect()));
    // At most the one the pool keeps idle (the setup's, or the one a login read parameters from).
    assert.ok((await backends()) <= 1, 'no backend held by an idle client');
    for (const client of many) {
      assert.ok(announced(client).processID >= GATEWAY_PIDS_FROM, 'a gateway pid');
    }
    // They are listed, unassigned as they are.
    const listed = await http.call<Array<{ id: number; user: string }>>('GET', '/sessions', {
      token: api.token,
    });
    const ids = new Set(listed.body.map((s) => s.id));
    for (const client of many) assert.ok(ids.has(announced(client).processID));

    const [first, second, third] = many;
    await first!.query("INSERT INTO items (owner) VALUES ('first')");
    await second!.query("INSERT INTO items (owner) VALUES ('second')");
    // The pool is full: the third waits for its turn, which comes when the first leaves.
    const waiting = third!.query("INSERT INTO items (owner) VALUES ('third') RETURNING id");
    await new Promise((resolve) => setTimeout(resolve, 300));
    await first!.end();
    assert.equal((await waiting).rowCount, 1);
    await second!.end();
    await third!.end();
    const { rows } = await many[3]!.query('SELECT count(*)::int AS n FROM items');
    assert.equal(rows[0].n, 3);
    await Promise.all(many.slice(3).map((client) => client.end()));
  });

  test('LAZY-03 once assigned, a session keeps its backend: temp table, advisory lock, LISTEN, SET', async () => {
    const [client, other] = await Promise.all([connect(), connect('bob')]);
    const pid = async (c: pg.Client) =>
      (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const backend = await pid(client);
    await client.query('CREATE TEMP TABLE scratch (n int)');
    await client.query("SET work_mem = '7MB'");
    await client.query('SELECT pg_advisory_lock(4242)');
    await client.query('BEGIN');
    await client.query('INSERT INTO scratch VALUES (1)');
    await client.query('COMMIT');
    await client.query('BEGIN');
    await client.query('INSERT INTO scratch VALUES (2)');
    await client.query('COMMIT');
    assert.equal((await client.query('SELECT sum(n)::int AS n FROM scratch')).rows[0].n, 3);
    assert.equal((await client.query('SHOW work_mem')).rows[0].work_mem, '7MB');
    assert.equal(await pid(client), backend);
    const locked = await other.query('SELECT pg_try_advisory_lock(4242) AS got');
    assert.equal(locked.rows[0].got, false, 'the lock is held by the first session');

    // Its own notification carries the pid its client was told, so that it recognises it.
    const notified = new Promise<pg.Notification>((resolve) =>
      client.once('notification', resolve),
    );
    await client.query('LISTEN jobs');
    await client.query("NOTIFY jobs, 'mine'");
    const own = await notified;
    assert.equal(own.payload, 'mine');
    assert.equal(own.processId, announced(client).processID);
    // Another session's keeps the sender's backend pid (not this client's).
    const theirs = new Promise<pg.Notification>((resolve) => client.once('notification', resolve));
    await other.query("NOTIFY jobs, 'theirs'");
    const received = await theirs;
    assert.equal(received.payload, 'theirs');
    assert.equal(received.processId, await pid(other));
    assert.notEqual(received.processId, announced(client).processID);
    await Promise.all([client.end(), other.end()]);
  });

  test('LAZY-04 a cancel before the first statement reaches nothing; after assignment, the running statement (while it waits: LAZY-14)', async () => {
    const client = await connect();
    const { processID, secretKey } = announced(client);
    const key = Buffer.alloc(4);
    key.writeInt32BE(secretKey);
    await sendCancel(postern.wirePort, processID, key);
    // Nothing ran, nothing is cancelled: the first statement runs normally.
    const backend = (await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    const slow = client.query('SELECT pg_sleep(30)');
    await waitFor(async () =>
      fixtures.superuser('postgres', async (su) => {
        const { rows } = await su.query(
          "SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query = 'SELECT pg_sleep(30)'",
          [backend],
        );
        return rows.length > 0;
      }),
    );
    await sendCancel(postern.wirePort, processID, key);
    await assert.rejects(slow, { code: '57014' });
    // The session goes on, on the same backend.
    assert.equal((await client.query('SELECT pg_backend_pid() AS pid')).rows[0].pid, backend);
    await client.end();
  });

  test('LAZY-05 the startup settings are applied on the connection taken at first use', async () => {
    const client = await connect('alice', {
      application_name: 'lazy-app',
      options: '-c search_path=custom,public -c work_mem=5MB',
    });
    // The first message is the extended protocol's Parse.
    const { rows } = await client.query(
      `SELECT current_setting($1) AS app, current_setting($2) AS path,
              current_setting($3) AS mem, pg_backend_pid() AS pid`,
      ['application_name', 'search_path', 'work_mem'],
    );
    assert.deepEqual(
      { app: rows[0].app, path: rows[0].path, mem: rows[0].mem },
      { app: 'lazy-app', path: 'custom,public', mem: '5MB' },
    );
    const seen = await fixtures.superuser('postgres', (su) =>
      su.query('SELECT application_name FROM pg_stat_activity WHERE pid = $1', [rows[0].pid]),
    );
    assert.equal(seen.rows[0].application_name, 'lazy-app');
    await client.end();
  });

  test('LAZY-06 psql and psycopg2 work against a first-use database; psycopg2 recognises its own notification', async () => {
    const shell = await psql(
      postern.conninfo('alice', 'alice/lazy'),
      'alice-password',
      [
        'CREATE TEMP TABLE t AS SELECT 41 AS n;',
        'BEGIN;',
        'UPDATE t SET n = n + 1;',
        'COMMIT;',
        'SELECT n AS answer FROM t;',
        'LISTEN psql_channel;',
        "NOTIFY psql_channel, 'hello';",
      ].join('\n'),
    );
    assert.equal(shell.code, 0, shell.stderr);
    assert.match(shell.stdout, /\b42\b/);
    const notice =
      /Asynchronous notification "psql_channel" with payload "hello" received from server process with PID (\d+)/.exec(
        shell.stdout,
      );
    assert.ok(notice, shell.stdout);
    assert.ok(Number(notice[1]) >= GATEWAY_PIDS_FROM, 'the pid psql was told');

    const script = [
      'import json, sys, select, psycopg2',
      'conn = psycopg2.connect(sys.argv[1])',
      'conn.autocommit = True',
      'cur = conn.cursor()',
      "cur.execute('CREATE TEMP TABLE t (n int)')",
      "cur.execute('INSERT INTO t VALUES (%s)', (7,))",
      "cur.execute('LISTEN py_channel')",
      'cur.execute("NOTIFY py_channel, \'hi\'")',
      'conn.poll()',
      'note = conn.notifies.pop(0)',
      "cur.execute('SELECT n FROM t')",
      'n = cur.fetchone()[0]',
      'print(json.dumps({"n": n, "payload": note.payload, "own": note.pid == conn.info.backend_pid, "pid": conn.info.backend_pid}))',
    ].join('\n');
    const py = await run(DEBIAN_PYTHON, ['-c', script, postern.conninfo('alice', 'alice/lazy')], {
      env: { PGPASSWORD: 'alice-password' },
    });
    assert.equal(py.code, 0, py.stderr);
    const answer = JSON.parse(py.stdout.trim().split('\n').at(-1)!);
    assert.equal(answer.n, 7);
    assert.equal(answer.payload, 'hi');
    assert.equal(answer.own, true, 'the notification carries the pid psycopg2 was told');
    assert.ok(answer.pid >= GATEWAY_PIDS_FROM);
  });

  test('LAZY-07 no connection free at first use: FATAL 53300 naming the full limit, as a login would get', async () => {
    // The drivers of LAZY-06 are gone: their connections are back in the pool.
    await waitFor(async () => {
      const listed = await http.call<Array<{ user: string }>>('GET', '/sessions', {
        token: api.token,
      });
      return !listed.body.some((s) => s.user === 'alice');
    });
    const [a, b, late] = await Promise.all([connect(), connect(), connect()]);
    await a.query('SELECT 1');
    await b.query('SELECT 1');
    const ended = new Promise<void>((resolve) => late.once('end', () => resolve()));
    const refused = await late.query('SELECT 1').then(
      () => null,
      (err: pg.DatabaseError) => err,
    );
    assert.ok(refused, 'refused');
    assert.equal(refused.code, '53300');
    assert.equal(refused.severity, 'FATAL');
    assert.match(
      refused.message,
      /too many connections for user "alice" on database "alice\/lazy"/,
    );
    await ended;
    // The others are untouched.
    assert.equal((await a.query('SELECT 2 AS two')).rows[0].two, 2);
    await Promise.all([a.end(), b.end()]);
  });

  test('LAZY-08 ending an unassigned session from the API reaches its client as 57P01', async () => {
    const client = await connect('bob');
    const ended = new Promise<{ code?: string }>((resolve) => client.once('error', resolve));
    const killed = await http.call('DELETE', `/sessions/${announced(client).processID}`, {
      token: api.token,
    });
    assert.equal(killed.status, 204, JSON.stringify(killed.body));
    assert.equal((await ended).code, '57P01');
  });

  /** Connections the pool lent for the database so far (each login, or first use, takes one). */
  const acquires = async () =>
    (await Scrape.of(http, api.token)).value('postern_pool_acquire_duration_seconds_count', {
      database: 'alice/lazy',
    });

  test('LAZY-09 a client that leaves before sending anything takes no connection', async () => {
    const before = await acquires();
    const client = await connect();
    await client.end(); // Terminate
    const raw = await connect();
    (raw as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy();
    await waitFor(async () => {
      const listed = await http.call<Array<{ user: string }>>('GET', '/sessions', {
        token: api.token,
      });
      return !listed.body.some((s) => s.user === 'alice');
    });
    assert.equal(await acquires(), before);
  });

  test('LAZY-10 the idle-session timeout ends a session that never sent anything (57P05)', async () => {
    const set = await http.call('PUT', '/databases/alice/lazy/limits', {
      token: tokens.alice,
      body: { upstreamAssignment: 'first-use', idleSessionTimeoutMs: 200 },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    try {
      const before = await acquires();
      const client = await connect();
      const ended = new Promise<{ code?: string }>((resolve) => client.once('error', resolve));
      assert.equal((await ended).code, '57P05');
      assert.equal(await acquires(), before);
    } finally {
      await http.call('PUT', '/databases/alice/lazy/limits', {
        token: tokens.alice,
        body: { upstreamAssignment: 'first-use' },
      });
    }
  });

  test('LAZY-11 pg_terminate_backend(pg_backend_pid()) ends the session with 57P01; a read-only login works too', async () => {
    const grant = await http.call('PUT', '/databases/alice/lazy/grants/bob', {
      token: tokens.alice,
      body: { level: 'read-only' },
    });
    assert.equal(grant.status, 200, JSON.stringify(grant.body));
    const reader = await connect('bob');
    assert.equal((await reader.query('SELECT count(*)::int AS n FROM items')).rows[0].n, 3);
    await assert.rejects(reader.query("INSERT INTO items (owner) VALUES ('bob')"), {
      code: '25006',
    });
    const ended = new Promise<unknown>((resolve) => reader.once('error', resolve));
    const result = await reader.query('SELECT pg_terminate_backend(pg_backend_pid())').then(
      () => 'answered',
      (err: { code?: string }) => err.code,
    );
    // PostgreSQL ends its own backend before the answer: the statement fails with 57P01.
    assert.equal(result, '57P01');
    await ended; // and the connection is closed
  });

  test('LAZY-13 the statement that assigns the connection is audited and held to the guardrails', async () => {
    const set = await http.call('PUT', '/databases/alice/lazy/limits', {
      token: tokens.alice,
      body: { upstreamAssignment: 'first-use', maxResultRows: 2 },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    try {
      const client = await connect();
      await assert.rejects(client.query('SELECT g FROM generate_series(1, 5) g /* lazy-13 */'), {
        code: '54000',
      });
      assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
      await client.end();
      const sessionId = announced(client).processID;
      await waitFor(async () => {
        const answer = await http.call<{
          events: Array<{ detail?: { statement?: string; sessionId?: number; sqlstate?: string } }>;
        }>('GET', '/audit?limit=50&kind=wire.query', { token: api.token });
        return answer.body.events.some(
          (e) =>
            e.detail?.statement?.includes('lazy-13') === true &&
            e.detail.sessionId === sessionId &&
            e.detail.sqlstate === '54000',
        );
      });
    } finally {
      await http.call('PUT', '/databases/alice/lazy/limits', {
        token: tokens.alice,
        body: { upstreamAssignment: 'first-use' },
      });
    }
  });

  /** Acquires of the database queued for a connection now. */
  const queued = async () =>
    (await Scrape.of(http, api.token)).value('postern_pool_waiting', { database: 'alice/lazy' });

  test('LAZY-14 a cancel while the first statement waits for the pool fails it with 57014 and takes no connection', async () => {
    await waitFor(async () => {
      const listed = await http.call<Array<{ user: string }>>('GET', '/sessions', {
        token: api.token,
      });
      return !listed.body.some((s) => s.user === 'alice');
    });
    const [a, b, waiting] = await Promise.all([connect(), connect(), connect()]);
    await a.query('SELECT 1');
    await b.query('SELECT 1');
    const { processID, secretKey } = announced(waiting);
    const key = Buffer.alloc(4);
    key.writeInt32BE(secretKey);
    const lent = async () => {
      const scrape = await Scrape.of(http, api.token);
      const count = 'postern_pool_acquire_duration_seconds_count';
      return (
        scrape.value(count, { database: 'alice/lazy', outcome: 'reused' }) +
        scrape.value(count, { database: 'alice/lazy', outcome: 'new' })
      );
    };
    const lentBefore = await lent();
    // The simple protocol, then the extended one (Parse/Bind/Describe/Execute/Sync in one write).
    for (const statement of ['SELECT 1', { text: 'SELECT $1::int AS n', values: [1] }]) {
      const cancelled = waiting.query(statement).then(
        () => null,
        (err: pg.DatabaseError) => err,
      );
      await waitFor(async () => (await queued()) === 1);
      await sendCancel(postern.wirePort, processID, key);
      const error = await cancelled;
      assert.equal(error?.code, '57014', String(error));
      assert.equal(error.severity, 'ERROR');
      // It left the queue with the cancel, and nothing was lent for it.
      assert.equal(await queued(), 0);
    }
    assert.equal(await lent(), lentBefore);
    // The session goes on, unassigned: once a connection is free its next statement runs.
    await a.end();
    assert.equal((await waiting.query('SELECT 2 AS two')).rows[0].two, 2);
    await Promise.all([b.end(), waiting.end()]);
  });

  test('LAZY-12 shutdown ends a session holding no connection at once with 57P01', async () => {
    const client = await connect();
    const ended = new Promise<{ code?: string }>((resolve) => client.once('error', resolve));
    await fixtures.close(); // its superuser connection ends with the cluster
    const exit = postern.stop('SIGTERM');
    assert.equal((await ended).code, '57P01');
    assert.equal(await exit, 0);
  });
});

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition not reached');
}

/** A CancelRequest, as libpq's PQcancel sends it; resolves once the gateway closed it. */
async function sendCancel(port: number, processId: number, secretKey: Buffer): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () =>
      socket.end(cancelRequest(processId, secretKey)),
    );
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}
