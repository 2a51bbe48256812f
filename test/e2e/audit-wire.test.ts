import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { AdminHttp } from '../support/admin-http';
import { psql } from '../support/clients';
import { ControlFixtures } from '../support/control-fixtures';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import {
  connectTls,
  errorFields,
  int32,
  message,
  scramLogin,
  type BackendMessage,
} from '../support/raw-client';

interface AuditEvent {
  id: string;
  at: string;
  kind: string;
  outcome: string;
  actor: string | null;
  actorId: string | null;
  source: string | null;
  method: string | null;
  database: string | null;
  databaseId: string | null;
  detail?: Record<string, unknown>;
}

/**
 * Issue 12 part 3: every wire statement in the audit log (`wire.query`), as
 * HTTP queries are (`http.query`): simple, extended (a named statement once,
 * its executions counted), COPY both ways, failures with their SQLSTATE,
 * pipelined batches; why wire logins failed (for the admin only); retention
 * and literal redaction. The real gateway, node-postgres, psql and raw bytes.
 */
describe('AUDIT wire statements and logins in the audit log', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let admin: string;
  let ca: string;

  before(async () => {
    postern = await PosternProcess.start({ env: { POSTERN_LOGIN_MAX_FAILURES: '3' } });
    http = AdminHttp.of(postern);
    admin = await http.login();
    ca = await postern.ca();
  });
  after(async () => {
    await postern.dispose();
  });

  async function events(query: string): Promise<AuditEvent[]> {
    const answer = await http.call('GET', `/audit?limit=200&${query}`, { token: admin });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.events;
  }

  /** Events are written in batches: poll until `found` holds. */
  async function waitForEvents(
    query: string,
    found: (events: AuditEvent[]) => boolean,
  ): Promise<AuditEvent[]> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const page = await events(query);
      if (found(page)) return page;
      if (Date.now() > deadline) {
        assert.fail(`no events for ${query} as expected: ${JSON.stringify(page.slice(0, 5))}`);
      }
      await sleep(100);
    }
  }

  /** The wire.query events whose statement contains `marker`. */
  async function statements(marker: string, count = 1): Promise<AuditEvent[]> {
    const page = await waitForEvents(
      'kind=wire.query',
      (page) => page.filter((e) => String(e.detail?.statement).includes(marker)).length >= count,
    );
    return page.filter((e) => String(e.detail?.statement).includes(marker));
  }

  test('AUDIT-01 a simple Query is one event: text, rows, duration, no SQLSTATE, who and from where', async () => {
    const client = await postern.connect({ application_name: 'audit-simple' });
    await client.query('SELECT g FROM generate_series(1, 5) g /* audit-01 */');
    await client.end();
    const [event, more] = await statements('audit-01');
    assert.equal(more, undefined, 'one event per statement');
    assert.equal(event!.kind, 'wire.query');
    assert.equal(event!.outcome, 'success');
    assert.equal(event!.actor, 'admin');
    assert.equal(event!.database, 'admin/main');
    assert.ok(event!.databaseId);
    assert.match(event!.method ?? '', /^SCRAM-SHA-256/);
    assert.match(event!.source ?? '', /127\.0\.0\.1|::1/);
    const detail = event!.detail!;
    assert.equal(detail.statement, 'SELECT g FROM generate_series(1, 5) g /* audit-01 */');
    assert.equal(detail.rowCount, 5);
    assert.equal(detail.executions, 1);
    assert.equal(detail.sqlstate, null);
    assert.equal(detail.protocol, 'simple');
    assert.equal(detail.level, 'owner');
    assert.equal(detail.applicationName, 'audit-simple');
    assert.equal(detail.tokenId, null);
    assert.equal(typeof detail.durationMs, 'number');
    assert.ok((detail.durationMs as number) >= 0);
    assert.equal(typeof detail.sessionId, 'number');
  });

  test('AUDIT-02 a named prepared statement executed 3 times is one event with 3 executions; unnamed ones one each', async () => {
    const client = await postern.connect();
    for (let i = 0; i < 3; i++) {
      await client.query({
        name: 'audit02',
        text: 'SELECT $1::int + 1 AS n /* audit-02 */',
        values: [i],
      });
    }
    await client.query('SELECT $1::text AS t /* audit-02-unnamed */', ['x']);
    await client.query('SELECT $1::text AS t /* audit-02-unnamed */', ['y']);
    const unnamed = await statements('audit-02-unnamed', 2);
    assert.equal(unnamed.length, 2);
    for (const event of unnamed) {
      assert.equal(event.detail!.protocol, 'extended');
      assert.equal(event.detail!.prepared, null);
      assert.equal(event.detail!.executions, 1);
      assert.equal(event.detail!.rowCount, 1);
    }
    // A named statement's executions are reported when it is closed or its session ends.
    await client.end();
    const named = (await statements('audit-02 */')).filter((e) => e.detail!.prepared);
    assert.equal(named.length, 1, JSON.stringify(named));
    assert.equal(named[0]!.detail!.prepared, 'audit02');
    assert.equal(named[0]!.detail!.executions, 3);
    assert.equal(named[0]!.detail!.rowCount, 3);
    assert.equal(named[0]!.detail!.statement, 'SELECT $1::int + 1 AS n /* audit-02 */');
    assert.equal(named[0]!.outcome, 'success');
  });

  test('AUDIT-03 COPY FROM STDIN and COPY TO STDOUT are events with their row counts', async () => {
    const client = await postern.connect();
    await client.query('CREATE TABLE audit_copy (id int, label text)');
    await pipeline(
      Readable.from(['1\tone\n', '2\ttwo\n', '3\tthree\n']),
      client.query(copyFrom('COPY audit_copy FROM STDIN /* audit-03-in */')),
    );
    let copied = '';
    await pipeline(
      client.query(copyTo('COPY audit_copy TO STDOUT /* audit-03-out */')),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          copied += chunk.toString();
          done();
        },
      }),
    );
    assert.equal(copied, '1\tone\n2\ttwo\n3\tthree\n');
    await client.end();
    for (const marker of ['audit-03-in', 'audit-03-out']) {
      const [event] = await statements(marker);
      assert.equal(event!.outcome, 'success');
      assert.equal(event!.detail!.rowCount, 3, marker);
      assert.equal(event!.detail!.sqlstate, null);
    }
  });

  test('AUDIT-04 a failed statement (psql) is a failure with its SQLSTATE and the client application name', async () => {
    const result = await psql(
      postern.conninfo('admin', 'admin/main', 'sslmode=verify-full application_name=psql-audit'),
      ADMIN_PASSWORD,
      'SELECT 1/0 AS audit04;',
    );
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /division by zero/);
    const [event] = await statements('audit04');
    assert.equal(event!.outcome, 'failure');
    assert.equal(event!.detail!.sqlstate, '22012');
    assert.equal(event!.detail!.errors, 1);
    assert.equal(event!.detail!.rowCount, 0);
    assert.equal(event!.detail!.applicationName, 'psql-audit');
  });

  test('AUDIT-05 a pipelined batch: results matched in order, the failing statement named, the skipped one absent', async () => {
    const socket = await connectTls(postern.wirePort, ca);
    const { messages, stream } = await scramLogin(
      socket,
      { user: 'admin', database: 'admin/main' },
      ADMIN_PASSWORD,
    );
    assert.equal(messages.at(-1)?.type, 'Z');
    const extended = (sql: string) => [
      message('P', Buffer.concat([Buffer.from(`\0${sql}\0`), Buffer.from([0, 0])])),
      message('B', Buffer.concat([Buffer.from('\0\0'), Buffer.from([0, 0, 0, 0, 0, 0])])),
      message('E', Buffer.concat([Buffer.from('\0'), int32(0)])),
    ];
    socket.write(
      Buffer.concat([
        ...extended('SELECT 1 AS audit05_ok'),
        ...extended('SELECT * FROM audit05_missing_table'),
        ...extended('SELECT 3 AS audit05_skipped'),
        message('S', ''),
        message('Q', 'SELECT 4 AS audit05_after\0'),
      ]),
    );
    // Up to the ReadyForQuery of the Sync, then of the Query.
    const replies: BackendMessage[] = [];
    while (replies.filter((m) => m.type === 'Z').length < 2) {
      const msg = await stream.next();
      assert.ok(msg, `closed after ${replies.map((m) => m.type).join('')}`);
      replies.push(msg);
    }
    socket.end(message('X', ''));
    const error = replies.find((m) => m.type === 'E');
    assert.equal(errorFields(error!.body).C, '42P01');
    const ok = (await statements('audit05_ok'))[0]!;
    assert.equal(ok.outcome, 'success');
    assert.equal(ok.detail!.rowCount, 1);
    const failed = (await statements('audit05_missing_table'))[0]!;
    assert.equal(failed.outcome, 'failure');
    assert.equal(failed.detail!.sqlstate, '42P01');
    const afterwards = (await statements('audit05_after'))[0]!;
    assert.equal(afterwards.outcome, 'success');
    assert.equal(afterwards.detail!.protocol, 'simple');
    const skipped = (await events('kind=wire.query')).filter((e) =>
      String(e.detail?.statement).includes('audit05_skipped'),
    );
    assert.deepEqual(skipped, [], 'a statement PostgreSQL skipped after the error never ran');
  });

  test('AUDIT-06 a token login: the token id on the login and on every statement', async () => {
    const created = await http.call('POST', '/entities/admin/tokens', {
      token: admin,
      body: { name: 'audit06', databases: ['admin/main'] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const client = await postern.connect({ password: created.body.token });
    await client.query('SELECT 6 AS audit06');
    await client.end();
    const [event] = await statements('audit06');
    assert.equal(event!.detail!.tokenId, created.body.id);
    assert.match(event!.method ?? '', /\(token\)$/);
    const logins = await waitForEvents('kind=wire.login&entity=admin', (page) =>
      page.some((e) => e.detail?.tokenId === created.body.id && e.outcome === 'success'),
    );
    const login = logins.find((e) => e.detail?.tokenId === created.body.id)!;
    assert.equal(login.detail!.sessionId, event!.detail!.sessionId);
    assert.equal(login.database, 'admin/main');
  });

  test('AUDIT-07 why a wire login failed is in the audit log for the admin, never in what the client gets', async () => {
    for (const slug of ['audit-user', 'audit-disabled', 'audit-throttled']) {
      const created = await http.call('POST', '/entities', {
        token: admin,
        body: { kind: 'user', slug, password: `${slug}-password` },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
    }
    for (const [owner, name] of [
      ['admin', 'audit-other'],
      ['audit-user', 'main'],
    ]) {
      const database = await http.call('POST', '/databases', {
        token: admin,
        body: { owner, name },
      });
      assert.equal(database.status, 201, JSON.stringify(database.body));
    }
    const userSession = await http.login('audit-user', 'audit-user-password');
    const scoped = await http.call('POST', '/entities/audit-user/tokens', {
      token: userSession,
      body: { name: 'elsewhere', databases: ['audit-user/main'] },
    });
    const soonExpired = await http.call('POST', '/entities/audit-user/tokens', {
      token: userSession,
      body: { name: 'short', expiresAt: new Date(Date.now() + 1500).toISOString() },
    });
    for (const answer of [scoped, soonExpired]) {
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
    }
    assert.equal(
      (
        await http.call('PATCH', '/entities/audit-disabled', {
          token: admin,
          body: { disabled: true },
        })
      ).status,
      200,
    );
    await sleep(1600); // the short token has expired

    /** What the client gets: SQLSTATE and message. */
    async function attempt(user: string, password: string, database: string): Promise<string> {
      const client = new pg.Client({
        host: 'localhost',
        port: postern.wirePort,
        user,
        password,
        database,
        ssl: { ca, servername: 'localhost' },
      });
      try {
        await client.connect();
        await client.end();
        return 'ok';
      } catch (err) {
        const { code, message: text } = err as { code?: string; message: string };
        return `${code} ${text}`;
      }
    }
    const refused = 'password authentication failed';
    const cases: Array<[string, string, string, string]> = [
      ['audit-user', 'not-the-password', 'audit-user/main', 'wrong-password'],
      ['audit-nobody', 'whatever-password', 'audit-nobody/main', 'unknown-user'],
      ['audit-disabled', 'audit-disabled-password', 'audit-disabled/main', 'disabled'],
      ['audit-user', scoped.body.token, 'admin/audit-other', 'token-out-of-scope'],
      ['audit-user', soonExpired.body.token, 'audit-user/main', 'token-expired'],
    ];
    const answers = new Set<string>();
    for (const [user, password, database] of cases) {
      const answer = await attempt(user, password, database);
      assert.match(answer, /^28P01 /, `${user}: ${answer}`);
      assert.ok(answer.includes(refused));
      answers.add(answer.replace(user, '<user>'));
    }
    assert.equal(answers.size, 1, `one answer for every failure: ${[...answers].join(' | ')}`);
    // Throttled: the fourth failure in a row of one (address, user) pair, past the limit of 3.
    for (let i = 0; i < 3; i++)
      await attempt('audit-throttled', 'wrong-again', 'audit-throttled/main');
    assert.match(
      await attempt('audit-throttled', 'audit-throttled-password', 'audit-throttled/main'),
      /^28P01 /,
    );
    cases.push(['audit-throttled', '', '', 'throttled']);

    const failures = await waitForEvents('kind=wire.login', (page) =>
      cases.every(([user, , , reason]) =>
        page.some(
          (e) => e.actor === user && e.outcome === 'failure' && e.detail?.reason === reason,
        ),
      ),
    );
    for (const [user, , , reason] of cases) {
      const event = failures.find((e) => e.actor === user && e.detail?.reason === reason);
      assert.ok(event, `${user}: ${reason}`);
    }
    const secrets = [scoped.body.token, soonExpired.body.token, 'not-the-password'];
    const everything = JSON.stringify(failures);
    for (const secret of secrets) assert.ok(!everything.includes(secret), 'no secret in the log');
  });

  test('AUDIT-08 a login to a database that does not exist is a failure (no-such-database), never a success', async () => {
    const answer = await psql(
      postern.conninfo('admin', 'admin/audit-nope'),
      ADMIN_PASSWORD,
      'SELECT 1;',
    );
    assert.notEqual(answer.code, 0);
    assert.match(answer.stderr, /database "admin\/audit-nope" does not exist/);
    const found = await waitForEvents(
      'kind=wire.login&database=admin/audit-nope',
      (page) => page.length > 0,
    );
    await sleep(200); // a success would be written in the same batch or the next
    const all = await events('kind=wire.login&database=admin/audit-nope');
    assert.ok(found.length > 0);
    assert.deepEqual(
      all.map((e) => [e.outcome, e.detail?.reason]),
      all.map(() => ['failure', 'no-such-database']),
    );
    assert.ok(all.every((e) => e.actor === 'admin'));
  });
});

describe('AUDIT retention and literal redaction', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let admin: string;
  let fixtures: ControlFixtures;

  before(async () => {
    postern = await PosternProcess.start({
      env: { POSTERN_AUDIT_RETENTION: '60s', POSTERN_AUDIT_REDACT_LITERALS: 'on' },
    });
    http = AdminHttp.of(postern);
    admin = await http.login();
    fixtures = await ControlFixtures.connect(postern);
  });
  after(async () => {
    await fixtures.close();
    await postern.dispose();
  });

  async function events(query: string): Promise<AuditEvent[]> {
    const answer = await http.call('GET', `/audit?limit=200&${query}`, { token: admin });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.events;
  }

  test('AUDIT-09 with POSTERN_AUDIT_REDACT_LITERALS literals never reach the log, wire or HTTP', async () => {
    const client = await postern.connect();
    await client.query("SELECT 'hunter2-secret' AS pw, 4242 AS n /* audit-09 e'note' */");
    await client.query("SELECT $tag$hunter2-dollar$tag$, E'hunter2\\'escaped' AS audit09b");
    await client.end();
    const query = await http.call('POST', '/databases/admin/main/query', {
      token: admin,
      body: { sql: "SELECT 'hunter2-http' AS audit09c" },
    });
    assert.equal(query.status, 200, JSON.stringify(query.body));
    const deadline = Date.now() + 15_000;
    let page: AuditEvent[] = [];
    while (Date.now() < deadline) {
      page = [...(await events('kind=wire.query')), ...(await events('kind=http.query'))];
      if (
        ['AS pw', 'audit09b', 'audit09c'].every((m) =>
          page.some((e) => String(e.detail?.statement).includes(m)),
        )
      )
        break;
      await sleep(100);
    }
    const text = (marker: string) =>
      page.find((e) => String(e.detail?.statement).includes(marker))?.detail?.statement;
    assert.equal(text('AS pw'), 'SELECT $? AS pw, $? AS n $?');
    assert.equal(text('audit09b'), 'SELECT $?, $? AS audit09b');
    assert.equal(text('audit09c'), 'SELECT $? AS audit09c');
    assert.ok(page.every((e) => e.detail?.redacted === true));
    assert.ok(!JSON.stringify(page).includes('hunter2'), 'a literal reached the audit log');
  });

  test('AUDIT-10 events older than POSTERN_AUDIT_RETENTION are deleted, newer ones kept', async () => {
    await fixtures.superuser('postern_control', (client) =>
      client.query(
        `INSERT INTO public.audit_event (at, kind, outcome, actor) VALUES
           (now() - interval '2 days', 'test.old', 'success', 'audit10'),
           (now() - interval '10 seconds', 'test.recent', 'success', 'audit10')`,
      ),
    );
    assert.equal((await events('kind=test.old')).length, 1);
    const deadline = Date.now() + 20_000;
    while ((await events('kind=test.old')).length > 0) {
      assert.ok(Date.now() < deadline, 'the old event is still there');
      await sleep(250);
    }
    assert.equal((await events('kind=test.recent')).length, 1);
  });
  test('AUDIT-13 POSTERN_AUDIT_STATEMENTS=off (reloaded with SIGHUP) records no statement of new sessions', async () => {
    const reload = async (statements: 'on' | 'off') => {
      const lines = postern.logMessages.split('SIGHUP').length;
      await writeFile(
        path.join(postern.workDir, 'postern.toml'),
        `[audit]\nstatements = "${statements}"\n`,
      );
      process.kill(postern.pid, 'SIGHUP');
      const deadline = Date.now() + 10_000;
      while (postern.logMessages.split('SIGHUP').length === lines) {
        assert.ok(Date.now() < deadline, 'no reload line');
        await sleep(50);
      }
      assert.match(postern.logMessages, /SIGHUP: reloaded audit\.statements/);
    };
    await reload('off');
    const quiet = await postern.connect();
    await quiet.query('SELECT 13 AS audit13_off');
    await quiet.end();
    await reload('on');
    const loud = await postern.connect();
    await loud.query('SELECT 13 AS audit13_on');
    await loud.end();
    const deadline = Date.now() + 15_000;
    let page: AuditEvent[] = [];
    while (!page.some((e) => String(e.detail?.statement).includes('audit13_on'))) {
      assert.ok(Date.now() < deadline, 'the statement of the session after "on" is missing');
      await sleep(100);
      page = await events('kind=wire.query');
    }
    assert.ok(!page.some((e) => String(e.detail?.statement).includes('audit13_off')));
  });
});
