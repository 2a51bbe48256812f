import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { AdminHttp, assertError } from '../support/admin-http';
import { PosternProcess } from '../support/postern-process';

/**
 * The admin HTTP API's databases and grants, and what they do on the wire:
 * tokens log in, revocation and lowered grants end live sessions, read-only
 * is enforced by PostgreSQL, deleted databases are gone.
 */
describe('admin HTTP API: databases, grants and their wire effects', () => {
  let postern: PosternProcess;
  let ca: string;
  let http: AdminHttp;
  let admin: string;
  let alice: string;
  let bob: string;
  let carol: string;
  const clients: pg.Client[] = [];

  before(async () => {
    postern = await PosternProcess.start();
    ca = await postern.ca();
    http = AdminHttp.of(postern);
    admin = await http.login();
    const users = await http.createUsers(admin, ['alice', 'bob', 'carol']);
    alice = users.alice!;
    bob = users.bob!;
    carol = users.carol!;
    await http.call('POST', '/entities', {
      token: alice,
      body: { kind: 'organization', slug: 'acme' },
    });
    await http.call('PUT', '/entities/acme/members/bob', {
      token: alice,
      body: { role: 'member' },
    });
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await postern.dispose();
  });

  const createDatabase = async (token: string, owner: string, name: string) => {
    const answer = await http.call('POST', '/databases', { token, body: { owner, name } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body as { id: string; owner: string; name: string; level: string | null };
  };
  const grant = async (owner: string, name: string, entity: string, level: string) => {
    const answer = await http.call('PUT', `/databases/${owner}/${name}/grants/${entity}`, {
      token: alice,
      body: { level },
    });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  };

  /** A connected node-postgres client; closed at the end. */
  const connect = async (user: string, password: string, database: string) => {
    const client = new pg.Client({
      host: 'localhost',
      port: postern.wirePort,
      user,
      password,
      database,
      ssl: { ca, servername: 'localhost' },
    });
    client.on('error', () => undefined);
    clients.push(client);
    await client.connect();
    return client;
  };
  /** The SQLSTATE of a failed login, or 'connected'. */
  const loginCode = async (user: string, password: string, database: string) => {
    try {
      await (await connect(user, password, database)).end();
      return 'connected';
    } catch (err) {
      return (err as { code?: string }).code ?? (err as Error).message;
    }
  };
  /** Resolves once the server has ended the client's session. */
  const ended = (client: pg.Client) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('session still open after 5 s')), 5000);
      client.once('end', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const sqlState = async (client: pg.Client, sql: string) => {
    try {
      await client.query(sql);
      return 'ok';
    } catch (err) {
      return (err as { code?: string }).code ?? (err as Error).message;
    }
  };

  describe('databases', () => {
    test('create for oneself, for an organisation one administers, and (site admin) for anyone', async () => {
      const own = await createDatabase(alice, 'alice', 'notes');
      assert.deepEqual(own, {
        id: own.id,
        owner: 'alice',
        name: 'notes',
        level: 'owner',
        limits: {},
      });
      const org = await createDatabase(alice, 'acme', 'shop');
      assert.equal(org.level, 'owner');
      const byAdmin = await createDatabase(admin, 'alice', 'from-admin');
      assert.equal(byAdmin.level, null);
      assert.equal(
        (await http.call('GET', '/databases/alice/from-admin', { token: alice })).body.level,
        'owner',
      );
    });

    test('members and strangers may not create for others: 403 visible, 404 invisible', async () => {
      const post = (token: string, owner: string) =>
        http.call('POST', '/databases', { token, body: { owner, name: 'mine-now' } });
      assertError(await post(bob, 'acme'), 403, /admins of "acme"/);
      assertError(await post(bob, 'alice'), 404, /entity "alice" not found/);
      assertError(await post(bob, 'nobody'), 404, /entity "nobody" not found/);
      assertError(await post('', 'bob'), 401);
    });

    test('validation: 400 for bad names and fields, 409 for a taken name', async () => {
      const post = (body: unknown) => http.call('POST', '/databases', { token: alice, body });
      assertError(await post({ owner: 'alice' }), 400, /"name" must be a string/);
      assertError(await post({ owner: 'alice', name: 'Bad Name' }), 400, /database name must be/);
      assertError(await post({ owner: 'alice', name: 'x', extra: 1 }), 400, /unknown field/);
      assertError(await post('alice/notes'), 400);
      assertError(
        await post({ owner: 'alice', name: 'notes' }),
        409,
        /"alice\/notes" already exists/,
      );
    });

    test("listing shows visible databases with the caller's effective level", async () => {
      const levels = async (token: string) => {
        const answer = await http.call('GET', '/databases', { token });
        assert.equal(answer.status, 200);
        return Object.fromEntries(
          answer.body.map((d: { owner: string; name: string; level: string | null }) => [
            `${d.owner}/${d.name}`,
            d.level,
          ]),
        );
      };
      assert.deepEqual(await levels(alice), {
        'acme/shop': 'owner',
        'alice/from-admin': 'owner',
        'alice/notes': 'owner',
      });
      assert.deepEqual(await levels(bob), { 'acme/shop': 'read-write' });
      assert.deepEqual(await levels(carol), {});
      const all = await levels(admin);
      assert.equal(all['admin/main'], 'owner');
      assert.equal(all['alice/notes'], null);
      assertError(await http.call('GET', '/databases'), 401);
    });

    test('a database the caller cannot see is the same 404 as a missing one', async () => {
      const hidden = await http.call('GET', '/databases/alice/notes', { token: bob });
      const missing = await http.call('GET', '/databases/alice/missing', { token: bob });
      assertError(hidden, 404, /^database "alice\/notes" not found$/);
      assertError(missing, 404, /^database "alice\/missing" not found$/);
      const seen = await http.call('GET', '/databases/alice/notes', { token: alice });
      assert.equal(seen.status, 200);
      assert.equal(seen.body.level, 'owner');
      assertError(await http.call('GET', '/databases/alice/notes'), 401);
    });
  });

  describe('grants', () => {
    test('the owner grants: 200 with the grant; the grantee sees the database at that level', async () => {
      const put = await http.call('PUT', '/databases/alice/notes/grants/bob', {
        token: alice,
        body: { level: 'read-only' },
      });
      assert.equal(put.status, 200);
      assert.deepEqual(put.body, { entity: 'bob', level: 'read-only' });
      const seen = await http.call('GET', '/databases/alice/notes', { token: bob });
      assert.equal(seen.body.level, 'read-only');
      const list = await http.call('GET', '/databases/alice/notes/grants', { token: alice });
      assert.deepEqual(list.body, [{ entity: 'bob', level: 'read-only' }]);
    });

    test('below manager: 403; invisible: 404; anonymous: 401', async () => {
      const put = (token: string) =>
        http.call('PUT', '/databases/alice/notes/grants/carol', {
          token,
          body: { level: 'read-only' },
        });
      assertError(await put(bob), 403, /owner and managers/);
      assertError(await http.call('GET', '/databases/alice/notes/grants', { token: bob }), 403);
      assertError(
        await http.call('DELETE', '/databases/alice/notes/grants/bob', { token: bob }),
        403,
      );
      assertError(await put(carol), 404, /database "alice\/notes" not found/);
      assertError(await http.call('GET', '/databases/alice/notes/grants', { token: carol }), 404);
      assertError(await put(''), 401);
    });

    test('validation: bad level 400, unknown entity 404, the owner 400', async () => {
      const put = (entity: string, body: unknown) =>
        http.call('PUT', `/databases/alice/notes/grants/${entity}`, { token: alice, body });
      assertError(await put('bob', { level: 'owner' }), 400, /"level" must be one of/);
      assertError(await put('bob', { level: 'read-only', extra: true }), 400, /unknown field/);
      assertError(await put('nobody', { level: 'read-only' }), 404, /entity "nobody" not found/);
      assertError(await put('alice', { level: 'manager' }), 400, /owns this database/);
    });

    test('a manager shares further, but cannot delete the database', async () => {
      await grant('alice', 'notes', 'carol', 'manager');
      const byManager = await http.call('PUT', '/databases/alice/notes/grants/acme', {
        token: carol,
        body: { level: 'read-write' },
      });
      assert.equal(byManager.status, 200, JSON.stringify(byManager.body));
      assertError(await http.call('DELETE', '/databases/alice/notes', { token: carol }), 403);
      assert.equal(
        (await http.call('DELETE', '/databases/alice/notes/grants/acme', { token: carol })).status,
        204,
      );
    });

    test('removing a grant: 204, then 404', async () => {
      const remove = () =>
        http.call('DELETE', '/databases/alice/notes/grants/carol', { token: alice });
      assert.equal((await remove()).status, 204);
      assertError(await remove(), 404, /no grant/);
      assertError(await http.call('GET', '/databases/alice/notes', { token: carol }), 404);
    });
  });

  describe('on the wire', () => {
    test('a token created through the API logs in with node-postgres', async () => {
      const { body } = await http.call('POST', '/entities/alice/tokens', {
        token: alice,
        body: { name: 'wire' },
      });
      const client = await connect('alice', body.token, 'alice/notes');
      assert.equal((await client.query('SELECT 1 AS one')).rows[0].one, 1);
      await client.end();
    });

    test('a read-only token reads but cannot write', async () => {
      const owner = await connect('alice', 'alice-password', 'alice/notes');
      await owner.query('CREATE TABLE IF NOT EXISTS items (id int)');
      await owner.end();
      const { body } = await http.call('POST', '/entities/alice/tokens', {
        token: alice,
        body: { name: 'reader', databases: ['alice/notes'], maxLevel: 'read-only' },
      });
      const client = await connect('alice', body.token, 'alice/notes');
      assert.equal(await sqlState(client, 'SELECT count(*) FROM items'), 'ok');
      assert.match(await sqlState(client, 'INSERT INTO items VALUES (1)'), /^(42501|25006)$/);
      await client.end();
    });

    test('revoking a token ends its open wire session', async () => {
      const { body } = await http.call('POST', '/entities/alice/tokens', {
        token: alice,
        body: { name: 'revoked while connected' },
      });
      const client = await connect('alice', body.token, 'alice/notes');
      const password = await connect('alice', 'alice-password', 'alice/notes');
      const end = ended(client);
      assert.equal((await http.call('DELETE', `/tokens/${body.id}`, { token: alice })).status, 204);
      await end;
      assert.equal(await loginCode('alice', body.token, 'alice/notes'), '28P01');
      assert.equal(await sqlState(password, 'SELECT 1'), 'ok', 'the password session stays');
      await password.end();
    });

    test('a read-only grant: the user logs in with a password and SELECTs, but cannot INSERT', async () => {
      await createDatabase(alice, 'alice', 'shared');
      const owner = await connect('alice', 'alice-password', 'alice/shared');
      await owner.query('CREATE TABLE t (id int); INSERT INTO t VALUES (1)');
      await owner.end();
      assert.equal(await loginCode('bob', 'bob-password', 'alice/shared'), '3D000');
      await grant('alice', 'shared', 'bob', 'read-only');
      const client = await connect('bob', 'bob-password', 'alice/shared');
      assert.deepEqual((await client.query('SELECT id FROM t')).rows, [{ id: 1 }]);
      assert.match(await sqlState(client, 'INSERT INTO t VALUES (2)'), /^(42501|25006)$/);
      await client.end();
    });

    test('lowering a grant ends sessions above the new level; removing it ends the rest', async () => {
      await grant('alice', 'shared', 'bob', 'read-write');
      const writer = await connect('bob', 'bob-password', 'alice/shared');
      assert.equal(await sqlState(writer, 'INSERT INTO t VALUES (3)'), 'ok');
      const writerEnded = ended(writer);
      await grant('alice', 'shared', 'bob', 'read-only');
      await writerEnded;

      const reader = await connect('bob', 'bob-password', 'alice/shared');
      assert.match(await sqlState(reader, 'INSERT INTO t VALUES (4)'), /^(42501|25006)$/);
      const readerEnded = ended(reader);
      await grant('alice', 'shared', 'bob', 'read-only');
      assert.equal(
        await sqlState(reader, 'SELECT 1'),
        'ok',
        'an unchanged level keeps the session',
      );
      const removed = await http.call('DELETE', '/databases/alice/shared/grants/bob', {
        token: alice,
      });
      assert.equal(removed.status, 204);
      await readerEnded;
      assert.equal(await loginCode('bob', 'bob-password', 'alice/shared'), '3D000');
    });

    test('leaving an organisation ends sessions on its databases', async () => {
      const client = await connect('bob', 'bob-password', 'acme/shop');
      const end = ended(client);
      const left = await http.call('DELETE', '/entities/acme/members/bob', { token: bob });
      assert.equal(left.status, 204);
      await end;
      assert.equal(await loginCode('bob', 'bob-password', 'acme/shop'), '3D000');
    });

    test('a new password works on the wire at once, the old one no longer', async () => {
      const changed = await http.call('PUT', '/entities/carol/password', {
        token: carol,
        body: { password: 'carol-new-password' },
      });
      assert.equal(changed.status, 204);
      await createDatabase(carol, 'carol', 'own');
      assert.equal(await loginCode('carol', 'carol-new-password', 'carol/own'), 'connected');
      assert.equal(await loginCode('carol', 'carol-password', 'carol/own'), '28P01');
    });

    test('deleting a database ends its sessions, makes the name unknown and frees it', async () => {
      await createDatabase(alice, 'alice', 'doomed');
      const client = await connect('alice', 'alice-password', 'alice/doomed');
      await client.query('CREATE TABLE old_data (id int)');
      const end = ended(client);
      assertError(await http.call('DELETE', '/databases/alice/doomed', { token: bob }), 404);
      assert.equal(
        (await http.call('DELETE', '/databases/alice/doomed', { token: alice })).status,
        204,
      );
      await end;
      assertError(await http.call('GET', '/databases/alice/doomed', { token: alice }), 404);
      assertError(await http.call('DELETE', '/databases/alice/doomed', { token: alice }), 404);
      assert.equal(await loginCode('alice', 'alice-password', 'alice/doomed'), '3D000');

      await createDatabase(alice, 'alice', 'doomed');
      const fresh = await connect('alice', 'alice-password', 'alice/doomed');
      assert.equal(await sqlState(fresh, 'SELECT * FROM old_data'), '42P01');
      await fresh.end();
    });
  });
});
