import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  checkClusterInvariants,
  checkDatabaseInvariants,
  provisionDatabase,
  repairRoleLogins,
} from '#engine';
import { psql } from '../support/clients';
import { ControlFixtures, type DatabaseFixture } from '../support/control-fixtures';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';

/**
 * The privilege cases (PRIV-*, docs/security.md) through the real gateway: read-only logins use
 * the database's reader role, read-write logins its writer role, and only
 * PostgreSQL's own privileges stand between them and a write. Every denied
 * attempt is followed by a superuser snapshot of everything a session could
 * have changed.
 */
describe('privileges: PRIV-* and LEAK-* through Postern', () => {
  const PASSWORD = 'privileges-test-password';
  let postern: PosternProcess;
  let ca: string;
  let fx: ControlFixtures;
  let main: DatabaseFixture;
  let vault: DatabaseFixture;

  before(async () => {
    postern = await PosternProcess.start();
    ca = await postern.ca();
    fx = await ControlFixtures.connect(postern);
    main = await fx.database('admin', 'main');
    for (const user of ['reader1', 'reader2', 'writer1', 'other']) {
      await fx.createUser(user, PASSWORD);
    }
    await fx.grant(main, 'reader1', 'read-only');
    await fx.grant(main, 'reader2', 'read-only');
    await fx.grant(main, 'writer1', 'read-write');
    vault = await fx.createDatabase('other', 'vault');

    const admin = await connect('admin', 'admin/main', ADMIN_PASSWORD);
    await admin.query(`
      CREATE TABLE t (id int PRIMARY KEY, v text);
      INSERT INTO t VALUES (1, 'one'), (2, 'two');
      CREATE SEQUENCE s;
      SELECT nextval('s');
      CREATE VIEW tv AS SELECT * FROM t;
      CREATE MATERIALIZED VIEW tm AS SELECT * FROM t;
      CREATE SCHEMA app;
      CREATE TABLE app.u (x int);
      INSERT INTO app.u VALUES (42);
      CREATE FUNCTION secdef_insert(text) RETURNS void LANGUAGE sql SECURITY DEFINER
        AS $$ INSERT INTO public.t SELECT max(id) + 1, $1 FROM public.t $$;
      CREATE PROCEDURE secdef_proc() LANGUAGE sql SECURITY DEFINER
        AS $$ DELETE FROM public.t $$;
      SELECT lo_from_bytea(0, 'owned by the writer');
    `);
    await admin.end();
    const other = await connect('other', 'other/vault');
    await other.query(`CREATE TABLE secrets (s text); INSERT INTO secrets VALUES ('top secret')`);
    await other.end();
  });

  after(async () => {
    await fx?.close();
    await postern?.dispose();
  });

  function client(
    user: string,
    database: string,
    password = PASSWORD,
    extra: pg.ClientConfig = {},
  ): pg.Client {
    return new pg.Client({
      host: 'localhost',
      port: postern.wirePort,
      user,
      password,
      database,
      ssl: { ca, servername: 'localhost' },
      ...extra,
    });
  }

  async function connect(user: string, database: string, password = PASSWORD): Promise<pg.Client> {
    const c = client(user, database, password);
    await c.connect();
    return c;
  }

  /** The SQLSTATE a statement fails with; fails the test when it succeeds. */
  async function failure(c: pg.Client, sql: string): Promise<string> {
    try {
      await c.query(sql);
    } catch (err) {
      return (err as { code?: string }).code ?? `no code: ${(err as Error).message}`;
    }
    assert.fail(`succeeded but must not: ${sql}`);
  }

  async function expectFailure(c: pg.Client, sql: string, codes: readonly string[]): Promise<void> {
    const code = await failure(c, sql);
    assert.ok(codes.includes(code), `${sql}\n  failed with ${code}, expected one of ${codes}`);
  }

  /** Runs `body` with a fresh read-only session and asserts nothing changed upstream. */
  async function asReader(
    body: (c: pg.Client) => Promise<void>,
    options: { readOnlyGuc?: 'on' | 'off' } = {},
  ): Promise<void> {
    const before = await fx.snapshot(main);
    const c = await connect('reader1', 'admin/main');
    try {
      if (options.readOnlyGuc === 'off') await c.query('SET default_transaction_read_only = off');
      await body(c);
    } finally {
      await c.end();
    }
    assert.equal(await fx.snapshot(main), before, 'a read-only session changed something');
  }

  const READ_ONLY_OR_DENIED = ['25006', '42501'];
  const DENIED = ['42501'];

  test('PRIV-T1 a read-only login reads tables, views, sequences and other schemas as the reader role', async () => {
    await asReader(async (c) => {
      const who = await c.query('SELECT current_user, session_user');
      assert.deepEqual(who.rows[0], {
        current_user: main.reader.role,
        session_user: main.reader.role,
      });
      assert.equal((await c.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 2);
      assert.equal((await c.query('SELECT count(*)::int AS n FROM tv')).rows[0].n, 2);
      assert.equal((await c.query('SELECT count(*)::int AS n FROM tm')).rows[0].n, 2);
      assert.equal((await c.query('SELECT x FROM app.u')).rows[0].x, 42);
      assert.equal((await c.query('SELECT last_value FROM s')).rows[0].last_value, '1');
      const show = await c.query('SHOW default_transaction_read_only');
      assert.equal(show.rows[0].default_transaction_read_only, 'on');
    });
  });

  test('PRIV-01 INSERT, UPDATE, DELETE, TRUNCATE and MERGE fail in the default read-only transaction', async () => {
    await asReader(async (c) => {
      for (const sql of [
        "INSERT INTO t VALUES (3, 'three')",
        "UPDATE t SET v = 'changed'",
        'DELETE FROM t',
        'TRUNCATE t',
        "MERGE INTO t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = 'm'",
        'INSERT INTO app.u VALUES (1)',
      ]) {
        await expectFailure(c, sql, ['25006']);
      }
    });
  });

  test('PRIV-02 with the read-only setting turned off every write still fails on privileges (42501)', async () => {
    const writes = [
      "INSERT INTO t VALUES (3, 'three')",
      "UPDATE t SET v = 'changed'",
      'DELETE FROM t',
      'TRUNCATE t',
      "MERGE INTO t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = 'm'",
      'INSERT INTO app.u VALUES (1)',
      "INSERT INTO tv VALUES (9, 'through the view')",
      "SELECT nextval('s')",
      "SELECT setval('s', 100)",
      'SELECT * FROM t FOR UPDATE',
      'SELECT * FROM t FOR KEY SHARE',
    ];
    await asReader(
      async (c) => {
        for (const sql of writes) await expectFailure(c, sql, DENIED);
      },
      { readOnlyGuc: 'off' },
    );
    await asReader(async (c) => {
      for (const sql of writes.slice(0, 3)) {
        await c.query('BEGIN READ WRITE');
        await expectFailure(c, sql, DENIED);
        await c.query('ROLLBACK');
      }
      await c.query('SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE');
      await expectFailure(c, "INSERT INTO t VALUES (3, 'three')", DENIED);
      await c.query('BEGIN');
      await expectFailure(c, 'LOCK TABLE t IN ACCESS EXCLUSIVE MODE', DENIED);
      await c.query('ROLLBACK');
    });
  });

  test('PRIV-13 DDL (CREATE TABLE/FUNCTION/VIEW/INDEX, ALTER, DROP, COMMENT, GRANT, REFRESH) fails', async () => {
    const ddl = [
      'CREATE TABLE evil (x int)',
      'CREATE TABLE public.evil (x int)',
      'CREATE TABLE app.evil (x int)',
      'CREATE FUNCTION evil() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
      'CREATE VIEW evil AS SELECT 1',
      'CREATE INDEX evil ON t (v)',
      'ALTER TABLE t ADD COLUMN evil int',
      'ALTER TABLE t OWNER TO CURRENT_USER',
      'ALTER SEQUENCE s RESTART',
      'DROP TABLE t',
      'DROP VIEW tv',
      'DROP FUNCTION secdef_insert(text)',
      "COMMENT ON TABLE t IS 'evil'",
      'REFRESH MATERIALIZED VIEW tm',
      'CREATE TYPE evil AS (x int)',
      'CREATE POLICY evil ON t USING (true)',
    ];
    await asReader(async (c) => {
      for (const sql of ddl) await expectFailure(c, sql, READ_ONLY_OR_DENIED);
    });
    await asReader(
      async (c) => {
        for (const sql of ddl) await expectFailure(c, sql, DENIED);
        // Holding SELECT (without grant option), GRANT only warns "no privileges were granted".
        for (const sql of ['GRANT INSERT ON t TO CURRENT_USER', 'GRANT ALL ON t TO PUBLIC']) {
          await c.query(sql).catch((err: { code?: string }) => {
            assert.ok(DENIED.includes(err.code ?? ''), sql);
          });
        }
      },
      { readOnlyGuc: 'off' },
    );
  });

  test('PRIV-14 CREATE SCHEMA and CREATE EXTENSION (trusted or not) fail', async () => {
    const statements = [
      'CREATE SCHEMA evil',
      'CREATE EXTENSION pgcrypto',
      'CREATE EXTENSION dblink',
      'CREATE EXTENSION postgres_fdw',
    ];
    await asReader(async (c) => {
      for (const sql of statements) await expectFailure(c, sql, READ_ONLY_OR_DENIED);
    });
    await asReader(
      async (c) => {
        for (const sql of statements) await expectFailure(c, sql, DENIED);
      },
      { readOnlyGuc: 'off' },
    );
  });

  test('PRIV-15 CREATE TEMP TABLE fails (no TEMPORARY on the database)', async () => {
    await asReader(async (c) => {
      await expectFailure(c, 'CREATE TEMP TABLE tt (x int)', READ_ONLY_OR_DENIED);
    });
    await asReader(
      async (c) => {
        await expectFailure(c, 'CREATE TEMP TABLE tt (x int)', DENIED);
        await expectFailure(c, 'CREATE TABLE pg_temp.tt (x int)', DENIED);
        await expectFailure(c, 'CREATE TEMP VIEW tv2 AS SELECT 1', DENIED);
      },
      { readOnlyGuc: 'off' },
    );
  });

  test('PRIV-08 PRIV-09 COPY FROM STDIN, TO/FROM PROGRAM and server files fail; COPY TO STDOUT reads', async () => {
    await asReader(
      async (c) => {
        for (const sql of [
          "COPY t TO PROGRAM 'id'",
          "COPY t FROM PROGRAM 'id'",
          "COPY t FROM '/etc/passwd'",
          "COPY t TO '/tmp/postern-priv-09.csv'",
          'COPY t FROM STDIN',
        ]) {
          await expectFailure(c, sql, DENIED);
        }
      },
      { readOnlyGuc: 'off' },
    );
    const before = await fx.snapshot(main);
    const conninfo = postern.conninfo('reader1', 'admin/main');
    for (const guc of ['on', 'off']) {
      const result = await psql(
        conninfo,
        PASSWORD,
        [
          '\\set VERBOSITY verbose',
          `SET default_transaction_read_only = ${guc};`,
          'COPY t FROM STDIN;',
          '7\tseven',
          '\\.',
        ].join('\n'),
      );
      assert.notEqual(result.code, 0);
      // The privilege check comes first, so 42501 even while read-only.
      const expected = guc === 'on' ? '(25006|42501)' : '42501';
      assert.match(result.stderr, new RegExp(`ERROR:  ${expected}:`), result.stderr);
    }
    const copyOut = await psql(
      conninfo,
      PASSWORD,
      'COPY (SELECT id FROM t ORDER BY id) TO STDOUT;',
    );
    assert.equal(copyOut.code, 0, copyOut.stderr);
    assert.equal(copyOut.stdout, '1\n2\n');
    assert.equal(await fx.snapshot(main), before);
  });

  test('PRIV-10 PRIV-11 server file functions and server-side lo_import/lo_export fail', async () => {
    await asReader(
      async (c) => {
        for (const sql of [
          "SELECT pg_read_file('/etc/passwd')",
          "SELECT pg_read_binary_file('/etc/passwd')",
          "SELECT pg_ls_dir('.')",
          "SELECT pg_stat_file('postgresql.conf')",
          "SELECT lo_import('/etc/passwd')",
          "SELECT lo_import('/etc/passwd', 99999)",
          "SELECT lo_export(0, '/tmp/postern-priv-11')",
        ]) {
          await expectFailure(c, sql, DENIED);
        }
      },
      { readOnlyGuc: 'off' },
    );
  });

  test('PRIV-12 large-object writers fail, with the read-only setting on and off', async () => {
    const { rows } = await fx.superuser(main.physicalName, (su) =>
      su.query<{ oid: string }>('SELECT oid::int8 AS oid FROM pg_largeobject_metadata LIMIT 1'),
    );
    const existing = rows[0]!.oid;
    const writers = [
      'SELECT lo_create(0)',
      'SELECT lo_creat(-1)',
      "SELECT lo_from_bytea(0, 'payload')",
      `SELECT lo_put(${existing}, 0, 'overwritten')`,
      `SELECT lo_unlink(${existing})`,
      `SELECT lowrite(lo_open(${existing}, 131072), 'x')`,
      `SELECT lo_truncate(lo_open(${existing}, 131072), 0)`,
      `SELECT lo_truncate64(lo_open(${existing}, 131072), 0)`,
      "SELECT pg_logical_emit_message(true, 'postern', 'payload')",
    ];
    for (const readOnlyGuc of ['on', 'off'] as const) {
      await asReader(
        async (c) => {
          for (const sql of writers) {
            await c.query('BEGIN');
            await expectFailure(c, sql, DENIED);
            await c.query('ROLLBACK');
          }
        },
        { readOnlyGuc },
      );
    }
  });

  test('PRIV-12 psql \\lo_import (fastpath lo_creat/lowrite) fails', async () => {
    const before = await fx.snapshot(main);
    const result = await psql(
      postern.conninfo('reader1', 'admin/main'),
      PASSWORD,
      '\\set VERBOSITY verbose\nSET default_transaction_read_only = off;\n\\lo_import /etc/passwd\n',
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /permission denied for function lo_creat/);
    assert.equal(await fx.snapshot(main), before);
  });

  test('PRIV-05 SECURITY DEFINER routines of the writer cannot be called', async () => {
    for (const readOnlyGuc of ['on', 'off'] as const) {
      await asReader(
        async (c) => {
          await expectFailure(c, "SELECT secdef_insert('via secdef')", DENIED);
          await expectFailure(c, 'CALL secdef_proc()', DENIED);
        },
        { readOnlyGuc },
      );
    }
    const { rows } = await fx.superuser(main.physicalName, (su) =>
      su.query<{ n: number }>('SELECT count(*)::int AS n FROM public.t'),
    );
    assert.equal(rows[0]!.n, 2);
  });

  test('PRIV-06 PRIV-07 SET ROLE and SET SESSION AUTHORIZATION to anything stronger fail', async () => {
    await asReader(async (c) => {
      for (const target of [main.writer.role, 'postgres', vault.writer.role, vault.reader.role]) {
        await expectFailure(c, `SET ROLE "${target}"`, DENIED);
        await expectFailure(c, `SELECT set_config('role', '${target}', false)`, DENIED);
        await expectFailure(c, `SET SESSION AUTHORIZATION "${target}"`, DENIED);
      }
      for (const predefined of [
        'pg_write_all_data',
        'pg_execute_server_program',
        'pg_signal_backend',
      ]) {
        await expectFailure(c, `SET ROLE ${predefined}`, DENIED);
      }
    });
  });

  test('PRIV-18 PRIV-19 ALTER SYSTEM and superuser-only settings fail', async () => {
    await asReader(
      async (c) => {
        for (const sql of [
          "ALTER SYSTEM SET log_statement = 'all'",
          'ALTER SYSTEM RESET ALL',
          'SET session_replication_role = replica',
          "SET log_statement = 'none'",
          "LOAD 'auto_explain'",
          'SELECT pg_reload_conf()',
          'CHECKPOINT',
        ]) {
          await expectFailure(c, sql, DENIED);
        }
      },
      { readOnlyGuc: 'off' },
    );
  });

  test('PRIV-16 PRIV-17 dblink and postgres_fdw are not installed and cannot be', async () => {
    await asReader(
      async (c) => {
        await expectFailure(
          c,
          "SELECT * FROM dblink('host=127.0.0.1 dbname=postgres', 'SELECT 1') AS t(x int)",
          ['42883'],
        );
        await expectFailure(c, 'CREATE EXTENSION dblink', DENIED);
        await expectFailure(c, 'CREATE SERVER evil FOREIGN DATA WRAPPER postgres_fdw', ['42704']);
      },
      { readOnlyGuc: 'off' },
    );
    const { rows } = await fx.superuser(main.physicalName, (su) =>
      su.query('SELECT extname FROM pg_extension ORDER BY 1'),
    );
    assert.deepEqual(
      rows.map((row) => row.extname),
      ['plpgsql'],
    );
  });

  test('PRIV-20 neither role is a member of any predefined role', async () => {
    for (const user of ['reader1', 'writer1']) {
      const c = await connect(user, 'admin/main');
      const { rows } = await c.query<{ role: string; member: boolean }>(
        `SELECT rolname AS role, pg_has_role(current_user, oid, 'MEMBER') AS member
           FROM pg_roles WHERE rolname <> current_user ORDER BY 1`,
      );
      await c.end();
      assert.ok(rows.some((row) => row.role === 'pg_read_server_files'));
      // The owner of the current database is implicitly pg_database_owner (PG 15).
      const implicit = user === 'writer1' ? ['pg_database_owner'] : [];
      assert.deepEqual(
        rows.filter((row) => row.member).map((row) => row.role),
        implicit,
        `${user} is a member of roles`,
      );
    }
  });

  test('PRIV-21 a read-only session cannot cancel or terminate the writer or the superuser', async () => {
    const writer = await connect('writer1', 'admin/main');
    const writerPid = (await writer.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const superPid = await fx.superuser('postgres', async (su) => {
      const pid = (await su.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      await asReader(async (c) => {
        for (const pid2 of [writerPid, pid]) {
          await expectFailure(c, `SELECT pg_cancel_backend(${pid2})`, DENIED);
          await expectFailure(c, `SELECT pg_terminate_backend(${pid2})`, DENIED);
        }
      });
      return pid;
    });
    assert.ok(superPid > 0);
    assert.equal((await writer.query('SELECT 1 AS one')).rows[0].one, 1);
    await writer.end();
  });

  test('PRIV-23 the identity stays the reader role after RESET ROLE, RESET SESSION AUTHORIZATION, DISCARD ALL, RESET ALL', async () => {
    await asReader(async (c) => {
      for (const sql of [
        'RESET ROLE',
        'SET ROLE NONE',
        'RESET SESSION AUTHORIZATION',
        'SET SESSION AUTHORIZATION DEFAULT',
        'DISCARD ALL',
        'RESET ALL',
      ]) {
        await c.query(sql);
        const who = await c.query('SELECT current_user, session_user');
        assert.deepEqual(
          who.rows[0],
          { current_user: main.reader.role, session_user: main.reader.role },
          sql,
        );
      }
      await expectFailure(c, "INSERT INTO t VALUES (3, 'three')", READ_ONLY_OR_DENIED);
    });
  });

  test('PRIV-03 ALTER ROLE CURRENT_USER SET: refused while read-only; persisted settings give no write and provisioning removes them', async () => {
    await asReader(async (c) => {
      await expectFailure(c, 'ALTER ROLE CURRENT_USER SET default_transaction_read_only = off', [
        '25006',
      ]);
      await expectFailure(c, "ALTER ROLE CURRENT_USER PASSWORD 'mine'", ['25006']);
    });

    // PostgreSQL 15 lets any role change its own role-level settings once the
    // session is read-write (the catalogue's PRIV-03): it cannot be refused.
    const c = await connect('reader1', 'admin/main');
    await c.query('SET default_transaction_read_only = off');
    await c.query('ALTER ROLE CURRENT_USER SET default_transaction_read_only = off');
    await c.query(
      `ALTER ROLE CURRENT_USER IN DATABASE "${main.physicalName}" SET work_mem = '1MB'`,
    );
    await c.end();
    // A new backend of the reader role starts read-write now (straight
    // upstream: the gateway may hand out an upstream session started earlier) ...
    const direct = fx.upstreamClient(main.physicalName, main.reader);
    await direct.connect();
    assert.equal(
      (await direct.query('SHOW default_transaction_read_only')).rows[0]
        .default_transaction_read_only,
      'off',
    );
    // ... and still cannot write: privileges, not the setting, are the boundary.
    await expectFailure(direct, "INSERT INTO t VALUES (3, 'three')", DENIED);
    await expectFailure(direct, 'CREATE TEMP TABLE tt (x int)', DENIED);
    await expectFailure(direct, 'SELECT lo_create(0)', DENIED);
    await direct.end();
    const again = await connect('reader1', 'admin/main');
    await expectFailure(again, "INSERT INTO t VALUES (3, 'three')", READ_ONLY_OR_DENIED);
    await again.end();

    await assert.rejects(checkDatabaseInvariants(fx.endpoint, main), (err: Error) => {
      assert.match(
        err.message,
        /role \S+_reader has settings \{default_transaction_read_only=off\}/,
      );
      assert.match(err.message, /role \S+_reader has settings \{work_mem=1MB\} in database/);
      return true;
    });
    await provisionDatabase(fx.endpoint, main);
    await checkDatabaseInvariants(fx.endpoint, main);
    const restored = fx.upstreamClient(main.physicalName, main.reader);
    await restored.connect();
    assert.equal(
      (await restored.query('SHOW default_transaction_read_only')).rows[0]
        .default_transaction_read_only,
      'on',
    );
    assert.equal((await restored.query('SHOW work_mem')).rows[0].work_mem, '4MB');
    await restored.end();
  });

  test('PRIV-03 a read-only login that persists a lock-out setting or its own password is detected and repaired by provisioning', async () => {
    const c = await connect('reader1', 'admin/main');
    await c.query('SET default_transaction_read_only = off');
    await c.query("ALTER ROLE CURRENT_USER SET local_preload_libraries = 'nonexistent'");
    await c.query("ALTER ROLE CURRENT_USER PASSWORD 'known-to-the-reader'");
    await c.end();

    // Every read-only login of this database shares the role: reader2 is
    // locked out until provisioning repairs it, and learns nothing upstream.
    const locked = fx.upstreamClient(main.physicalName, main.reader);
    await assert.rejects(locked.connect(), { code: '28P01' });
    // Through Postern: a pooled upstream session may still serve reader2; a new
    // one fails with the gateway's own message, never the upstream's.
    const viaPostern = client('reader2', 'admin/main');
    const outcome = await viaPostern.connect().then(
      () => 'connected',
      (err: { code?: string; message: string }) => `${err.code}: ${err.message}`,
    );
    if (outcome === 'connected') await viaPostern.end();
    else assert.equal(outcome, '08006: could not connect to the database server');
    await assert.rejects(checkDatabaseInvariants(fx.endpoint, main), (err: Error) => {
      assert.match(
        err.message,
        /_reader has a password other than the one the control plane holds/,
      );
      assert.match(err.message, /local_preload_libraries=nonexistent/);
      return true;
    });
    // The quick repair (roles only) lets every reader in again, new backends included ...
    await repairRoleLogins(fx.endpoint, main);
    const direct = fx.upstreamClient(main.physicalName, main.reader);
    await direct.connect();
    await direct.end();
    const reader2 = await connect('reader2', 'admin/main');
    assert.equal((await reader2.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 2);
    await reader2.end();
    // ... and full provisioning finds nothing left to repair.
    await checkDatabaseInvariants(fx.endpoint, main);
    await provisionDatabase(fx.endpoint, main);
  });

  test('read-write: DDL, DML, temporary tables and large objects in its own database', async () => {
    const c = await connect('writer1', 'admin/main');
    const who = await c.query('SELECT current_user');
    assert.equal(who.rows[0].current_user, main.writer.role);
    await c.query(`
      CREATE TABLE rw (id serial PRIMARY KEY, v text);
      INSERT INTO rw (v) VALUES ('a'), ('b');
      UPDATE rw SET v = 'c' WHERE id = 1;
      DELETE FROM rw WHERE id = 2;
      ALTER TABLE rw ADD COLUMN w int;
      CREATE FUNCTION rw_count() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM rw';
      CREATE TEMP TABLE tmp (x int);
      INSERT INTO tmp VALUES (1);
    `);
    assert.equal((await c.query('SELECT rw_count() AS n')).rows[0].n, '1');
    const lo = await c.query("SELECT lo_from_bytea(0, 'writer data') AS oid");
    assert.equal(
      (await c.query('SELECT convert_from(lo_get($1), $2) AS v', [lo.rows[0].oid, 'UTF8'])).rows[0]
        .v,
      'writer data',
    );
    await c.query('SELECT lo_unlink($1)', [lo.rows[0].oid]);
    await c.query('DROP FUNCTION rw_count(); DROP TABLE rw');
    await c.end();
    // The writer's new function is not executable by PUBLIC (default privileges).
    await checkDatabaseInvariants(fx.endpoint, main);
  });

  test('PRIV-T3 a read-write login reaches no other database through Postern, by any name (3D000)', async () => {
    for (const database of [
      'other/vault',
      'vault',
      vault.physicalName,
      'postgres',
      'template0',
      'template1',
      'postern_control',
    ]) {
      const outcome = await client('writer1', database)
        .connect()
        .then(
          () => 'connected',
          (err: { code?: string }) => err.code,
        );
      assert.equal(outcome, '3D000', database);
    }
    // Its own database, by the physical name current_database() shows, is reachable.
    const own = client('writer1', main.physicalName);
    await own.connect();
    assert.equal(
      (await own.query('SELECT current_database() AS db')).rows[0].db,
      main.physicalName,
    );
    await own.end();
  });

  test('PRIV-T3 upstream, the roles have CONNECT on their own database only', async () => {
    for (const role of [main.writer, main.reader, vault.writer, vault.reader]) {
      const own = role === main.writer || role === main.reader ? main : vault;
      const others = [
        own === main ? vault.physicalName : main.physicalName,
        'postgres',
        'template1',
        'postern_control',
      ];
      for (const database of others) {
        const c = fx.upstreamClient(database, role);
        const outcome = await c.connect().then(
          async () => {
            await c.end();
            return 'connected';
          },
          (err: { code?: string }) => err.code,
        );
        assert.equal(outcome, '42501', `${role.role} -> ${database}`);
      }
      const c = fx.upstreamClient(own.physicalName, role);
      await c.connect();
      await c.end();
    }
  });

  test('a read-write login cannot read another tenant by any route', async () => {
    const c = await connect('writer1', 'admin/main');
    await expectFailure(c, `SELECT * FROM "${vault.physicalName}".public.secrets`, ['0A000']);
    await expectFailure(c, `SELECT pg_database_size('${vault.physicalName}')`, DENIED);
    await expectFailure(c, "SELECT pg_database_size('postern_control')", DENIED);
    await expectFailure(
      c,
      `SELECT * FROM dblink('dbname=${vault.physicalName}', 'SELECT s FROM secrets') AS t(s text)`,
      ['42883'],
    );
    for (const extension of ['dblink', 'postgres_fdw', 'file_fdw', 'adminpack']) {
      await expectFailure(c, `CREATE EXTENSION ${extension}`, DENIED);
    }
    await expectFailure(c, "COPY (SELECT 1) TO PROGRAM 'cat /etc/passwd'", DENIED);
    await expectFailure(c, "SELECT pg_read_file('base/1/1259')", DENIED);
    await c.end();
  });

  test('a read-write login cannot become superuser or gain any cluster privilege', async () => {
    const before = await fx.superuser('postgres', (su) =>
      su.query('SELECT * FROM pg_roles WHERE rolname = $1', [main.writer.role]),
    );
    const c = await connect('writer1', 'admin/main');
    for (const sql of [
      'ALTER ROLE CURRENT_USER SUPERUSER',
      'ALTER ROLE CURRENT_USER CREATEDB',
      'ALTER ROLE CURRENT_USER CREATEROLE',
      'ALTER ROLE CURRENT_USER REPLICATION',
      'ALTER ROLE CURRENT_USER BYPASSRLS',
      'ALTER ROLE CURRENT_USER INHERIT',
      "ALTER ROLE CURRENT_USER VALID UNTIL 'infinity'",
      `ALTER ROLE "${main.reader.role}" PASSWORD 'x'`,
      'CREATE ROLE evil',
      'GRANT postgres TO CURRENT_USER',
      `GRANT "${main.writer.role}" TO "${main.reader.role}"`,
      `GRANT "${vault.writer.role}" TO CURRENT_USER`,
      'GRANT pg_execute_server_program TO CURRENT_USER',
      'GRANT pg_read_server_files TO CURRENT_USER',
      'GRANT pg_signal_backend TO CURRENT_USER',
      'SET ROLE postgres',
      'SET SESSION AUTHORIZATION postgres',
      "CREATE FUNCTION evil() RETURNS int LANGUAGE c AS 'libc.so.6', 'getpid'",
      "CREATE FUNCTION evil() RETURNS int LANGUAGE internal AS 'pg_backend_pid'",
      "LOAD 'auto_explain'",
      "ALTER SYSTEM SET shared_preload_libraries = 'auto_explain'",
      'CREATE EVENT TRIGGER evil ON ddl_command_start EXECUTE FUNCTION pg_catalog.pg_backend_pid()',
      "CREATE SUBSCRIPTION evil CONNECTION 'dbname=postgres' PUBLICATION p",
      'CREATE FOREIGN DATA WRAPPER evil',
      "CREATE TABLESPACE evil LOCATION '/tmp'",
      `ALTER DATABASE "${main.physicalName}" RENAME TO evil`,
      `ALTER DATABASE "${main.physicalName}" OWNER TO "${main.reader.role}"`,
      `GRANT CONNECT ON DATABASE "${vault.physicalName}" TO CURRENT_USER`,
      'SET session_replication_role = replica',
      'CHECKPOINT',
      'SELECT pg_reload_conf()',
      "SELECT pg_create_logical_replication_slot('evil', 'pgoutput')",
    ]) {
      await expectFailure(c, sql, DENIED);
    }
    await c.end();
    const afterwards = await fx.superuser('postgres', (su) =>
      su.query('SELECT * FROM pg_roles WHERE rolname = $1', [main.writer.role]),
    );
    assert.deepEqual(afterwards.rows, before.rows);
    assert.equal(before.rows[0].rolsuper, false);
    await checkDatabaseInvariants(fx.endpoint, main);
  });

  test("PRIV-21 a writer cannot cancel or terminate another tenant's backend", async () => {
    const other = await connect('other', 'other/vault');
    const pid = (await other.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const writer = await connect('writer1', 'admin/main');
    const seen = await writer.query('SELECT usename FROM pg_stat_activity WHERE pid = $1', [pid]);
    assert.equal(seen.rows[0]?.usename, vault.writer.role, 'the pid is the other tenant backend');
    await expectFailure(writer, `SELECT pg_cancel_backend(${pid})`, DENIED);
    await expectFailure(writer, `SELECT pg_terminate_backend(${pid})`, DENIED);
    await writer.end();
    assert.equal((await other.query('SELECT s FROM secrets')).rows[0].s, 'top secret');
    await other.end();
  });

  test('PRIV-T2 the provisioning invariants hold for every database and the cluster', async () => {
    await checkDatabaseInvariants(fx.endpoint, main);
    await checkDatabaseInvariants(fx.endpoint, vault);
    await checkClusterInvariants(fx.endpoint);
  });

  test('LEAK-T1 what another tenant sees on the shared cluster: opaque names, no queries, no sizes, no secrets', async () => {
    const other = client('other', 'other/vault', PASSWORD, { application_name: 'vault_app' });
    await other.connect();
    await other.query("SELECT 'other tenant query text'");
    const pid = (await other.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;

    const c = await connect('reader1', 'admin/main');
    const activity = await c.query(
      `SELECT datname, usename, application_name, query, client_addr, backend_start, state
         FROM pg_stat_activity WHERE pid = $1`,
      [pid],
    );
    assert.equal(activity.rows.length, 1);
    const row = activity.rows[0];
    assert.equal(row.query, '<insufficient privilege>');
    assert.equal(row.client_addr, null);
    assert.equal(row.backend_start, null);
    assert.equal(row.state, null);
    // Names say nothing about the tenant: no slug, no database name.
    assert.match(row.datname, /^pdb_[0-9a-f]{16}$/);
    assert.match(row.usename, /^pdb_[0-9a-f]{16}_writer$/);
    // Documented and accepted (README): application_name is visible to every tenant.
    assert.equal(row.application_name, 'vault_app');
    const names = await c.query(
      `SELECT datname AS name FROM pg_database UNION ALL SELECT rolname FROM pg_roles`,
    );
    for (const { name } of names.rows as { name: string }[]) {
      assert.doesNotMatch(name, /vault|other|admin|main|reader1|writer1/, name);
    }
    const settings = await c.query('SELECT setconfig FROM pg_db_role_setting');
    assert.deepEqual(
      settings.rows.map((r) => r.setconfig),
      [['default_transaction_read_only=on'], ['default_transaction_read_only=on']],
    );
    await expectFailure(c, `SELECT pg_database_size('${vault.physicalName}')`, DENIED);
    await expectFailure(c, 'SELECT rolpassword FROM pg_authid', DENIED);
    await expectFailure(c, 'SHOW data_directory', DENIED);
    await expectFailure(c, 'SHOW hba_file', DENIED);
    await c.end();
    await other.end();
  });
});
