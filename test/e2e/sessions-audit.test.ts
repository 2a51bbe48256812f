import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { AdminHttp, assertError } from '../support/admin-http';
import { psql } from '../support/clients';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';

interface SessionView {
  id: number;
  user: string;
  database: string;
  level: string;
  clientAddress: string;
  applicationName: string;
  tlsVersion: string | null;
  authMethod: string;
  tokenId: string | null;
  startedAt: string;
  state: string;
  query: string | null;
  queryStartedAt: string | null;
  queryDurationMs: number | null;
}

interface AuditEvent {
  id: string;
  at: string;
  kind: string;
  outcome: string;
  actor: string | null;
  actorId: string | null;
  database: string | null;
  databaseId: string | null;
  detail?: Record<string, unknown>;
}

/**
 * GET/DELETE /api/v1/sessions and GET /api/v1/audit (issue 6): live wire
 * sessions with their state and statement, ending one (57P01 to psql and
 * node-postgres), who sees what, audit filters, paging, visibility, and
 * events without secrets.
 */
describe('live sessions and the audit log', () => {
  let postern: PosternProcess;
  let ca: string;
  let http: AdminHttp;
  let admin: string;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const clients: pg.Client[] = [];

  before(async () => {
    postern = await PosternProcess.start();
    ca = await postern.ca();
    http = AdminHttp.of(postern);
    admin = await http.login();
    for (const slug of ['alice', 'bob', 'carol', 'dave']) {
      const created = await http.call('POST', '/entities', {
        token: admin,
        body: { kind: 'user', slug, password: `${slug}-password` },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      ids[slug] = created.body.id;
      tokens[slug] = await http.login(slug, `${slug}-password`);
    }
    for (const name of ['app', 'other']) {
      const db = await http.call('POST', '/databases', {
        token: tokens.alice,
        body: { owner: 'alice', name },
      });
      assert.equal(db.status, 201, JSON.stringify(db.body));
    }
    for (const [entity, level] of [
      ['bob', 'read-write'],
      ['dave', 'manager'],
    ]) {
      const grant = await http.call('PUT', `/databases/alice/app/grants/${entity}`, {
        token: tokens.alice,
        body: { level },
      });
      assert.equal(grant.status, 200, JSON.stringify(grant.body));
    }
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    await postern.dispose();
  });

  async function connect(
    user: string,
    password: string,
    database: string,
    applicationName: string,
  ): Promise<{ client: pg.Client; errors: Array<Error & { code?: string }> }> {
    const client = new pg.Client({
      host: 'localhost',
      port: postern.wirePort,
      user,
      password,
      database,
      application_name: applicationName,
      ssl: { ca, servername: 'localhost' },
    });
    const errors: Array<Error & { code?: string }> = [];
    client.on('error', (err) => errors.push(err));
    clients.push(client);
    await client.connect();
    return { client, errors };
  }

  async function sessions(token: string, query = ''): Promise<SessionView[]> {
    const answer = await http.call('GET', `/sessions${query}`, { token });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body;
  }

  async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const found = await probe();
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function auditPage(
    token: string,
    query: string,
  ): Promise<{ events: AuditEvent[]; next: string | null }> {
    const answer = await http.call('GET', `/audit${query}`, { token });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body;
  }

  /** Every event the caller may read, following `next` to the end. */
  async function allEvents(token: string, filter = ''): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    let before: string | null = null;
    do {
      const cursor: string = before ? `&before=${before}` : '';
      const page = await auditPage(token, `?limit=200${filter}${cursor}`);
      events.push(...page.events);
      before = page.next;
    } while (before);
    return events;
  }

  describe('GET /sessions and DELETE /sessions/:id', () => {
    test('a running psql session shows its application_name and statement; ending it gives psql 57P01', async () => {
      const script = '\\set VERBOSITY verbose\nSELECT pg_sleep(60) AS long_running;\n';
      const running = psql(
        postern.conninfo('alice', 'alice/app', 'sslmode=verify-full application_name=reporting'),
        'alice-password',
        script,
      );
      const session = await waitFor('the psql session to be active', async () =>
        (await sessions(tokens.alice)).find(
          (s) => s.applicationName === 'reporting' && s.state === 'active',
        ),
      );
      assert.equal(session.user, 'alice');
      assert.equal(session.database, 'alice/app');
      assert.equal(session.level, 'owner');
      assert.equal(session.clientAddress, '127.0.0.1');
      assert.equal(session.tlsVersion, 'TLSv1.3');
      assert.match(session.authMethod, /^SCRAM-SHA-256/);
      assert.equal(session.tokenId, null);
      assert.match(session.query ?? '', /pg_sleep\(60\) AS long_running/);
      assert.ok(Date.parse(session.startedAt) <= Date.parse(session.queryStartedAt!));
      await new Promise((resolve) => setTimeout(resolve, 300));
      const later = (await sessions(tokens.alice)).find((s) => s.id === session.id)!;
      assert.ok(later.queryDurationMs! >= 300, `running for ${later.queryDurationMs} ms`);

      const killed = await http.call('DELETE', `/sessions/${session.id}`, { token: tokens.alice });
      assert.equal(killed.status, 204, JSON.stringify(killed.body));
      const result = await running;
      assert.notEqual(result.code, 0);
      assert.match(
        result.stderr,
        /FATAL: {2}57P01: terminating connection due to administrator command/,
      );
      await waitFor('the session to be gone', async () =>
        (await sessions(admin)).some((s) => s.id === session.id) ? undefined : true,
      );
      assertError(
        await http.call('DELETE', `/sessions/${session.id}`, { token: tokens.alice }),
        404,
      );
    });

    test('idle, in a transaction, aborted: the state follows ReadyForQuery', async () => {
      const { client } = await connect('alice', 'alice-password', 'alice/other', 'states');
      const state = async () =>
        (await sessions(tokens.alice)).find((s) => s.applicationName === 'states')!;
      await client.query('SELECT 41 + 1 AS answer');
      let now = await state();
      assert.equal(now.state, 'idle');
      assert.equal(now.query, 'SELECT 41 + 1 AS answer');
      assert.equal(now.queryDurationMs, null);
      await client.query('BEGIN');
      assert.equal((await state()).state, 'idle in transaction');
      await client.query('SELECT 1/0').catch(() => undefined);
      now = await state();
      assert.equal(now.state, 'idle in transaction (aborted)');
      assert.equal(now.query, 'SELECT 1/0');
      await client.query('ROLLBACK');
      assert.equal((await state()).state, 'idle');
      await client.end();
    });

    test('who sees which session; only those may end it; node-postgres gets 57P01', async () => {
      const bobToken = await http.call('POST', '/entities/bob/tokens', {
        token: tokens.bob,
        body: { name: 'worker' },
      });
      assert.equal(bobToken.status, 201);
      const bob = await connect('bob', bobToken.body.token, 'alice/app', 'bob-worker');
      const alice = await connect('alice', 'alice-password', 'alice/app', 'alice-console');
      const aliceOther = await connect('alice', 'alice-password', 'alice/other', 'alice-other');
      await bob.client.query('SELECT 1');
      const seen = async (viewer: string) =>
        (await sessions(tokens[viewer]!)).map((s) => s.applicationName).sort();

      assert.deepEqual(await seen('alice'), ['alice-console', 'alice-other', 'bob-worker']);
      assert.deepEqual(
        await seen('dave'),
        ['alice-console', 'bob-worker'],
        'a manager sees the database',
      );
      assert.deepEqual(await seen('bob'), ['bob-worker'], 'read-write sees only its own');
      assert.deepEqual(await seen('carol'), [], 'another tenant sees nothing');
      assert.ok((await sessions(admin)).length >= 3);
      const bobSession = (await sessions(tokens.bob))[0]!;
      assert.equal(bobSession.tokenId, bobToken.body.id);
      assert.equal(bobSession.level, 'read-write');
      assert.deepEqual(
        (await sessions(tokens.alice, '?user=bob&database=alice/app')).map((s) => s.id),
        [bobSession.id],
      );

      // A token scoped to alice/other shows alice only that database's sessions.
      const scoped = await http.call('POST', '/entities/alice/tokens', {
        token: tokens.alice,
        body: { name: 'other only', databases: ['alice/other'] },
      });
      assert.deepEqual(
        (await sessions(scoped.body.token)).map((s) => s.applicationName),
        ['alice-other'],
      );

      const aliceSession = (await sessions(tokens.alice)).find(
        (s) => s.applicationName === 'alice-console',
      )!;
      assertError(
        await http.call('DELETE', `/sessions/${bobSession.id}`, { token: tokens.carol }),
        404,
      );
      assertError(
        await http.call('DELETE', `/sessions/${aliceSession.id}`, { token: tokens.bob }),
        404,
      );
      assertError(
        await http.call('DELETE', `/sessions/${aliceSession.id}`, { token: scoped.body.token }),
        404,
      );
      assert.equal((await alice.client.query('SELECT 1 AS still_alive')).rows[0].still_alive, 1);

      const killed = await http.call('DELETE', `/sessions/${bobSession.id}`, {
        token: tokens.dave,
      });
      assert.equal(killed.status, 204);
      const error = await waitFor(
        'node-postgres to see the termination',
        async () =>
          bob.errors[0] ??
          (await bob.client.query('SELECT 1').then(
            () => undefined,
            (err: Error) => err,
          )),
      );
      assert.equal((error as { code?: string }).code, '57P01');
      assert.equal((await aliceOther.client.query('SELECT 2 AS n')).rows[0].n, 2);
    });

    test('validation: 400 for a bad id or filter', async () => {
      for (const path of [
        '/sessions/abc',
        '/sessions/0',
        '/sessions/99999999999',
        '/sessions/-1',
      ]) {
        assertError(await http.call('DELETE', path, { token: tokens.alice }), 400, /session id/);
      }
      assertError(
        await http.call('GET', '/sessions?database=app', { token: tokens.alice }),
        400,
        /owner\/name/,
      );
      assertError(
        await http.call('GET', '/sessions?user=Not%20A%20Name', { token: tokens.alice }),
        400,
      );
      assertError(
        await http.call('GET', '/sessions?colour=blue', { token: tokens.alice }),
        400,
        /unknown/,
      );
      assertError(
        await http.call('GET', '/sessions?user=a&user=b', { token: tokens.alice }),
        400,
        /once/,
      );
    });

    test('unauthenticated: 401', async () => {
      assertError(await http.call('GET', '/sessions'), 401);
      assertError(await http.call('DELETE', '/sessions/12345'), 401);
    });
  });

  describe('GET /audit', () => {
    test('login failures over HTTP and the wire are recorded, and no event ever carries a secret', async () => {
      const wrongHttp = 'wrong-http-password-51c2';
      const wrongWire = 'wrong-wire-password-9ad0';
      const failed = await http.call('POST', '/auth/login', {
        body: { username: 'alice', password: wrongHttp },
      });
      assert.equal(failed.status, 401);
      const wire = await psql(postern.conninfo('alice', 'alice/app'), wrongWire, 'SELECT 1;');
      assert.notEqual(wire.code, 0);
      const unknown = await psql(
        postern.conninfo('nobody-at-all', 'alice/app'),
        wrongWire,
        'SELECT 1;',
      );
      assert.notEqual(unknown.code, 0);

      const httpFailures = (await auditPage(admin, '?kind=http.login&limit=200')).events.filter(
        (e) => e.outcome === 'failure' && e.actor === 'alice',
      );
      assert.equal(httpFailures[0]?.detail?.reason, 'wrong-password');
      const wireFailures = await waitFor('the wire login failures to be recorded', async () => {
        const found = (await auditPage(admin, '?kind=wire.login&limit=200')).events.filter(
          (e) => e.outcome === 'failure',
        );
        return found.some((e) => e.actor === 'nobody-at-all') ? found : undefined;
      });
      assert.ok(wireFailures.some((e) => e.actor === 'alice' && e.actorId === ids.alice));

      const everything = JSON.stringify(await allEvents(admin));
      for (const secret of [
        wrongHttp,
        wrongWire,
        ADMIN_PASSWORD,
        'alice-password',
        'bob-password',
        ...Object.values(tokens),
      ]) {
        assert.ok(
          !everything.includes(secret),
          `the audit log contains a secret (${secret.slice(0, 6)}...)`,
        );
      }
      assert.doesNotMatch(everything, /pst_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}/);
      assert.doesNotMatch(everything, /pss_[A-Za-z0-9_-]{20}/);
    });

    test('token, grant, database and session events are all there', async () => {
      const token = await http.call('POST', '/entities/carol/tokens', {
        token: tokens.carol,
        body: { name: 'short-lived' },
      });
      assert.equal(
        (await http.call('DELETE', `/tokens/${token.body.id}`, { token: tokens.carol })).status,
        204,
      );
      await http.call('POST', '/databases', {
        token: tokens.carol,
        body: { owner: 'carol', name: 'tmp' },
      });
      await http.call('PUT', '/databases/carol/tmp/grants/dave', {
        token: tokens.carol,
        body: { level: 'read-only' },
      });
      await http.call('DELETE', '/databases/carol/tmp/grants/dave', { token: tokens.carol });
      await http.call('DELETE', '/databases/carol/tmp', { token: tokens.carol });
      const kinds = new Set((await allEvents(admin)).map((e) => e.kind));
      for (const kind of [
        'http.login',
        'wire.login',
        'entity.create',
        'token.create',
        'token.revoke',
        'database.create',
        'database.delete',
        'grant.put',
        'grant.remove',
        'session.kill',
      ]) {
        assert.ok(kinds.has(kind), `no ${kind} event among ${[...kinds].join(', ')}`);
      }
      const kill = (await auditPage(admin, '?kind=session.kill')).events;
      assert.ok(
        kill.every((e) => typeof e.detail?.sessionId === 'number' && e.database === 'alice/app'),
      );
      assert.deepEqual(kill.map((e) => e.actor).sort(), ['alice', 'dave']);
      const deleted = await auditPage(admin, '?database=carol/tmp');
      assert.deepEqual(
        deleted.events.map((e) => e.kind),
        ['database.delete', 'grant.remove', 'grant.put', 'database.create'],
        'events outlive the deleted database and are found by its name',
      );
    });

    test('filters: entity, database, kind, time range', async () => {
      const byAlice = await allEvents(admin, '&entity=alice');
      assert.ok(byAlice.length > 3);
      assert.ok(byAlice.every((e) => e.actorId === ids.alice));
      const onApp = await allEvents(admin, '&database=alice/app');
      assert.ok(onApp.some((e) => e.kind === 'grant.put'));
      assert.ok(onApp.every((e) => e.database === 'alice/app'));
      const grants = await allEvents(admin, '&kind=grant.put');
      assert.ok(grants.length >= 3 && grants.every((e) => e.kind === 'grant.put'));
      const combined = await allEvents(admin, '&kind=grant.put&entity=alice&database=alice/app');
      assert.deepEqual(combined.map((e) => e.detail?.entity).sort(), ['bob', 'dave']);

      const all = await allEvents(admin);
      const middle = all[Math.floor(all.length / 2)]!;
      const since = await allEvents(admin, `&since=${encodeURIComponent(middle.at)}`);
      assert.ok(since.length > 0 && since.every((e) => e.at >= middle.at));
      const until = await allEvents(admin, `&until=${encodeURIComponent(middle.at)}`);
      assert.ok(until.length > 0 && until.every((e) => e.at <= middle.at));
      assert.deepEqual((await auditPage(admin, '?until=2000-01-01T00:00:00Z')).events, []);
    });

    test('keyset paging: newest first, disjoint pages, the same events as one big page', async () => {
      const all = (await auditPage(admin, '?limit=200')).events;
      assert.ok(all.length > 6);
      const ids = all.map((e) => BigInt(e.id));
      assert.deepEqual(
        ids,
        [...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)),
        'newest first',
      );
      const paged: AuditEvent[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const page = await auditPage(admin, `?limit=5${cursor ? `&before=${cursor}` : ''}`);
        assert.ok(page.events.length <= 5);
        paged.push(...page.events);
        cursor = page.next;
        pages++;
      } while (cursor && paged.length < all.length);
      assert.ok(pages > 1);
      assert.deepEqual(
        paged.slice(0, all.length).map((e) => e.id),
        all.map((e) => e.id),
      );
      const last = await auditPage(admin, `?before=${all.at(-1)!.id}&limit=200`);
      assert.ok(last.events.every((e) => BigInt(e.id) < BigInt(all.at(-1)!.id)));
    });

    test('others read their own events and those of databases they own or manage', async () => {
      const carol = await allEvents(tokens.carol);
      assert.ok(carol.length > 0);
      assert.ok(
        carol.every((e) => e.actorId === ids.carol || e.database?.startsWith('carol/')),
        JSON.stringify(carol.filter((e) => e.actorId !== ids.carol).slice(0, 3)),
      );
      assert.ok(!carol.some((e) => e.database === 'alice/app'));

      const dave = await allEvents(tokens.dave);
      assert.ok(
        dave.some((e) => e.kind === 'grant.put' && e.actor === 'alice'),
        'a manager sees the database',
      );
      assert.ok(dave.every((e) => e.actorId === ids.dave || e.database === 'alice/app'));

      const bob = await allEvents(tokens.bob);
      assert.ok(!bob.some((e) => e.kind === 'grant.put'), 'read-write does not see the sharing');
      assert.ok(bob.every((e) => e.actorId === ids.bob));

      // Filtering by an entity is no way to probe names: unknown and invisible look alike.
      assert.deepEqual((await auditPage(tokens.bob, '?entity=carol')).events, []);
      assert.deepEqual(await auditPage(tokens.bob, '?entity=no-such-entity'), {
        events: [],
        next: null,
      });
      assertError(await http.call('GET', '/audit?entity=no-such-entity', { token: admin }), 404);
    });

    test('validation: 400 for bad filters', async () => {
      for (const query of [
        '?limit=0',
        '?limit=201',
        '?limit=ten',
        '?since=yesterday',
        '?until=2030-13-45T00:00:00Z',
        '?since=2030-01-02T00:00:00Z&until=2030-01-01T00:00:00Z',
        '?kind=DROP%20TABLE',
        '?before=abc',
        '?database=app',
        '?entity=Not%20Valid',
        '?actor=alice',
        '?kind=a&kind=b',
      ]) {
        assertError(
          await http.call('GET', `/audit${query}`, { token: tokens.alice }),
          400,
          undefined,
        );
      }
    });

    test('unauthenticated: 401', async () => {
      assertError(await http.call('GET', '/audit'), 401);
    });
  });
});
