import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { AdminHttp, assertError, type AdminSession } from '../support/admin-http';
import { psql } from '../support/clients';
import { ControlFixtures } from '../support/control-fixtures';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import { connectTls, message, scramLogin } from '../support/raw-client';

const MiB = 1024 * 1024;

async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/** Samples the gateway's RSS while `work` runs; resolves with the baseline and the peak. */
async function rssDuring(
  pid: number,
  work: () => Promise<void>,
): Promise<{ before: number; peak: number }> {
  const before = await rss(pid);
  let peak = before;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await rss(pid));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    await work();
  } finally {
    sampling = false;
    await sampler;
  }
  return { before, peak: Math.max(peak, await rss(pid)) };
}

/** Settles every attempt; resolves with the clients that got in and the refusals. */
async function concurrently(
  attempts: ReadonlyArray<() => Promise<pg.Client>>,
): Promise<{ admitted: pg.Client[]; refused: Array<{ code?: string; message: string }> }> {
  const settled = await Promise.allSettled(attempts.map((attempt) => attempt()));
  const admitted: pg.Client[] = [];
  const refused: Array<{ code?: string; message: string }> = [];
  for (const outcome of settled) {
    if (outcome.status === 'fulfilled') admitted.push(outcome.value);
    else refused.push(outcome.reason as { code?: string; message: string });
  }
  return { admitted, refused };
}

const endAll = (clients: readonly pg.Client[]) =>
  Promise.all(clients.map((c) => c.end().catch(() => undefined)));

describe('hardening: guardrails', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let api: AdminSession;
  let bob: string;

  before(async () => {
    postern = await PosternProcess.start({
      env: { POSTERN_MAX_CONNECTIONS: '4', POSTERN_MAX_CONNECTIONS_PER_USER: '3' },
    });
    http = AdminHttp.of(postern);
    api = await http.session();
    bob = (await http.createUsers(api.token, ['bob'])).bob!;
    const created = await http.call('POST', '/databases', {
      token: bob,
      body: { owner: 'bob', name: 'b' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });
  after(() => postern.dispose());

  const asAdmin = () => postern.connect();
  const asBob = () => postern.connect({ user: 'bob', password: 'bob-password', database: 'bob/b' });
  const setLimits = async (limits: Record<string, number>) =>
    assert.equal((await api.request('PUT', '/databases/admin/main/limits', limits)).status, 200);
  const query = (body: unknown, accept = 'application/json') =>
    http.call('POST', '/databases/admin/main/query', {
      token: api.token,
      body,
      headers: { accept },
    });

  describe('HARD-13 connection caps are reserved at login, not counted after it', () => {
    test('HARD-13 a database maxConnections of 2 admits exactly 2 of 10 concurrent logins', async () => {
      await setLimits({ maxConnections: 2 });
      try {
        const { admitted, refused } = await concurrently(Array.from({ length: 10 }, () => asAdmin));
        await endAll(admitted);
        assert.equal(admitted.length, 2, `${admitted.length} of 10 admitted`);
        assert.ok(refused.every((r) => r.code === '53300'));
        assert.match(refused[0]!.message, /too many connections for database "admin\/main"/);
      } finally {
        await setLimits({});
      }
    });

    test('HARD-13 POSTERN_MAX_CONNECTIONS_PER_USER=3 admits exactly 3 of 10 concurrent logins', async () => {
      const { admitted, refused } = await concurrently(Array.from({ length: 10 }, () => asAdmin));
      await endAll(admitted);
      assert.equal(admitted.length, 3, `${admitted.length} of 10 admitted`);
      assert.ok(refused.every((r) => r.code === '53300'));
      assert.match(refused[0]!.message, /too many connections for user "admin"/);
    });

    test('HARD-13 POSTERN_MAX_CONNECTIONS=4 admits exactly 4 of 10 concurrent logins of two users', async () => {
      const attempts = Array.from({ length: 10 }, (_, i) => (i % 2 ? asBob : asAdmin));
      const { admitted, refused } = await concurrently(attempts);
      await endAll(admitted);
      assert.equal(admitted.length, 4, `${admitted.length} of 10 admitted`);
      assert.ok(refused.every((r) => r.code === '53300'));
      // A refused login gives its reservation back: the caps are free again.
      const again = await concurrently(Array.from({ length: 3 }, () => asAdmin));
      await endAll(again.admitted);
      assert.equal(again.admitted.length, 3);
    });
  });

  describe('HARD-12 COPY TO STDOUT is bound by the result limits', () => {
    test('HARD-12 on the wire, COPY data counts as rows against maxResultRows (54000)', async () => {
      await setLimits({ maxResultRows: 10 });
      try {
        const result = await psql(
          postern.conninfo('admin', 'admin/main'),
          ADMIN_PASSWORD,
          'copy (select generate_series(1, 100000)) to stdout;\n',
        );
        const lines = result.stdout.split('\n').filter((line) => line !== '');
        assert.ok(lines.length <= 10, `${lines.length} rows of COPY data reached the client`);
        assert.match(result.stderr, /result exceeds the limit of 10 rows/);
        // The session stays usable and the limit counts per statement.
        const client = await asAdmin();
        try {
          assert.equal((await client.query('SELECT generate_series(1, 10)')).rowCount, 10);
        } finally {
          await client.end();
        }
      } finally {
        await setLimits({});
      }
    });

    test('HARD-12 on the wire, COPY data counts bytes against maxResultBytes (54000)', async () => {
      await setLimits({ maxResultBytes: 10_000 });
      try {
        const result = await psql(
          postern.conninfo('admin', 'admin/main'),
          ADMIN_PASSWORD,
          "copy (select g, repeat('x', 100) from generate_series(1, 100000) g) to stdout;\n",
        );
        assert.ok(
          result.stdout.length <= 10_000,
          `${result.stdout.length} bytes reached the client`,
        );
        assert.match(result.stderr, /result exceeds the limit of 10000 bytes/);
      } finally {
        await setLimits({});
      }
    });

    test('HARD-12 over HTTP, COPY TO STDOUT is refused (0A000) with no data, limits or not', async () => {
      await setLimits({ maxResultRows: 10 });
      try {
        const sql = 'copy (select generate_series(1, 100000)) to stdout';
        for (const accept of ['application/json', 'application/x-ndjson']) {
          const answer = await query({ sql }, accept);
          assert.equal(answer.status, 400, JSON.stringify(answer.body));
          assert.equal((answer.body as { sqlstate: string }).sqlstate, '0A000');
        }
      } finally {
        await setLimits({});
      }
    });
  });

  describe('HARD-08 one huge value cannot make the gateway hold it', () => {
    // NDJSON has only the per-row cap; JSON's own 10 MiB result cap is smaller and names itself.
    for (const [accept, limit] of [
      ['application/x-ndjson', /a row exceeds the limit of 16777216 bytes per row over HTTP/],
      ['application/json', /result exceeds the limit of 10485760 bytes/],
    ] as const) {
      test(`HARD-08 a 300 MB value over HTTP (${accept}) is refused before it is buffered`, async () => {
        let answer: Awaited<ReturnType<typeof query>> | undefined;
        const { before, peak } = await rssDuring(postern.pid, async () => {
          answer = await query({ sql: 'select repeat($1, 300000000)', params: ['x'] }, accept);
        });
        const grew = Math.round((peak - before) / MiB);
        console.log(
          `HARD-08 ${accept}: gateway RSS ${Math.round(before / MiB)} MiB -> peak ${Math.round(peak / MiB)} MiB`,
        );
        assert.equal(answer!.status, 400, JSON.stringify(answer!.body).slice(0, 300));
        const body = answer!.body as { sqlstate: string; message: string };
        assert.equal(body.sqlstate, '54000');
        assert.match(body.message, limit);
        assert.ok(grew < 100, `gateway RSS grew by ${grew} MiB`);
        // The gateway still answers.
        const after = await query({ sql: 'select 1 as one' });
        assert.equal(after.status, 200);
      });
    }

    test('HARD-08 a 300 MB COPY message over HTTP is refused before it is buffered', async () => {
      let answer: Awaited<ReturnType<typeof query>> | undefined;
      const { before, peak } = await rssDuring(postern.pid, async () => {
        answer = await query({ sql: "copy (select repeat('x', 300000000)) to stdout" });
      });
      assert.equal(answer!.status, 400, JSON.stringify(answer!.body).slice(0, 300));
      const grew = Math.round((peak - before) / MiB);
      assert.ok(grew < 100, `gateway RSS grew by ${grew} MiB`);
    });

    test('HARD-08 on the wire without limits, a 300 MB value streams through with flat memory', async () => {
      const socket = await connectTls(postern.wirePort, await postern.ca());
      try {
        const login = await scramLogin(
          socket,
          { user: 'admin', database: 'admin/main' },
          ADMIN_PASSWORD,
        );
        assert.equal(login.messages.at(-1)?.type, 'Z');
        let received = 0;
        const { before, peak } = await rssDuring(postern.pid, async () => {
          received = await relayedBytesUntilReady(
            socket,
            message('Q', "select repeat('x', 300000000)\0"),
          );
        });
        const grew = Math.round((peak - before) / MiB);
        console.log(
          `HARD-08 wire: gateway RSS ${Math.round(before / MiB)} MiB -> peak ${Math.round(peak / MiB)} MiB`,
        );
        assert.ok(received > 300_000_000, `${received} bytes`);
        assert.ok(grew < 100, `gateway RSS grew by ${grew} MiB`);
      } finally {
        socket.destroy();
      }
    });
  });

  describe('HARD-17 a transaction list cannot end its transaction', () => {
    test('HARD-17 ROLLBACK TO SAVEPOINT and SET TRANSACTION stay allowed in a list', async () => {
      const answer = await query({
        transaction: [
          { sql: 'SET TRANSACTION ISOLATION LEVEL REPEATABLE READ' },
          { sql: 'create table if not exists hard17s (x int)' },
          { sql: 'savepoint s' },
          { sql: 'insert into hard17s values (1)' },
          { sql: 'rollback to savepoint s' },
          { sql: 'insert into hard17s values (2)' },
        ],
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const rows = await query({ sql: 'select x from hard17s' });
      assert.deepEqual((rows.body as { rows: unknown[] }).rows, [[2]]);
    });

    for (const sql of ['COMMIT AND CHAIN', 'ROLLBACK AND CHAIN', 'COMMIT']) {
      test(`HARD-17 ${sql} inside {"transaction": [...]} is refused with 25000`, async () => {
        const answer = await query({
          transaction: [
            { sql: 'create table if not exists hard17 (x int)' },
            { sql },
            { sql: 'insert into hard17 values (1)' },
          ],
        });
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        const body = answer.body as { sqlstate: string; statement: number };
        assert.equal(body.sqlstate, '25000');
        assert.equal(body.statement, 1);
        const count = await query({ sql: 'select count(*)::int as n from hard17' });
        if (count.status === 200) {
          assert.deepEqual((count.body as { rows: unknown[] }).rows, [[0]]);
        }
      });
    }
  });
});

/**
 * Sends `query` on a logged-in raw socket and counts the bytes of the answer
 * up to ReadyForQuery without keeping them (the test must not hold 300 MB either).
 */
function relayedBytesUntilReady(socket: tls.TLSSocket, query: Buffer): Promise<number> {
  socket.removeAllListeners('data');
  return new Promise((resolve, reject) => {
    let total = 0;
    let header = Buffer.alloc(0);
    let bodyLeft = 0;
    let type = 0;
    socket.on('data', (chunk: Buffer) => {
      total += chunk.length;
      let at = 0;
      while (at < chunk.length) {
        if (bodyLeft > 0) {
          const take = Math.min(bodyLeft, chunk.length - at);
          bodyLeft -= take;
          at += take;
          if (bodyLeft === 0 && type === 0x5a) resolve(total);
          continue;
        }
        const take = Math.min(5 - header.length, chunk.length - at);
        header = Buffer.concat([header, chunk.subarray(at, at + take)]);
        at += take;
        if (header.length === 5) {
          type = header[0]!;
          bodyLeft = header.readInt32BE(1) - 4;
          header = Buffer.alloc(0);
          if (bodyLeft === 0 && type === 0x5a) resolve(total);
        }
      }
    });
    socket.once('close', () => reject(new Error(`closed after ${total} bytes`)));
    socket.write(query);
  });
}

/** Waits until PostgreSQL shows `query` running (asked as the superuser, outside the gateway). */
async function untilActive(postern: PosternProcess, query: string): Promise<void> {
  const fixtures = await ControlFixtures.connect(postern);
  try {
    for (let attempt = 0; attempt < 100; attempt++) {
      const running = await fixtures.superuser('postgres', async (client) => {
        const { rows } = await client.query(
          "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query = $1",
          [query],
        );
        return rows.length > 0;
      });
      if (running) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error(`${query} never ran`);
  } finally {
    await fixtures.close();
  }
}

/** /readyz, asked until it answers `status` (the pool resets a returned connection first). */
async function readyzWithin(http: AdminHttp, status: number): Promise<number> {
  let answer = 0;
  for (let attempt = 0; attempt < 50 && answer !== status; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    answer = (await http.call('GET', '/readyz')).status;
  }
  return answer;
}

describe('hardening: upstream connection budget (HARD-06)', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let api: AdminSession;
  let tokens: Record<string, string>;

  before(async () => {
    postern = await PosternProcess.start({
      env: {
        POSTERN_POOL_SIZE: '4',
        // 7 upstream connections, 6 of them for wire sessions, 1 kept for HTTP queries.
        POSTERN_UPSTREAM_MAX_CONNECTIONS: '7',
        POSTERN_UPSTREAM_HTTP_RESERVE: '1',
        POSTERN_POOL_TIMEOUT: '1s',
      },
    });
    http = AdminHttp.of(postern);
    api = await http.session();
    tokens = await http.createUsers(api.token, ['alice', 'bob']);
    for (const [owner, name] of [
      ['alice', 'a1'],
      ['alice', 'a2'],
      ['bob', 'b1'],
    ] as const) {
      const created = await http.call('POST', '/databases', {
        token: tokens[owner],
        body: { owner, name },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    const grant = await http.call('PUT', '/databases/alice/a1/grants/bob', {
      token: tokens.alice,
      body: { level: 'read-write' },
    });
    assert.equal(grant.status, 200, JSON.stringify(grant.body));
  });
  after(() => postern.dispose());

  const as = (user: string, database: string) => () =>
    postern.connect({ user, password: `${user}-password`, database });
  const code = (p: Promise<pg.Client>) =>
    p.then(
      (client) => ({ client, code: 'ok', message: '' }),
      (err: { code?: string; message: string }) => ({
        client: null,
        code: err.code,
        message: err.message,
      }),
    );

  test('HARD-06 PostgreSQL refusing for lack of slots is reported as the cluster being full, and /readyz follows', async () => {
    const held: pg.Client[] = [];
    const fillers: pg.Client[] = [];
    const fixtures = await ControlFixtures.connect(postern);
    try {
      // Warm the control plane's connections: with the cluster full, only superuser slots remain.
      held.push(await as('alice', 'alice/a1')());

      // A database's own CONNECTION LIMIT (its owner may set one) is about that database.
      const a2 = await as('alice', 'alice/a2')();
      held.push(a2);
      const { rows } = await a2.query<{ db: string }>('select current_database() as db');
      await a2.query(`ALTER DATABASE ${rows[0]!.db} CONNECTION LIMIT 1`);
      const limited = await code(as('alice', 'alice/a2')());
      await a2.query(`ALTER DATABASE ${rows[0]!.db} CONNECTION LIMIT -1`);
      assert.equal(limited.code, '53300');
      assert.match(limited.message, /too many connections for database "alice\/a2"/);
      assert.equal((await http.call('GET', '/readyz')).status, 200);

      // The cluster's non-superuser slots all taken (by the superuser, from outside the gateway).
      const free = await fixtures.superuser('postgres', async (client) => {
        const { rows } = await client.query<{ free: number }>(
          `SELECT current_setting('max_connections')::int
                  - current_setting('superuser_reserved_connections')::int
                  - (SELECT count(*) FROM pg_stat_activity
                     WHERE backend_type = 'client backend')::int AS free`,
        );
        // This client's own slot is free again once it closes.
        return rows[0]!.free + 1;
      });
      for (let i = 0; i < free; i++) {
        const filler = new pg.Client(fixtures.superuserConfig('postgres'));
        filler.on('error', () => undefined);
        await filler.connect();
        fillers.push(filler);
      }
      const refused = await code(as('bob', 'bob/b1')());
      assert.equal(refused.code, '53300');
      assert.match(refused.message, /the database cluster has no connection slots left/);
      assert.doesNotMatch(refused.message, /bob\/b1/);
      assertError(await http.call('GET', '/readyz'), 503, /refuses connections/);
      const overHttp = await http.call('POST', '/databases/bob/b1/query', {
        token: tokens.bob,
        body: { sql: 'select 1' },
      });
      assert.equal(overHttp.status, 503, JSON.stringify(overHttp.body));
      assert.match(
        (overHttp.body as { message: string }).message,
        /the database cluster has no connection slots left/,
      );

      await endAll(fillers.splice(0));
      const bob = await as('bob', 'bob/b1')();
      await bob.end();
      assert.equal((await http.call('GET', '/readyz')).status, 200);
    } finally {
      await endAll(fillers);
      await endAll(held);
      await fixtures.close();
    }
  });

  test('HARD-06 one user cannot take a whole pool or the cluster budget; refusals say which limit; /readyz follows', async () => {
    const held: pg.Client[] = [];
    try {
      // Pool of 4 per (database, role): one user gets half of it.
      for (let i = 0; i < 2; i++) held.push(await as('alice', 'alice/a1')());
      const third = await code(as('alice', 'alice/a1')());
      assert.equal(third.code, '53300', 'alice may not take the whole pool of alice/a1');
      assert.match(third.message, /user "alice" on database "alice\/a1".*2 of its 4/);
      // Another user of the same database still gets in.
      held.push(await as('bob', 'alice/a1')());

      // 6 upstream connections for sessions: one user gets half of them.
      held.push(await as('alice', 'alice/a2')());
      const fourth = await code(as('alice', 'alice/a2')());
      assert.equal(fourth.code, '53300', 'alice may not take more than half the budget');
      assert.match(fourth.message, /user "alice".*3 of the gateway's upstream connections/);

      // Bob fills the budget: 3 of alice's, 3 of bob's.
      for (let i = 0; i < 2; i++) held.push(await as('bob', 'bob/b1')());
      const readyFull = await http.call('GET', '/readyz');
      assertError(readyFull, 503, /upstream connection budget \(6\) is exhausted/);

      const admin = await code(postern.connect());
      assert.equal(admin.code, '53300');
      assert.match(admin.message, /upstream connection budget \(6\) is exhausted/);
      // HTTP queries still run on the budget's HTTP reserve, until that is taken too.
      const httpQuery = (sql: string) =>
        http.call('POST', '/databases/admin/main/query', { token: api.token, body: { sql } });
      assert.equal((await httpQuery('select 1')).status, 200);
      const slow = httpQuery('select pg_sleep(3)');
      await untilActive(postern, 'select pg_sleep(3)');
      const overHttp = await httpQuery('select 1');
      assert.equal(overHttp.status, 503, JSON.stringify(overHttp.body));
      assert.match(
        (overHttp.body as { message: string }).message,
        /upstream connection budget \(7\) is exhausted/,
      );
      assert.equal((await slow).status, 200);

      // A session that ends frees budget: its idle connection is closed for another database.
      await held.pop()!.end();
      assert.equal(await readyzWithin(http, 200), 200);
      const adminIn = await postern.connect();
      held.push(adminIn);
      assert.equal((await adminIn.query('select 1')).rowCount, 1);
    } finally {
      await endAll(held);
    }
  });
});
