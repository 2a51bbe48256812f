import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { AdminHttp } from '../support/admin-http';
import { ControlFixtures } from '../support/control-fixtures';
import { PosternProcess } from '../support/postern-process';

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
 * Issue 12: wire statements are written to their own lean table
 * (`statement_event`, typed columns, COPY) rather than one JSON row each in
 * `audit_event`. What users see must not change: `GET /audit` shows them
 * among the other events, newest first, paged, filtered and scoped as
 * before; retention deletes them; a burst larger than one write is complete.
 */
describe('AUDIT wire statements in the statement log', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let admin: string;
  let fixtures: ControlFixtures;

  before(async () => {
    postern = await PosternProcess.start({ env: { POSTERN_AUDIT_RETENTION: '60s' } });
    http = AdminHttp.of(postern);
    admin = await http.login();
    fixtures = await ControlFixtures.connect(postern);
  });
  after(async () => {
    await fixtures.close();
    await postern.dispose();
  });

  async function page(
    query: string,
    token = admin,
  ): Promise<{ events: AuditEvent[]; next: string | null }> {
    const answer = await http.call('GET', `/audit?${query}`, { token });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body;
  }

  /** Every event of `query`, following `next` page by page. */
  async function allEvents(query: string, token = admin): Promise<AuditEvent[]> {
    const events: AuditEvent[] = [];
    let before: string | null = null;
    do {
      const answer = await page(`${query}${before ? `&before=${before}` : ''}`, token);
      events.push(...answer.events);
      before = answer.next;
    } while (before);
    return events;
  }

  async function waitForStatements(marker: string, count: number): Promise<AuditEvent[]> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const found = (await allEvents('kind=wire.query&limit=200')).filter((e) =>
        String(e.detail?.statement).includes(marker),
      );
      if (found.length >= count) return found;
      assert.ok(Date.now() < deadline, `${found.length} of ${count} "${marker}" statements`);
      await sleep(200);
    }
  }

  async function statementRows(marker: string): Promise<number> {
    return fixtures.superuser('postern_control', async (client) => {
      const { rows } = await client.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM public.statement_event WHERE statement LIKE $1',
        [`%${marker}%`],
      );
      return rows[0]!.n;
    });
  }

  test('AUDIT-14 statements are rows of the statement log, shown by GET /audit among the other events, newest first and paged', async () => {
    const client = await postern.connect({ application_name: 'audit-14' });
    await client.query('SELECT 1 AS audit14_first');
    await client.query('SELECT g FROM generate_series(1, 3) g /* audit14_second */');
    await client.query('SELECT 1/0 AS audit14_failed').catch(() => undefined);
    await client.end();
    const [failed] = await waitForStatements('audit14_failed', 1);
    assert.equal(await statementRows('audit14'), 3, 'one typed row per statement');
    assert.equal(failed!.outcome, 'failure');
    assert.equal(failed!.detail!.sqlstate, '22012');
    assert.equal(failed!.detail!.errors, 1);
    const [second] = await waitForStatements('audit14_second', 1);
    assert.deepEqual(
      { ...second!.detail, durationMs: 0, sessionId: 0 },
      {
        statement: 'SELECT g FROM generate_series(1, 3) g /* audit14_second */',
        truncated: false,
        level: 'owner',
        rowCount: 3,
        sqlstate: null,
        protocol: 'simple',
        prepared: null,
        executions: 1,
        errors: 0,
        durationMs: 0,
        sessionId: 0,
        tokenId: null,
        applicationName: 'audit-14',
      },
    );
    assert.equal(second!.actor, 'admin');
    assert.equal(second!.database, 'admin/main');
    assert.match(second!.method ?? '', /^SCRAM-SHA-256/);

    // Unfiltered: statements and other events in one order, newest first, across pages.
    const whole = (await page('limit=200')).events;
    const ids = whole.map((e) => BigInt(e.id));
    assert.ok(
      ids.every((id, i) => i === 0 || id < ids[i - 1]!),
      'ids strictly decreasing',
    );
    const kinds = new Set(whole.map((e) => e.kind));
    assert.ok(kinds.has('wire.query') && kinds.has('wire.login'), [...kinds].join());
    const paged = await allEvents('limit=7');
    assert.deepEqual(
      paged.slice(0, whole.length).map((e) => e.id),
      whole.map((e) => e.id),
    );
    const filtered = await allEvents('entity=admin&database=admin/main&limit=50');
    assert.ok(filtered.some((e) => String(e.detail?.statement).includes('audit14_first')));
    const since = await page(`kind=wire.query&since=${encodeURIComponent(second!.at)}&limit=200`);
    assert.ok(since.events.every((e) => e.at >= second!.at));
    const until = await page(`kind=wire.query&until=2000-01-01T00:00:00Z`);
    assert.deepEqual(until.events, []);
  });

  test('AUDIT-15 a user reads their own statements in the statement log, not others on a database they do not manage', async () => {
    const tokens = await http.createUsers(admin, ['audit15']);
    const granted = await http.call('PUT', '/databases/admin/main/grants/audit15', {
      token: admin,
      body: { level: 'read-only' },
    });
    assert.ok([200, 201].includes(granted.status), JSON.stringify(granted.body));
    // The gateway learns of the grant from a notification: logins may be refused until then.
    const deadline = Date.now() + 10_000;
    let mine: Awaited<ReturnType<PosternProcess['connect']>> | undefined;
    while (!mine) {
      mine = await postern
        .connect({ user: 'audit15', password: 'audit15-password' })
        .catch((err: Error) => {
          assert.ok(Date.now() < deadline, err.message);
          return sleep(100).then(() => undefined);
        });
    }
    await mine.query('SELECT 15 AS audit15_mine');
    await mine.end();
    const theirs = await postern.connect();
    await theirs.query('SELECT 15 AS audit15_admins');
    await theirs.end();
    await waitForStatements('audit15_admins', 1);
    await waitForStatements('audit15_mine', 1);
    const seen = await allEvents('kind=wire.query&limit=200', tokens.audit15);
    assert.ok(seen.some((e) => String(e.detail?.statement).includes('audit15_mine')));
    assert.ok(
      seen.every((e) => e.actor === 'audit15'),
      JSON.stringify(seen.map((e) => e.actor)),
    );
  });

  test('AUDIT-16 retention deletes old rows of the statement log, keeps newer ones', async () => {
    const client = await postern.connect();
    await client.query('SELECT 16 AS audit16_recent');
    await client.end();
    await waitForStatements('audit16_recent', 1);
    await fixtures.superuser('postern_control', (c) =>
      c.query(
        `INSERT INTO public.statement_event (at, actor, statement, protocol)
         VALUES (now() - interval '2 days', 'admin', 'SELECT 16 AS audit16_old', 'simple')`,
      ),
    );
    assert.equal(await statementRows('audit16_old'), 1);
    const deadline = Date.now() + 20_000;
    while ((await statementRows('audit16_old')) > 0) {
      assert.ok(Date.now() < deadline, 'the old statement is still there');
      await sleep(250);
    }
    assert.equal(await statementRows('audit16_recent'), 1);
  });

  test('AUDIT-17 a burst of statements larger than one write (2,500 of 6 KiB, one over 8 KiB) is complete', async () => {
    const client = await postern.connect();
    const filler = 'x'.repeat(6000);
    const sent: Array<Promise<unknown>> = [];
    for (let i = 0; i < 2500; i++) {
      sent.push(client.query(`SELECT ${i} AS audit17 /* ${filler} tab\there\nline ${i} */`));
    }
    sent.push(client.query(`SELECT 1 AS audit17_long /* ${'y'.repeat(9000)} */`));
    await Promise.all(sent);
    await client.end();
    const deadline = Date.now() + 30_000;
    while ((await statementRows('AS audit17 ')) < 2500) {
      assert.ok(Date.now() < deadline, 'statements missing');
      await sleep(250);
    }
    const found = await waitForStatements('AS audit17 ', 2500);
    assert.equal(found.length, 2500);
    const numbers = new Set(
      found.map((e) => /line (\d+) \*\/$/.exec(String(e.detail!.statement))?.[1]),
    );
    assert.equal(numbers.size, 2500, 'each statement once, its text whole');
    assert.ok(
      found.every((e) => String(e.detail!.statement).includes(`${filler} tab\there\nline`)),
    );
    const [long] = await waitForStatements('audit17_long', 1);
    assert.equal(long!.detail!.truncated, true);
    assert.equal(Buffer.byteLength(String(long!.detail!.statement)), 8192);
  });
});
