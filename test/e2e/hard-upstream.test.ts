import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { stripVTControlCharacters } from 'node:util';
import pg from 'pg';
import { AdminHttp } from '../support/admin-http';
import { psql } from '../support/clients';
import { ControlFixtures, type DatabaseFixture } from '../support/control-fixtures';
import { PosternProcess } from '../support/postern-process';

/**
 * The hardening round against the upstream PostgreSQL: tenant roles cannot
 * log in around the gateway (HARD-05), cannot plant settings for the other
 * logins of their database (HARD-04), and a pooled connection shows nothing
 * of its previous session (HARD-11). One upstream connection per database
 * and role (POSTERN_POOL_SIZE=1), so consecutive sessions share it.
 */
describe('the upstream: direct logins, planted settings, pooled state', () => {
  let postern: PosternProcess;
  let fixtures: ControlFixtures;
  let http: AdminHttp;
  let main: DatabaseFixture;

  before(async () => {
    postern = await PosternProcess.start({
      env: { POSTERN_POOL_SIZE: '1', POSTERN_POOL_TIMEOUT: '10s' },
    });
    fixtures = await ControlFixtures.connect(postern);
    http = AdminHttp.of(postern);
    main = await fixtures.database('admin', 'main');
    // Through the API: HTTP logins need the password's bcrypt hash too.
    await http.createUsers(await http.login(), ['mallory', 'reader2', 'writer2']);
    await fixtures.grant(main, 'mallory', 'read-only');
    await fixtures.grant(main, 'reader2', 'read-only');
    await fixtures.grant(main, 'writer2', 'read-write');
  });
  after(async () => {
    await fixtures?.close();
    await postern?.dispose();
  });

  const open = (user: string) =>
    user === 'admin' ? postern.connect() : postern.connect({ user, password: `${user}-password` });

  /** Runs `sql` on a fresh gateway session of `user` and ends it cleanly (its upstream goes back to the pool). */
  async function once<T = Record<string, unknown>>(user: string, sql: string): Promise<T[]> {
    const client = await open(user);
    try {
      return (await client.query(sql)).rows as T[];
    } finally {
      await client.end();
    }
  }

  /** The same statement over the HTTP query API as `user`: its rows as objects. */
  async function overHttp(user: string, sql: string): Promise<Record<string, unknown>> {
    const token = await http.login(user, `${user}-password`);
    const answer = await http.call('POST', '/databases/admin/main/query', {
      token,
      body: { sql },
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const { fields, rows } = answer.body as { fields: { name: string }[]; rows: unknown[][] };
    return Object.fromEntries(fields.map((field, i) => [field.name, rows[0]![i]]));
  }

  /** Ends every upstream backend of `roles`, so the pool must open new ones. */
  async function terminateUpstream(...roles: string[]): Promise<void> {
    await fixtures.superuser('postgres', async (client) => {
      await client.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = ANY($1::name[])`,
        [roles],
      );
      // pg_terminate_backend only signals: wait until they are gone.
      for (;;) {
        const { rows } = await client.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = ANY($1::name[])`,
          [roles],
        );
        if (rows[0].n === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    });
  }

  /** A direct login to the upstream over TCP, as an attacker who learnt the port. */
  async function directLogin(port: number, user: string, password: string): Promise<string> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port,
      user,
      password,
      database: main.physicalName,
    });
    client.on('error', () => undefined);
    return client.connect().then(
      async () => {
        await client.end();
        return 'logged in';
      },
      (err: { code?: string }) => `refused ${err.code ?? ''}`,
    );
  }

  describe('HARD-05 tenant roles cannot log in to the upstream directly', () => {
    for (const [user, level] of [
      ['mallory', 'read-only'],
      ['writer2', 'read-write'],
    ] as const) {
      test(`HARD-05 a ${level} login that sets its role's password is refused upstream (node-postgres and psql) and the gateway keeps working`, async () => {
        const role = level === 'read-only' ? main.reader.role : main.writer.role;
        const attacker = await open(user);
        await attacker.query('SET default_transaction_read_only = off');
        await attacker.query("ALTER ROLE CURRENT_USER PASSWORD 'chosen-by-the-tenant'");
        const seen = (await attacker.query('SELECT inet_server_port() AS port')).rows[0].port as
          number | null;
        await attacker.end();
        // The gateway may not reach PostgreSQL over TCP at all; the port is still findable.
        const port = seen ?? fixtures.endpoint.port;
        assert.equal(port, fixtures.endpoint.port);

        assert.match(await directLogin(port, role, 'chosen-by-the-tenant'), /^refused/);
        const viaPsql = await psql(
          `host=127.0.0.1 port=${port} user=${role} dbname=${main.physicalName} sslmode=disable`,
          'chosen-by-the-tenant',
          'SELECT 1;',
        );
        assert.notEqual(viaPsql.code, 0, viaPsql.stdout);

        // New upstream connections for the role still work through the gateway.
        await terminateUpstream(role);
        const rows = await once<{ who: string }>(user, 'SELECT current_user AS who');
        assert.equal(rows[0]!.who, role);
      });
    }

    test('HARD-05 the control plane holds no upstream role password', async () => {
      const { rows } = await fixtures.superuser('postern_control', (client) =>
        client.query(
          `SELECT column_name FROM information_schema.columns
            WHERE table_schema = 'public' AND column_name LIKE '%password%'`,
        ),
      );
      assert.deepEqual(rows, []);
    });
  });

  describe('HARD-04 one login cannot change the session environment of another', () => {
    const PROBE =
      "SELECT current_setting('statement_timeout') AS statement_timeout, " +
      "current_setting('lock_timeout') AS lock_timeout, " +
      "current_setting('idle_session_timeout') AS idle_session_timeout, " +
      "current_setting('search_path') AS search_path, " +
      "current_setting('work_mem') AS work_mem, " +
      "current_setting('pg_trgm.similarity_threshold', true) AS planted, " +
      '(SELECT true FROM pg_sleep(0.01)) AS slept';
    const CLEAN = {
      statement_timeout: '0',
      lock_timeout: '0',
      idle_session_timeout: '0',
      search_path: '"$user", public',
      work_mem: '4MB',
      planted: null,
      slept: true,
    };

    before(() => once('admin', 'CREATE EXTENSION IF NOT EXISTS pg_trgm'));

    test('HARD-04 role settings a read-only login plants reach no other read-only login, wire or HTTP', async () => {
      const mallory = await open('mallory');
      await mallory.query('SET default_transaction_read_only = off');
      // A setting of a library loaded in this session (not shown in pg_settings by a new one).
      await mallory.query('SELECT show_limit()');
      for (const sql of [
        "ALTER ROLE CURRENT_USER SET statement_timeout = '1ms'",
        "ALTER ROLE CURRENT_USER SET search_path = 'nowhere'",
        "ALTER ROLE CURRENT_USER SET pg_trgm.similarity_threshold = '0.99'",
        `ALTER ROLE CURRENT_USER IN DATABASE "${main.physicalName}" SET lock_timeout = '1ms'`,
        `ALTER ROLE CURRENT_USER IN DATABASE "${main.physicalName}" SET work_mem = '64kB'`,
      ]) {
        await mallory.query(sql);
      }
      await mallory.end();

      await terminateUpstream(main.reader.role);
      assert.deepEqual((await once('reader2', PROBE))[0], CLEAN);
      await terminateUpstream(main.reader.role);
      assert.deepEqual(await overHttp('reader2', PROBE), CLEAN);
    });

    test('HARD-04 database settings the writer plants reach no other login of the database', async () => {
      const writer = await open('writer2');
      await writer.query('SELECT show_limit()');
      for (const sql of [
        `ALTER DATABASE "${main.physicalName}" SET idle_session_timeout = '1ms'`,
        `ALTER DATABASE "${main.physicalName}" SET statement_timeout = '1ms'`,
        `ALTER DATABASE "${main.physicalName}" SET pg_trgm.similarity_threshold = '0.99'`,
        "ALTER ROLE CURRENT_USER SET work_mem = '64kB'",
      ]) {
        await writer.query(sql);
      }
      await writer.end();

      await terminateUpstream(main.reader.role, main.writer.role);
      assert.deepEqual((await once('reader2', PROBE))[0], CLEAN);
      assert.deepEqual((await once('admin', PROBE))[0], CLEAN);
      await terminateUpstream(main.reader.role, main.writer.role);
      assert.deepEqual(await overHttp('reader2', PROBE), CLEAN);
      assert.deepEqual(await overHttp('writer2', PROBE), CLEAN);
    });
  });

  describe('HARD-11 a reused upstream connection shows nothing of the previous session', () => {
    const pid = 'SELECT pg_backend_pid() AS pid';

    /** Runs `first` as mallory, then `then` as reader2 on the same upstream connection. */
    async function handOver<T>(first: string[], then: string, user = 'mallory', next = 'reader2') {
      const a = await open(user);
      const firstPid = (await a.query(pid)).rows[0].pid;
      for (const sql of first) await a.query(sql);
      await a.end();
      const b = await open(next);
      try {
        const samePid = (await b.query(pid)).rows[0].pid === firstPid;
        return { samePid, rows: (await b.query(then)).rows as T[], client: b };
      } finally {
        await b.end();
      }
    }

    test('HARD-11 a seed set with setseed() does not carry over: the next user draws an unpredictable sequence', async () => {
      const reference = await once<{ r: number }>('reader2', 'SELECT setseed(0.42), random() AS r');
      const draws: number[] = [];
      for (let i = 0; i < 2; i++) {
        const { samePid, rows } = await handOver<{ r: number }>(
          ['SELECT setseed(0.42)'],
          'SELECT random() AS r',
        );
        assert.ok(samePid, 'the upstream connection was reused');
        draws.push(rows[0]!.r);
      }
      assert.notEqual(draws[0], reference[0]!.r);
      assert.notEqual(draws[1], reference[0]!.r);
      assert.notEqual(draws[0], draws[1], 'every reset seeds anew');
      // The seed is not shown to other sessions of the role in pg_stat_activity.
      const shown = await fixtures.superuser('postgres', (client) =>
        client.query(`SELECT query FROM pg_stat_activity WHERE usename = $1`, [main.reader.role]),
      );
      for (const { query } of shown.rows) assert.doesNotMatch(query, /setseed\(\s*[-0-9.]/);
    });

    test('HARD-11 custom settings: the value set with SET or set_config is gone', async () => {
      const { samePid, rows } = await handOver<{ a: string | null; b: string | null }>(
        ["SET myapp.secret = 'value'", "SELECT set_config('myapp.other', 'value', false)"],
        "SELECT current_setting('myapp.secret', true) AS a, current_setting('myapp.other', true) AS b",
      );
      assert.ok(samePid);
      assert.ok(rows[0]!.a === null || rows[0]!.a === '', String(rows[0]!.a));
      assert.ok(rows[0]!.b === null || rows[0]!.b === '', String(rows[0]!.b));
    });

    test('HARD-11 session characteristics and role settings are reset', async () => {
      const { samePid, rows } = await handOver<{ iso: string; ro: string }>(
        [
          'SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE',
          'SET default_transaction_read_only = off',
        ],
        "SELECT current_setting('default_transaction_isolation') AS iso, current_setting('default_transaction_read_only') AS ro",
      );
      assert.ok(samePid);
      assert.deepEqual(rows[0], { iso: 'read committed', ro: 'on' });
    });

    test('HARD-11 session advisory locks are released', async () => {
      const { samePid, rows } = await handOver<{ n: number }>(
        ['SELECT pg_advisory_lock(4242)', 'SELECT pg_advisory_lock_shared(4243)'],
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()",
      );
      assert.ok(samePid);
      assert.equal(rows[0]!.n, 0);
    });

    test('HARD-11 cursors WITH HOLD are closed', async () => {
      const { samePid, rows } = await handOver<{ n: number }>(
        ['DECLARE leftover CURSOR WITH HOLD FOR SELECT 1'],
        'SELECT count(*)::int AS n FROM pg_cursors',
      );
      assert.ok(samePid);
      assert.equal(rows[0]!.n, 0);
    });

    test('HARD-11 sequence state (currval, lastval) is gone', async () => {
      await once('admin', 'CREATE SEQUENCE IF NOT EXISTS hard11_seq');
      const a = await open('admin');
      const firstPid = (await a.query(pid)).rows[0].pid;
      await a.query("SELECT nextval('hard11_seq')");
      await a.end();
      const b = await open('writer2');
      try {
        assert.equal((await b.query(pid)).rows[0].pid, firstPid);
        await assert.rejects(b.query("SELECT currval('hard11_seq')"), { code: '55000' });
        await assert.rejects(b.query('SELECT lastval()'), { code: '55000' });
      } finally {
        await b.end();
      }
    });

    test('HARD-11 temporary tables leave no trace, the temporary schema included', async () => {
      const a = await open('admin');
      await a.query('CREATE TEMP TABLE hard11_scratch (v int)');
      await a.end();
      const rows = await once<{ schema: string; table: string | null }>(
        'writer2',
        "SELECT pg_my_temp_schema()::int8::text AS schema, to_regclass('pg_temp.hard11_scratch')::text AS table",
      );
      assert.deepEqual(rows[0], { schema: '0', table: null });
    });

    test('HARD-11 no transaction can be prepared to outlive its session', async () => {
      const client = await open('admin');
      try {
        await client.query('BEGIN');
        await assert.rejects(client.query("PREPARE TRANSACTION 'hard11'"), { code: '55000' });
        await client.query('ROLLBACK');
      } finally {
        await client.end();
      }
    });
  });
});

describe('HARD-05 a data directory too long for a Unix socket path', () => {
  test('HARD-05 the socket goes to a private temporary directory, removed at stop, and sessions work', async () => {
    const postern = await PosternProcess.start({
      env: { POSTERN_DATA_DIR: `data-${'x'.repeat(110)}`, POSTERN_LOG_LEVEL: 'info' },
    });
    let socketDir: string | undefined;
    try {
      const client = await postern.connect();
      // The gateway reaches PostgreSQL over the socket: no server port to show.
      assert.equal((await client.query('SELECT inet_server_port() AS port')).rows[0].port, null);
      await client.end();
      socketDir = /embedded PostgreSQL listening on 127\.0\.0\.1:\d+ and in (\S+)/.exec(
        stripVTControlCharacters(postern.logMessages),
      )?.[1];
      assert.match(socketDir ?? '', /postern-pg-/);
      assert.equal((await stat(socketDir!)).mode & 0o777, 0o700);
    } finally {
      await postern.dispose();
    }
    await assert.rejects(stat(socketDir!), { code: 'ENOENT' });
  });
});
