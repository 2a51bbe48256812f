import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { AdminHttp, type AdminSession } from '../support/admin-http';
import { CLI } from '../support/cli';
import { run } from '../support/clients';
import { ControlFixtures } from '../support/control-fixtures';
import { Scrape } from '../support/metrics';
import { PosternProcess } from '../support/postern-process';

/**
 * A database's own pool size (POOL-SIZE-xx), as PgBouncer's per-database
 * pool_size: `poolSize` in its limits bounds its upstream connections per
 * level below the gateway's POSTERN_POOL_SIZE, for wire sessions and SQL
 * over HTTP alike.
 */
describe('pool size per database (POOL-SIZE)', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let api: AdminSession;
  let tokens: Record<string, string>;
  let fixtures: ControlFixtures;
  const clients: pg.Client[] = [];

  before(async () => {
    postern = await PosternProcess.start({
      env: { POSTERN_POOL_SIZE: '6', POSTERN_POOL_SIZE_PER_USER: '6', POSTERN_POOL_TIMEOUT: '30s' },
    });
    http = AdminHttp.of(postern);
    api = await http.session();
    tokens = await http.createUsers(api.token, ['alice']);
    for (const name of ['small', 'large', 'sessions', 'shrinking', 'stale']) {
      const created = await http.call('POST', '/databases', {
        token: tokens.alice,
        body: { owner: 'alice', name },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    fixtures = await ControlFixtures.connect(postern);
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    await fixtures?.close().catch(() => undefined);
    await postern?.dispose();
  });

  const connect = async (name: string) => {
    const client = await postern.connect({
      user: 'alice',
      password: 'alice-password',
      database: `alice/${name}`,
    });
    client.on('error', () => undefined);
    clients.push(client);
    return client;
  };

  const setLimits = (name: string, body: Record<string, unknown>) =>
    http.call('PUT', `/databases/alice/${name}/limits`, { token: tokens.alice, body });

  /** Backends of the database's writer role now (the pool's connections, busy or idle). */
  const backends = async (name: string) => {
    const database = await fixtures.database('alice', name);
    return fixtures.superuser('postgres', async (client) => {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = $1',
        [database.writer.role],
      );
      return rows[0]!.n;
    });
  };

  const until = async (what: string, holds: () => Promise<boolean>) => {
    for (let i = 0; i < 400; i++) {
      if (await holds()) return;
      await sleep(25);
    }
    assert.fail(`never: ${what}`);
  };

  const waiting = async (name: string) =>
    (await Scrape.of(http, api.token)).value('postern_pool_waiting', {
      database: `alice/${name}`,
    });

  test('POOL-SIZE-01 the limit is validated, shown by the API and the CLI, and default clears it', async () => {
    for (const poolSize of [0, 7, 1.5, '2', -1]) {
      const refused = await setLimits('small', { poolSize });
      assert.equal(refused.status, 400, `${JSON.stringify(poolSize)}: ${refused.status}`);
      assert.match(
        (refused.body as { message: string }).message,
        /"poolSize" must be an integer from 1 to 6/,
      );
    }
    const set = await setLimits('small', { poolSize: 2 });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const shown = await http.call('GET', '/databases/alice/small', { token: tokens.alice });
    assert.deepEqual((shown.body as { limits: unknown }).limits, { poolSize: 2 });

    const cli = (args: readonly string[]) =>
      run(process.execPath, [CLI, ...args], {
        env: {
          POSTERN_URL: `http://127.0.0.1:${postern.httpPort}`,
          POSTERN_TOKEN: tokens.alice!,
          XDG_CONFIG_HOME: postern.workDir,
        },
      });
    const listed = await cli(['databases', 'limits', 'alice/small']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^poolSize\s+2$/m);
    const wrong = await cli(['databases', 'limits', 'alice/small', '--pool-size', 'lots']);
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /a positive integer or default/);
    const cleared = await cli([
      '--json',
      'databases',
      'limits',
      'alice/small',
      '--pool-size',
      'default',
    ]);
    assert.equal(cleared.code, 0, cleared.stderr);
    const after = await http.call('GET', '/databases/alice/small', { token: tokens.alice });
    assert.deepEqual((after.body as { limits: unknown }).limits, {});
    const three = await cli(['databases', 'limits', 'alice/small', '--pool-size', '3']);
    assert.equal(three.code, 0, three.stderr);
    assert.match(three.stdout, /^poolSize\s+3$/m);
  });

  test('POOL-SIZE-02 a database with poolSize 2 holds at most 2 backends; the third waits, then proceeds; another keeps the global size', async () => {
    const set = await setLimits('small', { poolSize: 2, poolMode: 'transaction' });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const many = await Promise.all(Array.from({ length: 6 }, () => connect('small')));
    const opened = many.map(async (client) => {
      await client.query('BEGIN');
      await client.query('SELECT 1');
      return client;
    });
    const finished: pg.Client[] = [];
    for (const started of opened) void started.then((client) => finished.push(client));
    await until('two transactions run and four wait', async () => {
      return finished.length === 2 && (await waiting('small')) === 4;
    });
    assert.equal(await backends('small'), 2);

    // The database next to it keeps the gateway's size: 6 session-mode clients, 6 backends.
    await Promise.all(Array.from({ length: 6 }, () => connect('large')));
    assert.equal(await backends('large'), 6);

    await finished[0]!.query('COMMIT');
    await until('a third transaction runs', async () => finished.length === 3);
    assert.equal(await backends('small'), 2);
    // The rest, in turn, never over 2.
    let done = 1;
    while (done < 6) {
      const next = finished[done]!;
      await next.query('COMMIT');
      done++;
      await until(`${Math.min(done + 2, 6)} transactions ran`, async () => {
        return finished.length === Math.min(done + 2, 6);
      });
      assert.ok((await backends('small')) <= 2);
    }
  });

  test('POOL-SIZE-02 session mode: the third login waits for one of the 2 connections, then proceeds', async () => {
    const set = await setLimits('sessions', { poolSize: 2 });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const logins: pg.Client[] = [];
    const pending = Array.from({ length: 6 }, () =>
      connect('sessions').then((client) => {
        logins.push(client);
        return client;
      }),
    );
    await until('two logins in and four waiting', async () => {
      return logins.length === 2 && (await waiting('sessions')) === 4;
    });
    assert.equal(await backends('sessions'), 2);
    await logins[0]!.query('BEGIN');
    await logins[0]!.end();
    await until('a third login in', async () => logins.length === 3);
    assert.ok((await backends('sessions')) <= 2);
    for (let i = 1; i < 6; i++) {
      await logins[i]!.end();
      if (i + 2 < 6) await until(`login ${i + 3} in`, async () => logins.length === i + 3);
      assert.ok((await backends('sessions')) <= 2);
    }
    await Promise.all(pending);
  });

  test('POOL-SIZE-02 SQL over HTTP on the same database shares the 2 connections', async () => {
    const peakDuring = async () => {
      let peak = 0;
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, await backends('small'));
          await sleep(10);
        }
      })();
      const burst = Array.from({ length: 6 }, () =>
        http.call('POST', '/databases/alice/small/query', {
          token: tokens.alice,
          body: { sql: 'select pg_sleep(0.2)' },
        }),
      );
      for (const answer of await Promise.all(burst)) assert.equal(answer.status, 200);
      sampling = false;
      await sampler;
      return peak;
    };
    const peak = await peakDuring();
    assert.ok(peak >= 1 && peak <= 2, `${peak} backends over a pool of 2`);
  });

  test('POOL-SIZE-03 lowering the size closes idle connections over it', async () => {
    const four = await Promise.all(Array.from({ length: 4 }, () => connect('shrinking')));
    await Promise.all(four.map((client) => client.end()));
    await until(
      'four idle connections in the pool',
      async () => (await backends('shrinking')) === 4,
    );
    const set = await setLimits('shrinking', { poolSize: 1 });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const one = await connect('shrinking');
    assert.equal((await one.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n, 1);
    await until('one backend left', async () => (await backends('shrinking')) === 1);
    await one.end();
  });

  test('POOL-SIZE-03 connections in use when the size is lowered finish their lease, then close', async () => {
    const raised = await setLimits('shrinking', { poolSize: 3 });
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    const three = await Promise.all(Array.from({ length: 3 }, () => connect('shrinking')));
    for (const client of three) await client.query('SELECT 1');
    assert.equal(await backends('shrinking'), 3);
    const lowered = await setLimits('shrinking', { poolSize: 1 });
    assert.equal(lowered.status, 200, JSON.stringify(lowered.body));
    // The next login learns the new size and waits: 3 are in use.
    const fourth = connect('shrinking');
    await until('the fourth login waits', async () => (await waiting('shrinking')) === 1);
    await three[0]!.end();
    await three[1]!.end();
    await until('two given back and closed', async () => (await backends('shrinking')) === 1);
    assert.equal(await waiting('shrinking'), 1);
    await three[2]!.end();
    const last = await fourth;
    assert.equal((await last.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n, 1);
    assert.equal(await backends('shrinking'), 1);
  });

  test('POOL-SIZE-04 a transaction-mode session logged in before the size was lowered does not raise it back', async () => {
    const set = await setLimits('stale', { poolMode: 'transaction', poolSize: 3 });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const early = await connect('stale');
    await early.query('SELECT 1');
    const lowered = await setLimits('stale', { poolMode: 'transaction', poolSize: 1 });
    assert.equal(lowered.status, 200, JSON.stringify(lowered.body));
    const late = await connect('stale');
    await late.query('SELECT 1');
    // The late session's transaction holds the one connection; the early one must wait for it.
    await late.query('BEGIN');
    await late.query('SELECT 1');
    const earlyQuery = early.query<{ n: number }>('SELECT 2 AS n');
    await until('the early session waits', async () => (await waiting('stale')) === 1);
    assert.equal(await backends('stale'), 1);
    await late.query('COMMIT');
    assert.equal((await earlyQuery).rows[0]!.n, 2);
    assert.equal(await backends('stale'), 1);
  });
});
