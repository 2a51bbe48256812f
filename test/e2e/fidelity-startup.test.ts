import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { AdminHttp } from '../support/admin-http';
import { psql, python } from '../support/clients';
import { PosternProcess } from '../support/postern-process';

/**
 * Startup settings and database names as PostgreSQL takes them (client
 * fidelity): any setting the role may SET is applied, with PostgreSQL's own
 * answer when it is not; `options` first, then the named parameters; a
 * database is reachable by the physical name `current_database()` shows.
 */
describe('client fidelity: startup settings and physical database names', () => {
  let postern: PosternProcess;
  const password = (slug: string) => `${slug}-password`;

  before(async () => {
    // One upstream connection per role, so the second session reuses the first's.
    postern = await PosternProcess.start({ env: { POSTERN_POOL_SIZE: '1' } });
    const http = AdminHttp.of(postern);
    const admin = await http.login();
    const tokens = await http.createUsers(admin, ['alice', 'bob', 'eve']);
    const created = await http.call('POST', '/databases', {
      token: tokens.alice,
      body: { owner: 'alice', name: 'app' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const granted = await http.call('PUT', '/databases/alice/app/grants/bob', {
      token: tokens.alice,
      body: { level: 'read-only' },
    });
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
  });
  after(() => postern.dispose());

  const connect = (user: string, overrides: pg.ClientConfig = {}) =>
    postern.connect({ user, password: password(user), database: 'alice/app', ...overrides });
  const show = async (client: pg.Client, name: string) =>
    (await client.query<{ value: string }>(`SELECT current_setting($1) AS value`, [name])).rows[0]!
      .value;
  const failure = async (overrides: pg.ClientConfig) => {
    try {
      await (await connect('alice', overrides)).end();
      return null;
    } catch (err) {
      return err as { code?: string; severity?: string; message: string };
    }
  };

  test('node-postgres: options -c default_transaction_isolation=serializable applies', async () => {
    const client = await connect('alice', {
      options: '-c default_transaction_isolation=serializable',
    });
    try {
      assert.equal(await show(client, 'transaction_isolation'), 'serializable');
    } finally {
      await client.end();
    }
  });

  test('psycopg2: options="-c standard_conforming_strings=on" and a custom setting apply', async () => {
    const result = await python(
      `import sys, psycopg2
conn = psycopg2.connect(host="localhost", port=sys.argv[1], user="alice", password=sys.argv[2],
                        dbname="alice/app", sslmode="verify-full", sslrootcert=sys.argv[3],
                        options="-c standard_conforming_strings=on -c myapp.tenant=42")
cur = conn.cursor()
cur.execute("SELECT current_setting('standard_conforming_strings'), current_setting('myapp.tenant')")
print(*cur.fetchone())`,
      [String(postern.wirePort), password('alice'), postern.caFile],
    );
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), 'on 42');
  });

  test('psql: PGOPTIONS="-c work_mem=64MB" applies', async () => {
    const result = await psql(
      postern.conninfo('alice', 'alice/app', 'sslmode=verify-full options=-cwork_mem=64MB'),
      password('alice'),
      'SHOW work_mem;',
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /64MB/);
  });

  test("refused settings get PostgreSQL's own FATAL and SQLSTATE", async () => {
    const cases: Array<[pg.ClientConfig, string, RegExp]> = [
      [{ options: '-c work_mem=lots' }, '22023', /invalid value for parameter "work_mem"/],
      [{ options: '-c no_such_setting=1' }, '42704', /unrecognized configuration parameter/],
      [{ options: '-c log_statement=all' }, '42501', /permission denied to set parameter/],
    ];
    for (const [overrides, code, message] of cases) {
      const err = await failure(overrides);
      assert.ok(err, `${JSON.stringify(overrides)} must be refused`);
      assert.equal(err.code, code, err.message);
      assert.equal(err.severity, 'FATAL');
      assert.match(err.message, message);
    }
    // The refused connection went back to the pool intact: the next login works.
    await (await connect('alice')).end();
  });

  test('options apply first, named parameters after (client_encoding ends UTF8)', async () => {
    // node-postgres sends client_encoding=UTF8 itself, as a named parameter.
    const client = await connect('alice', { options: '-c client_encoding=SQL_ASCII' });
    try {
      assert.equal(await show(client, 'client_encoding'), 'UTF8');
    } finally {
      await client.end();
    }
  });

  test('settings never reach the next session of the pooled connection', async () => {
    const first = await connect('bob', { options: '-c work_mem=77MB -c myapp.secret=s3' });
    const pid = (await first.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    assert.equal(await show(first, 'work_mem'), '77MB');
    await first.end();
    await new Promise((resolve) => setTimeout(resolve, 200)); // the reset runs on release
    const second = await connect('bob');
    try {
      const again = (await second.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
      assert.equal(again, pid, 'the pool of one handed over the same upstream connection');
      assert.equal(await show(second, 'work_mem'), '4MB');
      const custom = await second.query(
        "SELECT coalesce(current_setting('myapp.secret', true), '') AS value",
      );
      assert.equal(custom.rows[0].value, '');
    } finally {
      await second.end();
    }
  });

  test('a read-only login may turn default_transaction_read_only off; writes still fail', async () => {
    const client = await connect('bob', { options: '-c default_transaction_read_only=off' });
    try {
      assert.equal(await show(client, 'default_transaction_read_only'), 'off');
      await assert.rejects(client.query('CREATE TABLE t (id int)'), { code: '42501' });
    } finally {
      await client.end();
    }
  });

  test('a database is reachable by its physical name, for those who may use it only', async () => {
    const owner = await connect('alice');
    const physical = (await owner.query('SELECT current_database() AS name')).rows[0]
      .name as string;
    await owner.end();
    assert.match(physical, /^pdb_[0-9a-f]{16}$/);

    for (const user of ['alice', 'bob']) {
      const client = await connect(user, { database: physical });
      try {
        const row = (await client.query('SELECT current_database() AS db, current_user AS role'))
          .rows[0];
        assert.equal(row.db, physical);
        assert.match(row.role, user === 'alice' ? /_writer$/ : /_reader$/);
      } finally {
        await client.end();
      }
    }
    // psql by the physical name, as a tool reconnecting with current_database() does.
    const viaPsql = await psql(
      postern.conninfo('bob', physical),
      password('bob'),
      'SELECT current_database();',
    );
    assert.equal(viaPsql.code, 0, viaPsql.stderr);
    assert.match(viaPsql.stdout, new RegExp(physical));

    const refused = await connect('eve', { database: physical }).then(
      async (client) => {
        await client.end();
        return null;
      },
      (err: { code?: string }) => err.code,
    );
    assert.equal(refused, '3D000', 'no access: the same 3D000 as a missing database');
  });
});
