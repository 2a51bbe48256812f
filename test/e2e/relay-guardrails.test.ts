import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { PosternProcess } from '../support/postern-process';

/** Resolves with the error that ends the connection (or rejects if it stays up). */
function connectionEnd(client: pg.Client, timeoutMs = 20_000): Promise<Error & { code?: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('connection was not ended')), timeoutMs);
    // node-postgres reports the FATAL, then the closed socket: the first error is the answer.
    client.on('error', (err) => {
      clearTimeout(timer);
      resolve(err);
    });
  });
}

describe('relay guardrails and pooling (issue 5)', () => {
  let postern: PosternProcess;

  before(async () => {
    postern = await PosternProcess.start({
      env: {
        POSTERN_STATEMENT_TIMEOUT: '1s',
        POSTERN_MAX_RESULT_ROWS: '1000',
        POSTERN_MAX_RESULT_BYTES: '1000000',
        POSTERN_IDLE_IN_TRANSACTION_TIMEOUT: '1s',
        POSTERN_IDLE_SESSION_TIMEOUT: '4s',
        POSTERN_POOL_SIZE: '3',
        // One user fills the whole pool here (the per-user share is HARD-06's subject).
        POSTERN_POOL_SIZE_PER_USER: '3',
        POSTERN_POOL_TIMEOUT: '1s',
      },
    });
  });
  after(() => postern.dispose());

  const open = (overrides: pg.ClientConfig = {}) => postern.connect(overrides);
  const sqlstate = (promise: Promise<unknown>) =>
    promise.then(
      () => 'ok',
      (err: { code?: string }) => err.code ?? 'no code',
    );

  test('statement timeout: 57014, and the session stays usable', async () => {
    const client = await open();
    try {
      const started = client.query('SELECT pg_sleep(10)');
      assert.equal(await sqlstate(started), '57014');
      assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
    } finally {
      await client.end();
    }
  });

  test('row limit: 54000, the upstream statement is cancelled, the next statement is untouched', async () => {
    const client = await open();
    try {
      const error = await client.query('SELECT generate_series(1, 100000000) AS g').catch((e) => e);
      assert.equal(error.code, '54000');
      assert.match(error.message, /1000 rows/);
      const { rows } = await client.query('SELECT count(*)::int AS n FROM generate_series(1, 999)');
      assert.equal(rows[0].n, 999, 'a result under the limit passes whole');
      const { rows: exact } = await client.query('SELECT g FROM generate_series(1, 1000) g');
      assert.equal(exact.length, 1000);
      const { rows: active } = await client.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE '%100000000%' AND pid <> pg_backend_pid()",
      );
      assert.equal(active[0].n, 0, 'the big statement no longer runs upstream');
    } finally {
      await client.end();
    }
  });

  test('byte limit: 54000 for a result over POSTERN_MAX_RESULT_BYTES', async () => {
    const client = await open();
    try {
      const error = await client
        .query("SELECT repeat('x', 100000) FROM generate_series(1, 100)")
        .catch((e) => e);
      assert.equal(error.code, '54000');
      assert.equal((await client.query("SELECT repeat('x', 10) AS s")).rows[0].s, 'xxxxxxxxxx');
    } finally {
      await client.end();
    }
  });

  test('idle in transaction: FATAL 25P03, and the transaction is rolled back', async () => {
    const client = await open();
    await client.query('CREATE TABLE IF NOT EXISTS idle_tx (v int)');
    await client.query('BEGIN');
    await client.query('INSERT INTO idle_tx VALUES (1)');
    const ended = await connectionEnd(client);
    assert.equal(ended.code, '25P03');
    const check = await open();
    try {
      assert.equal((await check.query('SELECT count(*)::int AS n FROM idle_tx')).rows[0].n, 0);
    } finally {
      await check.end();
    }
  });

  test('idle session: FATAL 57P05', async () => {
    const client = await open();
    const ended = await connectionEnd(client);
    assert.equal(ended.code, '57P05');
  });

  test('pool: a reused upstream connection carries nothing of the previous session', async () => {
    const first = await open({ application_name: 'first' });
    await first.query("SET search_path = 'nowhere'");
    await first.query('PREPARE leftover AS SELECT 1');
    // (A session that made a temporary table is not reused at all: HARD-11 in hard-upstream.test.ts.)
    await first.query('LISTEN first_channel');
    const firstPid = (await first.query('SELECT pg_backend_pid() AS pid')).rows[0].pid;
    await first.end();
    await new Promise((resolve) => setTimeout(resolve, 200));

    const pids = new Set<number>();
    for (let i = 0; i < 3; i++) {
      const next = await open();
      try {
        const { rows } = await next.query(
          "SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app, current_setting('search_path') AS path, " +
            "(SELECT count(*)::int FROM pg_prepared_statements) AS prepared, to_regclass('pg_temp.scratch') IS NULL AS no_temp, " +
            '(SELECT count(*)::int FROM pg_listening_channels()) AS listening',
        );
        assert.deepEqual(
          {
            app: rows[0].app,
            path: rows[0].path,
            prepared: rows[0].prepared,
            no_temp: rows[0].no_temp,
            listening: rows[0].listening,
          },
          { app: '', path: '"$user", public', prepared: 0, no_temp: true, listening: 0 },
        );
        pids.add(rows[0].pid);
      } finally {
        await next.end();
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(pids.has(firstPid), 'the first upstream backend was reused');
  });

  test('pool limit: past POSTERN_POOL_SIZE a login waits POSTERN_POOL_TIMEOUT, then 53300', async () => {
    const held = await Promise.all([open(), open(), open()]);
    try {
      const refused = await open().then(
        async (c) => {
          await c.end();
          return 'connected';
        },
        (err: { code?: string }) => err.code,
      );
      assert.equal(refused, '53300');
    } finally {
      await held[0]!.end();
    }
    const afterRelease = await open();
    await afterRelease.end();
    await Promise.all(held.slice(1).map((c) => c.end()));
  });
});
