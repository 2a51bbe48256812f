import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminHttp, assertError } from '../support/admin-http';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';

/**
 * The admin HTTP API (README, "HTTP API"): auth, entities, memberships
 * and tokens against the real gateway. Databases, grants and their effect on
 * wire sessions are in admin-api-databases.test.ts.
 */
describe('admin HTTP API: auth, entities, memberships, tokens', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let admin: string;
  let alice: string;
  let bob: string;

  before(async () => {
    postern = await PosternProcess.start();
    http = AdminHttp.of(postern);
    admin = await http.login();
    const users = await http.createUsers(admin, ['alice', 'bob', 'carol']);
    alice = users.alice!;
    bob = users.bob!;
  });
  after(() => postern.dispose());

  describe('auth', () => {
    test('login answers a pss_ token valid 12 h and an HttpOnly SameSite=Strict cookie', async () => {
      const answer = await http.call('POST', '/auth/login', {
        body: { username: 'admin', password: ADMIN_PASSWORD },
      });
      assert.equal(answer.status, 200);
      assert.match(answer.body.token, /^pss_[A-Za-z0-9_-]{43}$/);
      const hours = (Date.parse(answer.body.expiresAt) - Date.now()) / 3_600_000;
      assert.ok(hours > 11.9 && hours <= 12, `expires in ${hours} h`);
      const cookie = answer.headers.get('set-cookie') ?? '';
      assert.match(cookie, new RegExp(`^postern_session=${answer.body.token};`));
      assert.match(cookie, /; HttpOnly/);
      assert.match(cookie, /; SameSite=Strict/);
      assert.doesNotMatch(cookie, /Secure/, 'plain HTTP: no Secure flag');
      assert.equal(answer.headers.get('cache-control'), 'no-store');
    });

    test('behind a TLS-terminating proxy the cookie is Secure', async () => {
      const answer = await http.call('POST', '/auth/login', {
        body: { username: 'admin', password: ADMIN_PASSWORD },
        headers: { 'x-forwarded-proto': 'https' },
      });
      assert.equal(answer.status, 200);
      assert.match(answer.headers.get('set-cookie') ?? '', /; Secure/);
    });

    test('unknown user, wrong password and a user without password: the same 401', async () => {
      await http.call('POST', '/entities', {
        token: admin,
        body: { kind: 'user', slug: 'nopass' },
      });
      const messages = new Set<string>();
      for (const [username, password] of [
        ['nobody-here', 'whatever-password'],
        ['carol', 'not-carols-password'],
        ['nopass', 'any-password'],
      ]) {
        const answer = await http.call('POST', '/auth/login', { body: { username, password } });
        assertError(answer, 401);
        messages.add(answer.body.message);
      }
      assert.deepEqual([...messages], ['invalid username or password']);
    });

    test('login validates its body: 400 JSON for missing fields and malformed JSON, 415 for non-JSON', async () => {
      assertError(
        await http.call('POST', '/auth/login', { body: { username: 'admin' } }),
        400,
        /"password" must be a string/,
      );
      assertError(
        await http.call('POST', '/auth/login', { body: ['admin', ADMIN_PASSWORD] }),
        400,
        /JSON object/,
      );
      assertError(
        await http.call('POST', '/auth/login', { rawBody: 'username=admin' }),
        415,
        /JSON/,
      );
      assertError(
        await http.call('POST', '/auth/login', {
          rawBody: '{"username": "admin",',
          headers: { 'content-type': 'application/json' },
        }),
        400,
      );
    });

    test('a body over 1 MiB is refused with 413 JSON', async () => {
      const answer = await http.call('POST', '/auth/login', {
        body: { username: 'admin', password: 'x'.repeat(1024 * 1024 + 1) },
      });
      assertError(answer, 413);
    });

    test('no credential, a bad one, or another scheme: 401 with WWW-Authenticate', async () => {
      const attempts: Record<string, string>[] = [
        {},
        { authorization: 'Bearer pss_not-a-session' },
        { authorization: 'Bearer pst_AAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB' },
        { authorization: 'Bearer something-else' },
        { authorization: `Basic ${Buffer.from(`admin:${ADMIN_PASSWORD}`).toString('base64')}` },
        { cookie: 'postern_session=pss_forged' },
      ];
      for (const headers of attempts) {
        const answer = await http.call('GET', '/entities', { headers });
        assertError(answer, 401);
        assert.equal(answer.headers.get('www-authenticate'), 'Bearer');
      }
    });

    test('the session cookie authenticates; a cookie-authenticated POST needs same origin (CSRF)', async () => {
      const cookie = `postern_session=${admin}`;
      assert.equal((await http.call('GET', '/entities', { headers: { cookie } })).status, 200);
      const body = { kind: 'organization', slug: 'csrf-org' };
      const crossSite = await http.call('POST', '/entities', {
        body,
        headers: { cookie, origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      });
      assertError(crossSite, 403, /cross-site/);
      const crossOrigin = await http.call('POST', '/entities', {
        body,
        headers: { cookie, origin: 'https://evil.example' },
      });
      assertError(crossOrigin, 403, /cross-origin/);
      assertError(await http.call('GET', '/entities/csrf-org', { token: admin }), 404, /not found/);
      const sameOrigin = await http.call('POST', '/entities', {
        body,
        headers: { cookie, origin: http.origin, 'sec-fetch-site': 'same-origin' },
      });
      assert.equal(sameOrigin.status, 201, JSON.stringify(sameOrigin.body));
    });

    test('a bearer-authenticated POST is exempt from the origin check', async () => {
      const answer = await http.call('POST', '/entities', {
        token: admin,
        body: { kind: 'organization', slug: 'bearer-org' },
        headers: { origin: 'https://elsewhere.example', 'sec-fetch-site': 'cross-site' },
      });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
    });

    test('a cross-site login form is refused (login CSRF)', async () => {
      const answer = await http.call('POST', '/auth/login', {
        body: { username: 'admin', password: ADMIN_PASSWORD },
        headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      });
      assertError(answer, 403);
    });

    test('logout ends the session and clears the cookie', async () => {
      const session = await http.login('bob', 'bob-password');
      const answer = await http.call('POST', '/auth/logout', { token: session });
      assert.equal(answer.status, 204);
      assert.match(answer.headers.get('set-cookie') ?? '', /^postern_session=; .*Max-Age=0/);
      assertError(await http.call('GET', '/entities', { token: session }), 401);
      assertError(await http.call('POST', '/auth/logout', { token: session }), 401);
    });

    test('health checks are public; unknown routes are 404 JSON', async () => {
      assert.equal((await http.call('GET', '/healthz')).status, 200);
      assert.equal((await http.call('GET', '/readyz')).status, 200);
      assertError(await http.call('GET', '/no-such-route', { token: admin }), 404);
    });
  });

  describe('entities', () => {
    test('a site admin creates a user: 201 with the entity', async () => {
      const answer = await http.call('POST', '/entities', {
        token: admin,
        body: { kind: 'user', slug: 'dave', password: 'dave-password' },
      });
      assert.equal(answer.status, 201);
      assert.equal(answer.body.slug, 'dave');
      assert.equal(answer.body.kind, 'user');
      assert.equal(answer.body.isSiteAdmin, false);
      assert.equal(answer.body.password, undefined);
      await http.login('dave', 'dave-password');
    });

    test('validation: bad kind, bad slug, short password, unknown field: 400', async () => {
      const post = (body: unknown) => http.call('POST', '/entities', { token: admin, body });
      assertError(await post({ kind: 'robot', slug: 'r2' }), 400, /"kind" must be one of/);
      assertError(await post({ kind: 'user', slug: 'Not A Slug' }), 400, /slug must be/);
      assertError(await post({ kind: 'user', slug: 'x'.repeat(64) }), 400, /slug must be/);
      assertError(await post({ kind: 'user', slug: 'shorty', password: 'short' }), 400, /password/);
      assertError(await post({ kind: 'user', slug: 'extra', admin: true }), 400, /unknown field/);
      assertError(await post({ kind: 'organization', slug: 'org-pw', password: 'p4ssw0rd!' }), 400);
    });

    test('a taken slug is 409', async () => {
      const answer = await http.call('POST', '/entities', {
        token: admin,
        body: { kind: 'organization', slug: 'alice' },
      });
      assertError(answer, 409, /already taken/);
    });

    test('only site admins create users; anyone creates an organisation and administers it', async () => {
      assertError(
        await http.call('POST', '/entities', {
          token: alice,
          body: { kind: 'user', slug: 'eve', password: 'eve-password' },
        }),
        403,
      );
      const org = await http.call('POST', '/entities', {
        token: alice,
        body: { kind: 'organization', slug: 'acme' },
      });
      assert.equal(org.status, 201, JSON.stringify(org.body));
      assert.equal(org.body.kind, 'organization');
      const detail = await http.call('GET', '/entities/acme', { token: alice });
      assert.equal(detail.status, 200);
      assert.deepEqual(detail.body.members, [{ user: 'alice', role: 'admin' }]);
    });

    test('listing: site admins see everyone, others themselves and their organisations', async () => {
      const all = await http.call('GET', '/entities', { token: admin });
      assert.equal(all.status, 200);
      const slugs = all.body.map((e: { slug: string }) => e.slug);
      for (const slug of ['admin', 'alice', 'bob', 'carol', 'acme'])
        assert.ok(slugs.includes(slug));
      const mine = await http.call('GET', '/entities', { token: alice });
      assert.deepEqual(
        mine.body.map((e: { slug: string }) => e.slug),
        ['acme', 'alice'],
      );
      assertError(await http.call('GET', '/entities'), 401);
    });

    test('another user is invisible: the same 404 as a missing one', async () => {
      const hidden = await http.call('GET', '/entities/alice', { token: bob });
      const missing = await http.call('GET', '/entities/nobody', { token: bob });
      assertError(hidden, 404, /^entity "alice" not found$/);
      assertError(missing, 404, /^entity "nobody" not found$/);
      assertError(await http.call('GET', '/entities/acme', { token: bob }), 404);
      assert.equal((await http.call('GET', '/entities/bob', { token: bob })).status, 200);
      assert.equal((await http.call('GET', '/entities/alice', { token: admin })).status, 200);
    });

    test('password: self or site admin, 204; at least 8 characters; not for organisations', async () => {
      const put = (token: string, slug: string, password: unknown) =>
        http.call('PUT', `/entities/${slug}/password`, { token, body: { password } });
      const otherSession = await http.login('bob', 'bob-password');
      assert.equal((await put(bob, 'bob', 'bob-new-password')).status, 204);
      await http.login('bob', 'bob-new-password');
      // The session that changed it stays; the user's other console sessions end.
      assert.equal((await http.call('GET', '/entities', { token: bob })).status, 200);
      assertError(await http.call('GET', '/entities', { token: otherSession }), 401);
      assertError(
        await http.call('POST', '/auth/login', {
          body: { username: 'bob', password: 'bob-password' },
        }),
        401,
      );
      assertError(await put(bob, 'bob', 'short'), 400, /8 to 1024/);
      assertError(await put(bob, 'bob', 12345678), 400, /"password" must be a string/);
      assertError(await put(bob, 'alice', 'taking-over-alice'), 404);
      assertError(await put(alice, 'acme', 'organisations-have-none'), 400, /not a user/);
      assert.equal((await put(admin, 'bob', 'bob-password')).status, 204);
      assertError(await http.call('GET', '/entities', { token: bob }), 401);
      bob = await http.login('bob', 'bob-password');
      assertError(await put('', 'bob', 'bob-password'), 401);
    });
  });

  describe('memberships', () => {
    test('an organisation admin adds a member: 200 with the membership', async () => {
      const answer = await http.call('PUT', '/entities/acme/members/bob', {
        token: alice,
        body: { role: 'member' },
      });
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.body, { organization: 'acme', user: 'bob', role: 'member' });
      const mine = await http.call('GET', '/entities', { token: bob });
      assert.deepEqual(
        mine.body.map((e: { slug: string }) => e.slug),
        ['acme', 'bob'],
      );
    });

    test('members may not manage members (403); outsiders do not see the organisation (404)', async () => {
      const put = (token: string) =>
        http.call('PUT', '/entities/acme/members/carol', { token, body: { role: 'member' } });
      assertError(await put(bob), 403);
      const carol = await http.login('carol', 'carol-password');
      assertError(await put(carol), 404, /entity "acme" not found/);
      assertError(
        await http.call('PUT', '/entities/acme/members/carol', { body: { role: 'member' } }),
        401,
      );
    });

    test('validation: bad role 400, unknown user 404, a user is not an organisation 400', async () => {
      const put = (path: string, body: unknown) => http.call('PUT', path, { token: alice, body });
      assertError(await put('/entities/acme/members/bob', { role: 'owner' }), 400, /"role"/);
      assertError(await put('/entities/acme/members/bob', {}), 400);
      assertError(await put('/entities/acme/members/nobody', { role: 'member' }), 404);
      assertError(await put('/entities/alice/members/bob', { role: 'member' }), 400, /not an org/);
    });

    test('the last admin cannot step down or leave (409)', async () => {
      const demote = await http.call('PUT', '/entities/acme/members/alice', {
        token: alice,
        body: { role: 'member' },
      });
      assertError(demote, 409, /at least one admin/);
      assertError(await http.call('DELETE', '/entities/acme/members/alice', { token: alice }), 409);
    });

    test('removing a member: 204, then 404; a member may leave on their own', async () => {
      const remove = (token: string, user: string) =>
        http.call('DELETE', `/entities/acme/members/${user}`, { token });
      assert.equal((await remove(alice, 'bob')).status, 204);
      assertError(await remove(alice, 'bob'), 404);
      await http.call('PUT', '/entities/acme/members/bob', {
        token: alice,
        body: { role: 'member' },
      });
      assert.equal((await remove(bob, 'bob')).status, 204);
      assertError(await http.call('GET', '/entities/acme', { token: bob }), 404);
    });
  });

  describe('tokens', () => {
    test('creating a token: 201 with the secret once, pst_<12>_<32> base62', async () => {
      const answer = await http.call('POST', '/entities/alice/tokens', {
        token: alice,
        body: { name: 'laptop' },
      });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      const { id, token, name, databases, maxLevel, expiresAt, createdAt } = answer.body;
      assert.match(id, /^[0-9A-Za-z]{12}$/);
      assert.equal(token.startsWith(`pst_${id}_`), true);
      assert.match(token, /^pst_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}$/);
      assert.deepEqual(
        { name, databases, maxLevel, expiresAt },
        { name: 'laptop', databases: [], maxLevel: null, expiresAt: null },
      );
      assert.ok(Date.parse(createdAt) > 0);

      const list = await http.call('GET', '/entities/alice/tokens', { token: alice });
      assert.equal(list.status, 200);
      const listed = list.body.find((t: { id: string }) => t.id === id);
      assert.equal(listed.name, 'laptop');
      assert.equal(listed.token, undefined);
      assert.ok(!JSON.stringify(list.body).includes(token), 'no secret in the list');
    });

    test('a token is a bearer credential; lastUsedAt is recorded', async () => {
      const { body } = await http.call('POST', '/entities/alice/tokens', {
        token: alice,
        body: { name: 'script' },
      });
      const entities = await http.call('GET', '/entities', { token: body.token });
      assert.equal(entities.status, 200);
      assert.deepEqual(
        entities.body.map((e: { slug: string }) => e.slug),
        ['acme', 'alice'],
      );
      let listed: { lastUsedAt: string | null } | undefined;
      for (let i = 0; i < 20 && !listed?.lastUsedAt; i++) {
        const list = await http.call('GET', '/entities/alice/tokens', { token: alice });
        listed = list.body.find((t: { id: string }) => t.id === body.id);
        if (!listed?.lastUsedAt) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(listed?.lastUsedAt, 'lastUsedAt set after use');
    });

    test('scope: databases must exist and be visible to the owner, else 400 naming them', async () => {
      const post = (body: unknown) =>
        http.call('POST', '/entities/alice/tokens', { token: alice, body });
      assertError(
        await post({ name: 'x', databases: ['admin/main'] }),
        400,
        /database "admin\/main" does not exist or is not visible to "alice"/,
      );
      assertError(await post({ name: 'x', databases: ['alice/nothing'] }), 400, /"alice\/nothing"/);
      assertError(await post({ name: 'x', maxLevel: 'owner' }), 400, /"maxLevel" must be one of/);
      assertError(await post({ name: 'x', expiresAt: 'tomorrow' }), 400, /ISO 8601/);
      assertError(await post({ name: 'x', expiresAt: '2001-01-01T00:00:00Z' }), 400, /future/);
      assertError(await post({ name: '' }), 400, /"name"/);
      assertError(await post({ databases: [] }), 400, /"name"/);
      assertError(await post({ name: 'x', databases: 'alice/notes' }), 400, /array/);
    });

    test("only the user and site admins handle a user's tokens", async () => {
      assertError(
        await http.call('POST', '/entities/alice/tokens', { token: bob, body: { name: 'x' } }),
        404,
      );
      assertError(await http.call('GET', '/entities/alice/tokens', { token: bob }), 404);
      assertError(
        await http.call('POST', '/entities/acme/tokens', { token: alice, body: { name: 'x' } }),
        400,
        /only users/,
      );
      const byAdmin = await http.call('POST', '/entities/bob/tokens', {
        token: admin,
        body: { name: 'issued by admin' },
      });
      assert.equal(byAdmin.status, 201);
      assert.equal((await http.call('GET', '/entities/bob/tokens', { token: admin })).status, 200);
      assertError(await http.call('GET', '/entities/alice/tokens'), 401);
    });

    test('a scoped token cannot manage people or mint tokens (403), but may revoke itself', async () => {
      await http.call('POST', '/databases', {
        token: alice,
        body: { owner: 'alice', name: 'tok' },
      });
      const { body } = await http.call('POST', '/entities/alice/tokens', {
        token: alice,
        body: { name: 'ci', databases: ['alice/tok'], maxLevel: 'read-only' },
      });
      assert.deepEqual(body.databases, ['alice/tok']);
      assert.equal(body.maxLevel, 'read-only');
      const scoped = body.token as string;
      assertError(
        await http.call('POST', '/entities/alice/tokens', { token: scoped, body: { name: 'y' } }),
        403,
        /limited to databases/,
      );
      assertError(
        await http.call('POST', '/entities', {
          token: scoped,
          body: { kind: 'organization', slug: 'via-token' },
        }),
        403,
      );
      const visible = await http.call('GET', '/databases', { token: scoped });
      assert.deepEqual(visible.body, [
        { id: visible.body[0].id, owner: 'alice', name: 'tok', level: 'read-only', limits: {} },
      ]);
      assert.equal(
        (await http.call('DELETE', `/tokens/${body.id}`, { token: scoped })).status,
        204,
      );
      assertError(await http.call('GET', '/databases', { token: scoped }), 401);
    });

    test('revoking: owner 204, then the token is refused; others get 404', async () => {
      const { body } = await http.call('POST', '/entities/alice/tokens', {
        token: alice,
        body: { name: 'to revoke' },
      });
      assertError(await http.call('DELETE', `/tokens/${body.id}`, { token: bob }), 404);
      assertError(await http.call('DELETE', '/tokens/AAAAAAAAAAAA', { token: alice }), 404);
      assertError(await http.call('DELETE', '/tokens/not-an-id', { token: alice }), 404);
      assertError(await http.call('DELETE', `/tokens/${body.id}`), 401);
      assert.equal((await http.call('GET', '/entities', { token: body.token })).status, 200);
      assert.equal((await http.call('DELETE', `/tokens/${body.id}`, { token: alice })).status, 204);
      assertError(await http.call('GET', '/entities', { token: body.token }), 401);
      const list = await http.call('GET', '/entities/alice/tokens', { token: alice });
      const listed = list.body.find((t: { id: string }) => t.id === body.id);
      assert.ok(listed.revokedAt);
    });

    test('an expired token is refused', async () => {
      const expiresAt = new Date(Date.now() + 1500).toISOString();
      const { body } = await http.call('POST', '/entities/alice/tokens', {
        token: alice,
        body: { name: 'short-lived', expiresAt },
      });
      assert.equal((await http.call('GET', '/entities', { token: body.token })).status, 200);
      await new Promise((r) => setTimeout(r, 1600));
      assertError(await http.call('GET', '/entities', { token: body.token }), 401);
    });
  });

  // Last: these fill the per-address window of failed logins from 127.0.0.1.
  describe('login rate limiting', () => {
    test('five failures for one user name: the sixth attempt is 429 with Retry-After, even with the right password', async () => {
      for (let i = 0; i < 5; i++) {
        const answer = await http.call('POST', '/auth/login', {
          body: { username: 'dave', password: `guess-${i}-wrong` },
        });
        assertError(answer, 401);
      }
      const blocked = await http.call('POST', '/auth/login', {
        body: { username: 'dave', password: 'dave-password' },
      });
      assertError(blocked, 429, /too many/);
      const retryAfter = Number(blocked.headers.get('retry-after'));
      assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      // Other users from the same address are not blocked yet.
      await http.login('alice', 'alice-password');
    });

    test('HARD-02: failures over many names block the address only at a hundred a minute, not at twenty', async () => {
      const statuses = (
        await Promise.all(
          Array.from({ length: 120 }, (_, i) =>
            http.call('POST', '/auth/login', {
              body: { username: `ghost-${i}`, password: 'not-a-password' },
            }),
          ),
        )
      ).map((answer) => answer.status);
      const evaluated = statuses.filter((status) => status === 401).length;
      assert.ok(evaluated > 20 && evaluated <= 100, `${evaluated} evaluated`);
      assert.ok(statuses.includes(429));
      const blocked = await http.call('POST', '/auth/login', {
        body: { username: 'admin', password: ADMIN_PASSWORD },
      });
      assertError(blocked, 429);
      // Existing credentials keep working: only logins are throttled.
      assert.equal((await http.call('GET', '/entities', { token: admin })).status, 200);
    });
  });
});
