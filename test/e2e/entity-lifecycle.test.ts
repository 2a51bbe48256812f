import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { AdminHttp, assertError } from '../support/admin-http';
import { psql } from '../support/clients';
import { PosternProcess } from '../support/postern-process';

/**
 * PATCH and DELETE /api/v1/entities/:slug against the real gateway:
 * disabling ends wire sessions (57P01) and console sessions and stops
 * tokens on the wire and over HTTP, enabling restores, a disabled
 * organisation's databases are suspended, deleting refuses while the entity
 * owns databases unless they are reassigned, and the last site admin stays.
 */
describe('entity lifecycle: disable, enable, delete', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let admin: string;
  let sessions: Record<string, string>;

  before(async () => {
    postern = await PosternProcess.start();
    http = AdminHttp.of(postern);
    admin = await http.login();
    sessions = await http.createUsers(admin, ['alice', 'bob', 'carol', 'erin']);
  });

  after(async () => {
    await postern?.dispose();
  });

  const call = (method: string, path: string, token: string, body?: unknown) =>
    http.call(method, path, { token, body });

  async function created(method: string, path: string, token: string, body?: unknown) {
    const answer = await call(method, path, token, body);
    assert.ok(answer.status >= 200 && answer.status < 300, JSON.stringify(answer.body));
    return answer.body;
  }

  async function wireClient(user: string, password: string, database: string): Promise<pg.Client> {
    return postern.connect({ user, password, database });
  }

  async function wireLoginError(user: string, password: string, database: string) {
    const failed = await wireClient(user, password, database).then(
      async (client) => {
        await client.end();
        return null;
      },
      (err: Error & { code?: string }) => err,
    );
    assert.ok(failed, `${user} should not log in to ${database}`);
    return failed;
  }

  /** Resolves with what the ended session got: the next query's error, or the one it emitted. */
  async function terminationOf(client: pg.Client): Promise<string | undefined> {
    const emitted = new Promise<Error>((resolve) => client.once('error', resolve));
    const queried = client.query('SELECT pg_sleep(30)').then(
      () => new Error('the query finished: the session was not ended'),
      (err: Error) => err,
    );
    return ((await Promise.race([emitted, queried])) as Error & { code?: string }).code;
  }

  async function auditKinds(kind: string): Promise<Array<Record<string, unknown>>> {
    const page = await call('GET', `/audit?kind=${kind}`, admin);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    return page.body.events;
  }

  test('LIFE-01 disabling a user ends its wire sessions with 57P01 and its console sessions, and stops its tokens on the wire and over HTTP', async () => {
    await created('POST', '/databases', sessions.alice, { owner: 'alice', name: 'notes' });
    const token = await created('POST', '/entities/alice/tokens', sessions.alice, { name: 'ci' });
    const byPassword = await wireClient('alice', 'alice-password', 'alice/notes');
    const byToken = await wireClient('alice', token.token, 'alice/notes');
    const running = psql(
      postern.conninfo('alice', 'alice/notes'),
      'alice-password',
      'SELECT pg_sleep(30);\n',
    );
    await waitFor('psql to be connected', async () => {
      const live = await call('GET', '/sessions?user=alice', admin);
      return live.body.length === 3 ? true : undefined;
    });
    const ended = [terminationOf(byPassword), terminationOf(byToken)];

    const disabled = await call('PATCH', '/entities/alice', admin, { disabled: true });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.equal(disabled.body.slug, 'alice');
    assert.equal(disabled.body.disabled, true);

    assert.deepEqual(await Promise.all(ended), ['57P01', '57P01']);
    const psqlResult = await running;
    assert.notEqual(psqlResult.code, 0);
    assert.match(psqlResult.stderr, /terminating connection due to administrator command/);

    assert.equal((await wireLoginError('alice', 'alice-password', 'alice/notes')).code, '28P01');
    assert.equal((await wireLoginError('alice', token.token, 'alice/notes')).code, '28P01');
    assertError(await call('GET', '/entities/alice', sessions.alice), 401);
    assertError(await call('GET', '/entities/alice', token.token), 401);
    assertError(
      await http.call('POST', '/auth/login', {
        body: { username: 'alice', password: 'alice-password' },
      }),
      401,
    );
    const events = await auditKinds('entity.disable');
    assert.equal(events.length, 1);
    assert.equal(events[0]!.actor, 'admin');
    assert.deepEqual(events[0]!.detail, { entity: 'alice', entityKind: 'user' });
  });

  test('LIFE-02 enabling restores logins, the same tokens and the databases', async () => {
    const enabled = await call('PATCH', '/entities/alice', admin, { disabled: false });
    assert.equal(enabled.status, 200, JSON.stringify(enabled.body));
    assert.equal(enabled.body.disabled, false);
    const tokens = await call('GET', '/entities/alice/tokens', admin);
    assert.equal(tokens.body.length, 1);
    assert.equal(tokens.body[0].revokedAt, null);

    // Console sessions ended for good; a new login is needed.
    assertError(await call('GET', '/entities/alice', sessions.alice), 401);
    sessions.alice = await http.login('alice', 'alice-password');
    const client = await wireClient('alice', 'alice-password', 'alice/notes');
    assert.equal((await client.query('SELECT 1 AS ok')).rows[0].ok, 1);
    await client.end();
    const fresh = await created('POST', '/entities/alice/tokens', sessions.alice, {
      name: 'again',
    });
    const viaToken = await call('GET', '/entities/alice', fresh.token);
    assert.equal(viaToken.status, 200);
    assert.equal((await auditKinds('entity.enable')).length, 1);
  });

  test('LIFE-03 a disabled organisation suspends its databases and its grants: members are ended and refused, until it is enabled', async () => {
    await created('POST', '/entities', sessions.bob, { kind: 'organization', slug: 'acme' });
    await created('PUT', '/entities/acme/members/carol', sessions.bob, { role: 'member' });
    await created('POST', '/databases', sessions.bob, { owner: 'acme', name: 'books' });
    await created('POST', '/databases', admin, { owner: 'admin', name: 'shared' });
    await created('PUT', '/databases/admin/shared/grants/acme', admin, { level: 'read-only' });
    const carol = await wireClient('carol', 'carol-password', 'acme/books');
    const ended = terminationOf(carol);
    const viaGrant = await wireClient('carol', 'carol-password', 'admin/shared');
    const grantEnded = terminationOf(viaGrant);

    assertError(await call('PATCH', '/entities/acme', sessions.bob, { disabled: true }), 403);
    const disabled = await call('PATCH', '/entities/acme', admin, { disabled: true });
    assert.equal(disabled.status, 200, JSON.stringify(disabled.body));
    assert.equal(await ended, '57P01');
    assert.equal(await grantEnded, '57P01');
    assert.equal((await wireLoginError('carol', 'carol-password', 'acme/books')).code, '3D000');
    assert.equal((await wireLoginError('carol', 'carol-password', 'admin/shared')).code, '3D000');
    assert.equal((await wireLoginError('bob', 'bob-password', 'acme/books')).code, '3D000');
    // Over HTTP the suspended database is as invisible as on the wire.
    assertError(
      await call('POST', '/databases/acme/books/query', sessions.bob, { sql: 'SELECT 1' }),
      404,
    );

    await created('PATCH', '/entities/acme', admin, { disabled: false });
    for (const database of ['acme/books', 'admin/shared']) {
      const back = await wireClient('carol', 'carol-password', database);
      assert.equal((await back.query('SELECT 2 AS n')).rows[0].n, 2);
      await back.end();
    }
  });

  test('LIFE-04 deleting refuses while the entity owns databases; with reassignTo the heir owns them and the rest goes', async () => {
    await created('POST', '/databases', sessions.erin, { owner: 'erin', name: 'ledger' });
    const token = await created('POST', '/entities/erin/tokens', sessions.erin, { name: 'etl' });
    const erinClient = await wireClient('erin', 'erin-password', 'erin/ledger');
    await erinClient.query('CREATE TABLE entries (amount int); INSERT INTO entries VALUES (42)');
    await created('PUT', '/databases/erin/ledger/grants/carol', sessions.erin, {
      level: 'read-only',
    });
    await created('PUT', '/entities/acme/members/erin', sessions.bob, { role: 'member' });

    assertError(
      await call('DELETE', '/entities/erin', admin),
      409,
      /owns 1 database\(s\) \(ledger\)/,
    );
    assertError(await call('DELETE', '/entities/erin?reassignTo=nobody', admin), 404);
    assertError(await call('DELETE', '/entities/erin?reassignTo=erin', admin), 400);
    assertError(await call('DELETE', '/entities/erin?reassign=bob', admin), 400);
    assertError(await call('DELETE', '/entities/erin?reassignTo=bob', sessions.bob), 404);
    assertError(await call('DELETE', '/entities/bob', sessions.bob), 403);
    const ended = terminationOf(erinClient);

    const deleted = await call('DELETE', '/entities/erin?reassignTo=bob', admin);
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    assert.equal(await ended, '57P01');

    assertError(await call('GET', '/entities/erin', admin), 404);
    assertError(await call('GET', '/entities/acme', sessions.erin), 401);
    assertError(await call('GET', '/entities/acme', token.token), 401);
    assert.equal((await wireLoginError('erin', token.token, 'bob/ledger')).code, '28P01');
    const members = await call('GET', '/entities/acme', admin);
    assert.deepEqual(
      members.body.members.map((m: { user: string }) => m.user),
      ['bob', 'carol'],
    );
    const ledger = await call('GET', '/databases/bob/ledger', sessions.bob);
    assert.equal(ledger.status, 200, JSON.stringify(ledger.body));
    assert.equal(ledger.body.level, 'owner');
    const bob = await wireClient('bob', 'bob-password', 'bob/ledger');
    assert.deepEqual((await bob.query('SELECT amount FROM entries')).rows, [{ amount: 42 }]);
    await bob.end();
    const carolGrants = await call('GET', '/databases/bob/ledger/grants', sessions.bob);
    assert.deepEqual(carolGrants.body, [{ entity: 'carol', level: 'read-only' }]);

    const events = await auditKinds('entity.delete');
    assert.equal(events.length, 1);
    assert.deepEqual(events[0]!.detail, {
      entity: 'erin',
      entityKind: 'user',
      reassignedTo: 'bob',
      databases: 1,
    });
    // The name is free again.
    await created('POST', '/entities', admin, {
      kind: 'user',
      slug: 'erin',
      password: 'new-erin-password',
    });
  });

  test('LIFE-05 an organisation without databases is deleted outright; the only admin of one is not', async () => {
    await created('POST', '/entities', sessions.carol, { kind: 'organization', slug: 'tiny' });
    assertError(await call('DELETE', '/entities/carol', admin), 409, /only admin of "tiny"/);
    assert.equal((await call('DELETE', '/entities/tiny', admin)).status, 204);
    assertError(await call('GET', '/entities/tiny', admin), 404);
  });

  test('LIFE-06 the last enabled site admin can be neither disabled nor deleted, and "admin" is never deleted', async () => {
    assertError(
      await call('PATCH', '/entities/admin', admin, { disabled: true }),
      409,
      /last enabled site admin/,
    );
    assertError(await call('DELETE', '/entities/admin', admin), 409, /cannot be deleted/);
    const still = await call('GET', '/entities/admin', admin);
    assert.equal(still.body.disabled, false);
  });

  test('LIFE-07 only site admins, with a session or an unscoped token; bad bodies are 400', async () => {
    assertError(await call('PATCH', '/entities/alice', sessions.alice, { disabled: true }), 403);
    assertError(await call('DELETE', '/entities/alice', sessions.alice), 403);
    assertError(await call('PATCH', '/entities/bob', sessions.alice, { disabled: true }), 404);
    const scoped = await created('POST', '/entities/admin/tokens', admin, {
      name: 'scoped',
      databases: ['admin/main'],
    });
    assertError(await call('PATCH', '/entities/alice', scoped.token, { disabled: true }), 403);
    for (const body of [{}, { disabled: 'yes' }, { disabled: true, slug: 'x' }]) {
      assertError(await call('PATCH', '/entities/alice', admin, body), 400);
    }
    assertError(await call('PATCH', '/entities/nobody', admin, { disabled: true }), 404);
    assertError(await call('DELETE', '/entities/nobody', admin), 404);
  });
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
