import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import {
  checkClusterInvariants,
  checkDatabaseInvariants,
  dropDatabase,
  hardenExistingDatabases,
  newPhysicalDatabase,
  prepareCluster,
  provisionDatabase,
  ProvisioningInvariantError,
  type PhysicalDatabase,
} from '#engine';
import { ControlFixtures } from '../support/control-fixtures';
import { PosternProcess } from '../support/postern-process';

/**
 * Provisioning as the guard of the privilege model (docs/security.md PRIV-T2,
 * PRIV-T3): the invariant check fails loudly, naming each broken invariant;
 * provisioning converges from broken, half-done and older states; and a
 * tenant's own database settings and objects cannot hijack the superuser
 * sessions that provisioning runs in that database.
 */
describe('privileges: provisioning invariants and convergence', () => {
  const PASSWORD = 'provisioning-test-password';
  let postern: PosternProcess;
  let ca: string;
  let fx: ControlFixtures;

  before(async () => {
    postern = await PosternProcess.start();
    ca = await postern.ca();
    fx = await ControlFixtures.connect(postern);
    for (const user of ['alice', 'bob', 'mallory']) await fx.createUser(user, PASSWORD);
  });

  after(async () => {
    await fx?.close();
    await postern?.dispose();
  });

  async function connect(user: string, database: string): Promise<pg.Client> {
    const c = new pg.Client({
      host: 'localhost',
      port: postern.wirePort,
      user,
      password: PASSWORD,
      database,
      ssl: { ca, servername: 'localhost' },
    });
    await c.connect();
    return c;
  }

  async function violationsOf(check: Promise<void>): Promise<readonly string[]> {
    try {
      await check;
    } catch (err) {
      assert.ok(err instanceof ProvisioningInvariantError, String(err));
      return err.violations;
    }
    assert.fail('the invariant check passed but must not');
  }

  function expectViolations(found: readonly string[], expected: readonly string[]): void {
    for (const violation of expected) {
      assert.ok(found.includes(violation), `missing "${violation}" in:\n${found.join('\n')}`);
    }
  }

  const su = (db: string, sql: string) => fx.superuser(db, (c) => c.query(sql));
  /** One statement at a time (CREATE DATABASE refuses a multi-statement query). */
  const suEach = (db: string, statements: readonly string[]) =>
    fx.superuser(db, async (c) => {
      for (const sql of statements) await c.query(sql);
    });

  test('PRIV-T2 the check names every broken invariant; provisioning converges them all', async () => {
    const db = await fx.createDatabase('alice', 'broken');
    const other = await fx.createDatabase('bob', 'neighbour');
    await checkDatabaseInvariants(fx.endpoint, db);
    const { physicalName: name, writer, reader } = db;
    const W = writer.role;
    const R = reader.role;
    await su(
      'postgres',
      `ALTER ROLE "${R}" CREATEDB CREATEROLE INHERIT;
       ALTER ROLE "${W}" BYPASSRLS REPLICATION;
       GRANT pg_read_server_files TO "${R}";
       GRANT pg_signal_backend TO "${W}";
       GRANT "${W}" TO "${R}";
       GRANT CONNECT ON DATABASE "${other.physicalName}" TO "${W}";
       GRANT CONNECT, TEMPORARY ON DATABASE "${name}" TO PUBLIC;
       GRANT TEMPORARY, CREATE ON DATABASE "${name}" TO "${R}";
       GRANT CONNECT ON DATABASE "${name}" TO "${other.reader.role}";
       GRANT SET ON PARAMETER log_statement TO "${R}";
       ALTER ROLE "${R}" SET search_path = 'nowhere';
       ALTER ROLE "${W}" IN DATABASE "${name}" SET work_mem = '1MB';
       ALTER ROLE "${R}" PASSWORD 'not-the-control-plane-one';
       ALTER DATABASE "${name}" IS_TEMPLATE true;
       ALTER DATABASE "${name}" SET role = "${W}";`,
    );
    await su(
      name,
      `SET ROLE "${W}";
       CREATE TABLE public.t (id int, v text);
       CREATE SEQUENCE public.s;
       CREATE FUNCTION public.secdef() RETURNS void LANGUAGE sql SECURITY DEFINER
         AS $$ DELETE FROM public.t $$;
       GRANT EXECUTE ON FUNCTION public.secdef() TO PUBLIC;
       GRANT INSERT ON public.t TO "${R}";
       GRANT UPDATE (v) ON public.t TO "${R}";
       GRANT USAGE ON SEQUENCE public.s TO "${R}";
       GRANT CREATE ON SCHEMA public TO "${R}";
       ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC;
       ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT INSERT ON TABLES TO "${R}";
       RESET ROLE;
       GRANT EXECUTE ON FUNCTION pg_catalog.lo_create(oid) TO PUBLIC;
       GRANT EXECUTE ON FUNCTION pg_catalog.lo_import(text) TO "${W}";
       SELECT pg_catalog.lo_from_bytea(4242, 'reader data');
       ALTER LARGE OBJECT 4242 OWNER TO "${R}";
       CREATE TABLE public.readers_own (x int);
       ALTER TABLE public.readers_own OWNER TO "${R}";`,
    );
    const found = await violationsOf(checkDatabaseInvariants(fx.endpoint, db));
    expectViolations(found, [
      `role ${R} has CREATEDB`,
      `role ${R} has CREATEROLE`,
      `role ${R} has INHERIT`,
      `role ${W} has REPLICATION`,
      `role ${W} has BYPASSRLS`,
      `role ${R} is a member of role pg_read_server_files`,
      `role ${W} is a member of role pg_signal_backend`,
      `role ${R} is a member of role ${W}`,
      `role ${R} may SET parameter log_statement`,
      `PUBLIC has CONNECT on database ${name}`,
      `PUBLIC has TEMPORARY on database ${name}`,
      `database ${name} is a template`,
      `database ${name} grants CONNECT to role ${other.reader.role}`,
      `role ${W} has CONNECT on database ${other.physicalName}`,
      `role ${R} has TEMPORARY on database ${name}`,
      `role ${R} has CREATE on database ${name}`,
      `role ${W} has privileges on database ${other.physicalName} in the cluster`,
      `role ${R} has settings {default_transaction_read_only=on,search_path=nowhere}`,
      `role ${W} has settings {work_mem=1MB} in database ${name}`,
      `role ${R} has a password other than the one the control plane holds`,
      `database ${name} has setting role=${W}`,
      `role ${R} may CREATE in schema public`,
      `role ${R} may execute SECURITY DEFINER routine public.secdef()`,
      `PUBLIC may execute pg_catalog.lo_create(oid)`,
      `role ${R} may execute pg_catalog.lo_create(oid)`,
      `role ${W} may execute pg_catalog.lo_import(text)`,
      `role ${R} may write to relation public.t`,
      `role ${R} may write to sequence public.s`,
      `default privileges of ${W} still give EXECUTE on new functions to PUBLIC`,
      `default privileges of ${W} in schema public give INSERT on new tables to ${R}`,
      `role ${R} owns large object 4242 in database ${name}`,
      `role ${R} owns table public.readers_own in database ${name}`,
    ]);

    await provisionDatabase(fx.endpoint, db);
    await checkDatabaseInvariants(fx.endpoint, db);
    await checkDatabaseInvariants(fx.endpoint, other);
    // Converged without destroying the tenant's data: ownership moved to the writer.
    const owners = await fx.superuser(name, (c) =>
      c.query(
        `SELECT pg_get_userbyid(lomowner) AS owner FROM pg_largeobject_metadata WHERE oid = 4242
         UNION ALL SELECT pg_get_userbyid(relowner) FROM pg_class WHERE relname = 'readers_own'`,
      ),
    );
    assert.deepEqual(
      owners.rows.map((row) => row.owner),
      [W, W],
    );
    // And the logins work with the control plane's passwords.
    await fx.grant(db, 'bob', 'read-only');
    const readOnly = await connect('bob', 'alice/broken');
    assert.equal((await readOnly.query('SELECT current_user')).rows[0].current_user, R);
    await readOnly.end();
    const owner = await connect('alice', 'alice/broken');
    assert.equal((await owner.query('SELECT current_user')).rows[0].current_user, W);
    await owner.end();
  });

  test('PRIV-17 a server-side connector extension installed by hand fails provisioning loudly', async () => {
    const db = await fx.createDatabase('alice', 'with-dblink');
    await su(db.physicalName, 'CREATE EXTENSION dblink SCHEMA public');
    await assert.rejects(provisionDatabase(fx.endpoint, db), (err: Error) => {
      assert.ok(err instanceof ProvisioningInvariantError);
      assert.deepEqual(err.violations, ['extension dblink is installed']);
      return true;
    });
    await su(db.physicalName, 'DROP EXTENSION dblink');
    await provisionDatabase(fx.endpoint, db);
  });

  test("a tenant's ALTER DATABASE settings and catalog look-alikes cannot hijack the superuser sessions of provisioning", async () => {
    const db = await fx.createDatabase('mallory', 'trap');
    const W = db.writer.role;
    const owner = await connect('mallory', 'mallory/trap');
    await owner.query(`
      CREATE TABLE trap_log (who name, via text);
      GRANT INSERT ON trap_log TO PUBLIC;
      CREATE FUNCTION trap(via text) RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN
        INSERT INTO public.trap_log VALUES (current_user, via);
        IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
          EXECUTE format('ALTER ROLE %I SUPERUSER', '${W}');
        END IF;
        RETURN true;
      END $$;
      GRANT EXECUTE ON FUNCTION trap(text) TO PUBLIC;
      CREATE FUNCTION oideq(a oid, b oid) RETURNS boolean LANGUAGE sql
        AS $$ SELECT public.trap('=') AND a OPERATOR(pg_catalog.=) b $$;
      CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = oid, FUNCTION = public.oideq);
      CREATE FUNCTION texteq(a text, b text) RETURNS boolean LANGUAGE sql
        AS $$ SELECT public.trap('text =') AND a OPERATOR(pg_catalog.=) b $$;
      CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.texteq);
      CREATE FUNCTION pg_get_userbyid(oid) RETURNS name LANGUAGE sql
        AS $$ SELECT CASE WHEN public.trap('pg_get_userbyid') THEN pg_catalog.pg_get_userbyid($1) END $$;
      CREATE FUNCTION quote_ident(text) RETURNS text LANGUAGE sql
        AS $$ SELECT CASE WHEN public.trap('quote_ident') THEN pg_catalog.quote_ident($1) END $$;
      CREATE FUNCTION has_function_privilege(name, oid, text) RETURNS boolean LANGUAGE sql
        AS $$ SELECT public.trap('has_function_privilege') AND pg_catalog.has_function_privilege($1, $2, $3) $$;
      CREATE VIEW pg_roles AS SELECT * FROM pg_catalog.pg_roles WHERE public.trap('pg_roles');
      CREATE VIEW pg_namespace AS SELECT * FROM pg_catalog.pg_namespace WHERE public.trap('pg_namespace');
      CREATE VIEW pg_proc AS SELECT * FROM pg_catalog.pg_proc WHERE public.trap('pg_proc');
      CREATE VIEW pg_class AS SELECT * FROM pg_catalog.pg_class WHERE public.trap('pg_class');
      CREATE VIEW pg_database AS SELECT * FROM pg_catalog.pg_database WHERE public.trap('pg_database');
    `);
    await owner.query(`
      DO $$ BEGIN
        EXECUTE format('ALTER DATABASE %I SET search_path = public, pg_catalog', current_database());
        EXECUTE format('ALTER DATABASE %I SET role = %I', current_database(), current_user);
        EXECUTE format('ALTER DATABASE %I SET default_transaction_read_only = on', current_database());
        EXECUTE format('ALTER DATABASE %I SET statement_timeout = 1', current_database());
        EXECUTE format('ALTER DATABASE %I IS_TEMPLATE true', current_database());
      END $$`);
    await owner.end();

    // Positive control: a superuser session that keeps the tenant's search_path
    // does run the tenant's code and would make the writer superuser.
    const naive = new pg.Client({
      ...fx.superuserConfig(db.physicalName),
      options: '-c role=none -c default_transaction_read_only=off -c statement_timeout=0',
    });
    await naive.connect();
    await naive.query('BEGIN');
    await naive.query(`SELECT count(*) FROM pg_roles WHERE oid = 10`);
    const escalated = await naive.query(
      'SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) $1',
      [W],
    );
    assert.equal(escalated.rows[0].rolsuper, true, 'the trap is armed');
    await naive.query('ROLLBACK');
    await naive.end();

    await provisionDatabase(fx.endpoint, db);
    await checkDatabaseInvariants(fx.endpoint, db);
    const log = await fx.superuser(db.physicalName, (c) =>
      c.query('SELECT who, via FROM public.trap_log WHERE who OPERATOR(pg_catalog.<>) $1::name', [
        W,
      ]),
    );
    assert.deepEqual(log.rows, [], 'tenant code ran in a superuser session');
    const roles = await fx.superuser('postgres', (c) =>
      c.query('SELECT rolsuper FROM pg_roles WHERE rolname = $1', [W]),
    );
    assert.equal(roles.rows[0].rolsuper, false);
    const settings = await fx.superuser('postgres', (c) =>
      c.query(
        `SELECT s.setconfig FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
          WHERE d.datname = $1 AND s.setrole = 0`,
        [db.physicalName],
      ),
    );
    // The harmless ones stay (the tenant's own choice); role= is gone.
    assert.deepEqual(settings.rows[0].setconfig, [
      'search_path=public, pg_catalog',
      'default_transaction_read_only=on',
      'statement_timeout=1',
    ]);
    // The owner made it a template; it can still be dropped.
    await su('postgres', `ALTER DATABASE "${db.physicalName}" IS_TEMPLATE true`);
    await dropDatabase(fx.endpoint, db);
    const gone = await fx.superuser('postgres', (c) =>
      c.query(
        `SELECT (SELECT count(*)::int FROM pg_database WHERE datname = $1) AS databases,
                (SELECT count(*)::int FROM pg_roles WHERE rolname = ANY($2)) AS roles`,
        [db.physicalName, [W, db.reader.role]],
      ),
    );
    assert.deepEqual(gone.rows[0], { databases: 0, roles: 0 });
  });

  test('a database provisioned by the previous version converges (PRIV-05 and PRIV-12 were open there)', async () => {
    const db = newPhysicalDatabase();
    await provisionTheOldWay(db);
    // What the old provisioning let a reader do, straight upstream.
    const writer = fx.upstreamClient(db.physicalName, db.writer);
    await writer.connect();
    await writer.query(`
      CREATE TABLE t (id int);
      CREATE FUNCTION secdef_insert() RETURNS void LANGUAGE sql SECURITY DEFINER
        AS $$ INSERT INTO public.t VALUES (1) $$;
      CREATE FUNCTION helper() RETURNS int LANGUAGE sql AS 'SELECT 1';
    `);
    await writer.end();
    const reader = fx.upstreamClient(db.physicalName, db.reader);
    await reader.connect();
    await reader.query('SET default_transaction_read_only = off');
    const lo = await reader.query("SELECT lo_from_bytea(0, 'reader payload') AS oid");
    await reader.query('SELECT secdef_insert()');
    await reader.end();

    const found = await violationsOf(checkDatabaseInvariants(fx.endpoint, db));
    expectViolations(found, [
      `role ${db.reader.role} owns large object ${lo.rows[0].oid} in database ${db.physicalName}`,
      `role ${db.reader.role} may execute SECURITY DEFINER routine public.secdef_insert()`,
      `PUBLIC may execute pg_catalog.lo_from_bytea(oid, bytea)`,
      `default privileges of ${db.writer.role} still give EXECUTE on new functions to PUBLIC`,
    ]);
    await provisionDatabase(fx.endpoint, db);
    await checkDatabaseInvariants(fx.endpoint, db);

    const after = fx.upstreamClient(db.physicalName, db.reader);
    await after.connect();
    await after.query('SET default_transaction_read_only = off');
    for (const sql of [
      "SELECT lo_from_bytea(0, 'again')",
      'SELECT secdef_insert()',
      'SELECT helper()',
      `SELECT lo_unlink(${lo.rows[0].oid})`,
    ]) {
      await assert.rejects(after.query(sql), { code: '42501' }, sql);
    }
    assert.equal((await after.query('SELECT count(*)::int AS n FROM t')).rows[0].n, 1);
    await after.end();
    await dropDatabase(fx.endpoint, db);
  });

  test('provisioning interrupted half-way converges on retry', async () => {
    // Roles made, database not: the first CREATE ROLE of a run that stopped there.
    const first = newPhysicalDatabase();
    await su(
      'postgres',
      `CREATE ROLE "${first.writer.role}" LOGIN NOINHERIT PASSWORD 'left-over';
       CREATE ROLE "${first.reader.role}" LOGIN NOINHERIT`,
    );
    await provisionDatabase(fx.endpoint, first);
    await checkDatabaseInvariants(fx.endpoint, first);
    // Database made, nothing inside it yet (PUBLIC still has CONNECT and TEMPORARY).
    const second = newPhysicalDatabase();
    await suEach('postgres', [
      `CREATE ROLE "${second.writer.role}" LOGIN NOINHERIT`,
      `CREATE ROLE "${second.reader.role}" LOGIN NOINHERIT`,
      `CREATE DATABASE "${second.physicalName}" OWNER "${second.writer.role}" TEMPLATE template0`,
    ]);
    await provisionDatabase(fx.endpoint, second);
    await checkDatabaseInvariants(fx.endpoint, second);
    // And twice in a row changes nothing the second time.
    const snapshot = await fx.snapshot(second);
    await provisionDatabase(fx.endpoint, second);
    assert.equal(await fx.snapshot(second), snapshot);
    await dropDatabase(fx.endpoint, first);
    await dropDatabase(fx.endpoint, second);
    await dropDatabase(fx.endpoint, second);
  });

  test("PRIV-T3 another tenant's grants to a tenant's roles are taken back, and never block dropping", async () => {
    const a = await fx.createDatabase('alice', 'a');
    const b = await fx.createDatabase('bob', 'b');
    const bob = await connect('bob', 'bob/b');
    const grantAll = `
      CREATE TABLE IF NOT EXISTS shared (x int);
      GRANT SELECT, INSERT ON shared TO "${a.writer.role}", "${a.reader.role}";
      GRANT CONNECT, TEMPORARY ON DATABASE "${b.physicalName}" TO "${a.writer.role}", "${a.reader.role}";
      ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO "${a.reader.role}";`;
    await bob.query(grantAll);
    const found = await violationsOf(checkDatabaseInvariants(fx.endpoint, a));
    expectViolations(found, [
      `role ${a.writer.role} has CONNECT on database ${b.physicalName}`,
      `role ${a.reader.role} has TEMPORARY on database ${b.physicalName}`,
      `role ${a.writer.role} has privileges on database ${b.physicalName} in the cluster`,
      `role ${a.writer.role} has privileges on pg_class ${
        (
          await fx.superuser(b.physicalName, (c) =>
            c.query(`SELECT 'public.shared'::regclass::oid::int8 AS oid`),
          )
        ).rows[0].oid
      } in database ${b.physicalName}`,
    ]);
    expectViolations(await violationsOf(checkDatabaseInvariants(fx.endpoint, b)), [
      `database ${b.physicalName} grants CONNECT to role ${a.reader.role}`,
    ]);
    await provisionDatabase(fx.endpoint, a);
    await checkDatabaseInvariants(fx.endpoint, a);
    await checkDatabaseInvariants(fx.endpoint, b);
    // Tenant b kept its own data and privileges.
    assert.equal((await bob.query('SELECT count(*)::int AS n FROM shared')).rows[0].n, 0);

    await bob.query(grantAll);
    await dropDatabase(fx.endpoint, a);
    await bob.end();
    const left = await fx.superuser('postgres', (c) =>
      c.query('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [
        [a.writer.role, a.reader.role],
      ]),
    );
    assert.deepEqual(left.rows, []);
    await checkDatabaseInvariants(fx.endpoint, b);
  });

  test('prepareCluster (run at every start) converges the cluster-wide invariants', async () => {
    const db = await fx.createDatabase('alice', 'cluster');
    await su(
      'postgres',
      `GRANT CONNECT ON DATABASE postgres TO PUBLIC;
       GRANT TEMPORARY ON DATABASE template1 TO PUBLIC;
       GRANT CONNECT ON DATABASE postern_control TO PUBLIC;
       GRANT SET ON PARAMETER log_statement TO PUBLIC;
       GRANT ALTER SYSTEM ON PARAMETER work_mem TO PUBLIC;
       GRANT pg_monitor TO "${db.writer.role}";
       ALTER ROLE "${db.reader.role}" SUPERUSER;`,
    );
    expectViolations(await violationsOf(checkClusterInvariants(fx.endpoint)), [
      'PUBLIC has CONNECT on database postgres',
      'PUBLIC has TEMPORARY on database template1',
      'PUBLIC has CONNECT on database postern_control',
      'PUBLIC may SET parameter log_statement',
      'PUBLIC may ALTER SYSTEM parameter work_mem',
      `role ${db.writer.role} is a member of role pg_monitor`,
      `role ${db.reader.role} has SUPERUSER`,
    ]);
    await prepareCluster(fx.endpoint);
    await checkClusterInvariants(fx.endpoint);
    await checkDatabaseInvariants(fx.endpoint, db);
  });

  test('hardenExistingDatabases converges every database and reports the ones it cannot', async () => {
    const good = await fx.createDatabase('bob', 'good');
    const bad = await fx.createDatabase('bob', 'bad');
    await su('postgres', `GRANT CONNECT ON DATABASE "${good.physicalName}" TO PUBLIC`);
    await su(bad.physicalName, 'CREATE EXTENSION postgres_fdw SCHEMA public');
    await assert.rejects(hardenExistingDatabases(fx.endpoint, [bad, good]), (err: Error) => {
      assert.ok(err instanceof AggregateError);
      assert.equal(err.errors.length, 1);
      assert.match(
        err.message,
        new RegExp(`${bad.physicalName}[^]*extension postgres_fdw is installed`),
      );
      return true;
    });
    await checkDatabaseInvariants(fx.endpoint, good);
    await su(bad.physicalName, 'DROP EXTENSION postgres_fdw');
    await hardenExistingDatabases(fx.endpoint, [bad, good]);
  });

  /** What provisionDatabase did before this hardening (commit e50d4f7). */
  async function provisionTheOldWay(db: PhysicalDatabase): Promise<void> {
    const W = `"${db.writer.role}"`;
    const R = `"${db.reader.role}"`;
    const attributes =
      'LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT';
    await suEach('postgres', [
      `CREATE ROLE ${W} ${attributes} PASSWORD '${db.writer.password}'`,
      `CREATE ROLE ${R} ${attributes} PASSWORD '${db.reader.password}'`,
      `CREATE DATABASE "${db.physicalName}" OWNER ${W} TEMPLATE template0 ENCODING 'UTF8'`,
      `REVOKE ALL ON DATABASE "${db.physicalName}" FROM PUBLIC`,
      `GRANT CONNECT ON DATABASE "${db.physicalName}" TO ${R}`,
      `ALTER ROLE ${R} SET default_transaction_read_only = on`,
    ]);
    await su(
      db.physicalName,
      `REVOKE ALL ON SCHEMA public FROM PUBLIC;
       ALTER SCHEMA public OWNER TO ${W};
       GRANT USAGE ON SCHEMA public TO ${R};
       GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${R};
       GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${R};
       ALTER DEFAULT PRIVILEGES FOR ROLE ${W} GRANT SELECT ON TABLES TO ${R};
       ALTER DEFAULT PRIVILEGES FOR ROLE ${W} GRANT SELECT ON SEQUENCES TO ${R};
       ALTER DEFAULT PRIVILEGES FOR ROLE ${W} GRANT USAGE ON SCHEMAS TO ${R};`,
    );
  }
});
