import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { AdminHttp, assertError, type HttpAnswer } from '../support/admin-http';
import { PosternProcess } from '../support/postern-process';

interface QueryResult {
  fields: Array<{ name: string; dataTypeID: number }>;
  rows: unknown[][];
  command: string | null;
  rowCount: number | null;
}

/**
 * POST /api/v1/databases/:owner/:name/query (issue 6): typed JSON, bound
 * parameters, one statement or an explicit transaction, guardrails, levels
 * and token scopes enforced by PostgreSQL's roles, NDJSON streaming with
 * backpressure, audit without parameters.
 */
describe('HTTP query execution', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let admin: string;
  let alice: string;
  let bob: string;
  let carol: string;

  before(async () => {
    postern = await PosternProcess.start();
    http = AdminHttp.of(postern);
    admin = await http.login();
    const users = await http.createUsers(admin, ['alice', 'bob', 'carol']);
    alice = users.alice!;
    bob = users.bob!;
    carol = users.carol!;
    for (const name of ['notes', 'other', 'limited']) {
      const db = await http.call('POST', '/databases', {
        token: alice,
        body: { owner: 'alice', name },
      });
      assert.equal(db.status, 201, JSON.stringify(db.body));
    }
    const db = await http.call('POST', '/databases', {
      token: carol,
      body: { owner: 'carol', name: 'private' },
    });
    assert.equal(db.status, 201, JSON.stringify(db.body));
    const grant = await http.call('PUT', '/databases/alice/notes/grants/bob', {
      token: alice,
      body: { level: 'read-only' },
    });
    assert.equal(grant.status, 200, JSON.stringify(grant.body));
    const setup = await query(alice, 'alice/notes', {
      transaction: [
        { sql: 'CREATE TABLE notes (id serial PRIMARY KEY, title text NOT NULL UNIQUE)' },
        { sql: "INSERT INTO notes (title) VALUES ('first'), ('second')" },
      ],
    });
    assert.equal(setup.status, 200, JSON.stringify(setup.body));
  });
  after(() => postern.dispose());

  function query(
    token: string | undefined,
    database: string,
    body: unknown,
    headers: Record<string, string> = {},
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
  ): Promise<HttpAnswer<any>> {
    return http.call('POST', `/databases/${database}/query`, { token, body, headers });
  }

  async function ok(token: string, database: string, body: unknown): Promise<QueryResult> {
    const answer = await query(token, database, body);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body as QueryResult;
  }

  async function count(): Promise<number> {
    const result = await ok(alice, 'alice/notes', { sql: 'SELECT count(*)::int FROM notes' });
    return result.rows[0]![0] as number;
  }

  describe('typed JSON', () => {
    test('the type mapping table: one row with every mapped type', async () => {
      const columns: Array<[string, string, number, unknown]> = [
        ['i2', '(-32768)::int2', 21, -32768],
        ['i4', '2147483647::int4', 23, 2147483647],
        ['i8', '9007199254740993::int8', 20, '9007199254740993'],
        ['f4', '1.5::float4', 700, 1.5],
        ['f8', '-2.25e300::float8', 701, -2.25e300],
        ['nan', "'NaN'::float8", 701, 'NaN'],
        ['inf', "'-Infinity'::float8", 701, '-Infinity'],
        ['o', '4294967295::oid', 26, 4294967295],
        [
          'num',
          '123456789012345678901234567890.123::numeric',
          1700,
          '123456789012345678901234567890.123',
        ],
        ['b', 'true', 16, true],
        ['by', "'\\xdeadbeef00'::bytea", 17, Buffer.from('deadbeef00', 'hex').toString('base64')],
        ['j', `'{"a": [1, "x", null]}'::json`, 114, { a: [1, 'x', null] }],
        ['jb', `'{"b": {"c": true}}'::jsonb`, 3802, { b: { c: true } }],
        [
          'tstz',
          "'2024-02-29 23:59:59.123456+02'::timestamptz",
          1184,
          '2024-02-29T21:59:59.123456+00:00',
        ],
        ['ts', "'2024-01-02 03:04:05'::timestamp", 1114, '2024-01-02T03:04:05'],
        ['d', "'2024-01-02'::date", 1082, '2024-01-02'],
        ['t', "'03:04:05.5'::time", 1083, '03:04:05.5'],
        ['iv', "'1 day 2 hours'::interval", 1186, 'P1DT2H'],
        [
          'u',
          "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
          2950,
          'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
        ],
        ['tx', "'naïve ☃'::text", 25, 'naïve ☃'],
        ['n', 'NULL::int4', 23, null],
        [
          'ta',
          `ARRAY['a,b', 'say "hi"', NULL, 'back\\slash', 'NULL', '', '{x}']::text[]`,
          1009,
          ['a,b', 'say "hi"', null, 'back\\slash', 'NULL', '', '{x}'],
        ],
        ['ia', 'ARRAY[1, NULL, 3]::int4[]', 1007, [1, null, 3]],
        [
          'i8a',
          'ARRAY[[9007199254740993, 2], [3, NULL]]::int8[]',
          1016,
          [
            ['9007199254740993', '2'],
            ['3', null],
          ],
        ],
        [
          'ba',
          "ARRAY['\\x0102'::bytea, NULL]",
          1001,
          [Buffer.from([1, 2]).toString('base64'), null],
        ],
        ['ja', `ARRAY['{"k": [1]}'::jsonb, NULL]`, 3807, [{ k: [1] }, null]],
        ['bla', 'ARRAY[true, false]', 1000, [true, false]],
        [
          'tsa',
          "ARRAY['2024-01-02 03:04:05+00'::timestamptz]",
          1185,
          ['2024-01-02T03:04:05+00:00'],
        ],
        ['numa', 'ARRAY[1.50::numeric, NULL]', 1231, ['1.50', null]],
        ['fa', "ARRAY['NaN'::float8, 0.5]", 1022, ['NaN', 0.5]],
      ];
      const sql = `SELECT ${columns.map(([name, expr]) => `${expr} AS ${name}`).join(', ')}`;
      const result = await ok(alice, 'alice/notes', { sql });
      assert.deepEqual(
        result.fields,
        columns.map(([name, , oid]) => ({ name, dataTypeID: oid })),
      );
      assert.equal(result.rows.length, 1);
      columns.forEach(([name, , , expected], i) => {
        assert.deepEqual(result.rows[0]![i], expected, name);
      });
      assert.equal(result.command, 'SELECT');
      assert.equal(result.rowCount, 1);
      // int8 beyond 2^53 survives exactly only because it is a string.
      assert.notEqual(Number(result.rows[0]![2]).toString(), '9007199254740993');
    });

    test('commands without rows: fields empty, command and rowCount from the tag', async () => {
      const insert = await ok(alice, 'alice/notes', {
        sql: 'INSERT INTO notes (title) VALUES ($1), ($2)',
        params: ['third', 'fourth'],
      });
      assert.deepEqual(insert, { fields: [], rows: [], command: 'INSERT', rowCount: 2 });
      const ddl = await ok(alice, 'alice/notes', {
        sql: 'CREATE TABLE IF NOT EXISTS scratch (x int)',
      });
      assert.deepEqual(ddl, { fields: [], rows: [], command: 'CREATE', rowCount: null });
      const deleted = await ok(alice, 'alice/notes', {
        sql: 'DELETE FROM notes WHERE title IN ($1, $2)',
        params: ['third', 'fourth'],
      });
      assert.equal(deleted.rowCount, 2);
    });
  });

  describe('parameters', () => {
    test('bound server-side as text: NULL, numbers, booleans, JSON, injection-looking strings', async () => {
      const sneaky = "'); DROP TABLE notes; --";
      const result = await ok(alice, 'alice/notes', {
        sql: 'SELECT $1::text AS s, $2::int AS i, $3::text IS NULL AS isnull, $4::jsonb AS j, $5::bool AS b, $6::numeric AS n',
        params: [sneaky, 42, null, { k: [1, 'two'] }, false, 1.25],
      });
      assert.deepEqual(result.rows, [[sneaky, 42, true, { k: [1, 'two'] }, false, '1.25']]);

      const stored = await ok(alice, 'alice/notes', {
        sql: 'INSERT INTO notes (title) VALUES ($1) RETURNING title',
        params: [sneaky],
      });
      assert.deepEqual(stored.rows, [[sneaky]]);
      assert.equal(await count(), 3, 'the table is still there, with the string stored verbatim');
      await ok(alice, 'alice/notes', {
        sql: 'DELETE FROM notes WHERE title = $1',
        params: [sneaky],
      });
    });

    test('a wrong number of parameters is PostgreSQL’s 400 (08P01), not a guess', async () => {
      const answer = await query(alice, 'alice/notes', {
        sql: 'SELECT $1::int + $2::int',
        params: [1],
      });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.sqlstate, '08P01');
      assert.match(answer.body.message, /bind message supplies 1 parameters/);
    });
  });

  describe('statements and transactions', () => {
    test('several statements in one request are refused, and none of them ran', async () => {
      const before = await count();
      const answer = await query(alice, 'alice/notes', {
        sql: "INSERT INTO notes (title) VALUES ('x1'); INSERT INTO notes (title) VALUES ('x2')",
      });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.sqlstate, '42601');
      assert.match(answer.body.message, /transaction/);
      assert.equal(await count(), before);
    });

    test('SQL errors: 400 with sqlstate and position', async () => {
      const answer = await query(alice, 'alice/notes', { sql: 'SELECT nosuchcolumn FROM notes' });
      assert.equal(answer.status, 400);
      assert.equal(answer.body.statusCode, 400);
      assert.equal(answer.body.error, 'Bad Request');
      assert.equal(answer.body.sqlstate, '42703');
      assert.equal(answer.body.position, 8);
      assert.match(answer.body.message, /nosuchcolumn/);
    });

    test('a transaction returns one result per statement and commits', async () => {
      const answer = await query(alice, 'alice/notes', {
        transaction: [
          { sql: 'INSERT INTO notes (title) VALUES ($1) RETURNING id', params: ['tx-a'] },
          { sql: 'UPDATE notes SET title = $1 WHERE title = $2', params: ['tx-b', 'tx-a'] },
          { sql: 'SELECT title FROM notes WHERE title LIKE $1', params: ['tx-%'] },
        ],
      });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const { results } = answer.body as { results: QueryResult[] };
      assert.equal(results.length, 3);
      assert.equal(results[0]!.command, 'INSERT');
      assert.equal(typeof results[0]!.rows[0]![0], 'number');
      assert.deepEqual([results[1]!.command, results[1]!.rowCount], ['UPDATE', 1]);
      assert.deepEqual(results[2]!.rows, [['tx-b']]);
      await ok(alice, 'alice/notes', { sql: "DELETE FROM notes WHERE title = 'tx-b'" });
    });

    test('an error rolls the whole transaction back and names the statement', async () => {
      const before = await count();
      const answer = await query(alice, 'alice/notes', {
        transaction: [
          { sql: "INSERT INTO notes (title) VALUES ('rolled-back')" },
          { sql: "INSERT INTO notes (title) VALUES ('first')" },
        ],
      });
      assert.equal(answer.status, 400, JSON.stringify(answer.body));
      assert.equal(answer.body.sqlstate, '23505');
      assert.equal(answer.body.statement, 1);
      assert.match(answer.body.detail, /already exists/);
      assert.equal(await count(), before);
    });

    test('a statement may not leave a transaction open, nor end the explicit one', async () => {
      const begin = await query(alice, 'alice/notes', { sql: 'BEGIN' });
      assert.equal(begin.status, 400);
      assert.equal(begin.body.sqlstate, '25000');
      const commit = await query(alice, 'alice/notes', {
        transaction: [{ sql: 'SELECT 1' }, { sql: 'COMMIT' }, { sql: 'SELECT 2' }],
      });
      assert.equal(commit.status, 400);
      assert.equal(commit.body.sqlstate, '25000');
      assert.equal(commit.body.statement, 1);
      // The pooled session is clean afterwards: SAVEPOINT outside a transaction block fails.
      const savepoint = await query(alice, 'alice/notes', { sql: 'SAVEPOINT s' });
      assert.equal(savepoint.status, 400);
      assert.equal(savepoint.body.sqlstate, '25P01');
    });

    test('COPY is refused with 0A000, and the next query still works', async () => {
      for (const sql of ['COPY notes FROM STDIN', 'COPY notes TO STDOUT']) {
        const answer = await query(alice, 'alice/notes', { sql });
        assert.equal(answer.status, 400, JSON.stringify(answer.body));
        assert.equal(answer.body.sqlstate, '0A000');
      }
      assert.ok((await count()) >= 2);
    });
  });

  describe('guardrails', () => {
    test('JSON answers stop at 10,000 rows by default: 400 with 54000', async () => {
      const fits = await ok(alice, 'alice/notes', { sql: 'SELECT generate_series(1, 10000)' });
      assert.equal(fits.rows.length, 10_000);
      const over = await query(alice, 'alice/notes', { sql: 'SELECT generate_series(1, 10001)' });
      assert.equal(over.status, 400, JSON.stringify(over.body));
      assert.equal(over.body.sqlstate, '54000');
      assert.match(over.body.message, /10000 rows/);
    });

    test('and at 10 MiB: 400 with 54000, also for one row larger than the limit', async () => {
      const many = await query(alice, 'alice/notes', {
        sql: "SELECT repeat('x', 1024 * 1024) FROM generate_series(1, 11)",
      });
      assert.equal(many.status, 400, JSON.stringify(many.body));
      assert.equal(many.body.sqlstate, '54000');
      assert.match(many.body.message, /bytes/);
      const huge = await query(alice, 'alice/notes', {
        sql: "SELECT repeat('y', 12 * 1024 * 1024)",
      });
      assert.equal(huge.status, 400, JSON.stringify(huge.body).slice(0, 300));
      assert.equal(huge.body.sqlstate, '54000');
      assert.equal(await count(), 2, 'the database answers normally afterwards');
    });

    test("the database's own limits apply: rows, and the statement timeout (57014)", async () => {
      const limits = await http.call('PUT', '/databases/alice/limited/limits', {
        token: alice,
        body: { maxResultRows: 3, statementTimeoutMs: 500 },
      });
      assert.equal(limits.status, 200, JSON.stringify(limits.body));
      const rows = await query(alice, 'alice/limited', { sql: 'SELECT generate_series(1, 4)' });
      assert.equal(rows.status, 400);
      assert.equal(rows.body.sqlstate, '54000');
      assert.match(rows.body.message, /3 rows/);

      const started = Date.now();
      const slow = await query(alice, 'alice/limited', { sql: 'SELECT pg_sleep(10)' });
      const elapsed = Date.now() - started;
      assert.equal(slow.status, 400, JSON.stringify(slow.body));
      assert.equal(slow.body.sqlstate, '57014');
      assert.match(slow.body.message, /statement timeout/);
      assert.ok(elapsed < 5000, `cancelled after ${elapsed} ms`);

      // NDJSON has no cap of its own, but the database's limit holds there too.
      const streamed = await ndjson(alice, 'alice/limited', {
        sql: 'SELECT generate_series(1, 5)',
      });
      assert.equal(streamed.status, 200);
      const lines = streamed.lines;
      assert.deepEqual(lines.slice(1, 4), [[1], [2], [3]]);
      assert.equal((lines.at(-1) as { error: { sqlstate: string } }).error.sqlstate, '54000');
    });
  });

  describe('who may run what', () => {
    test('a read-only token cannot write through HTTP: 403 with PostgreSQL’s message', async () => {
      const { token } = await createToken(alice, { maxLevel: 'read-only' });
      const read = await query(token, 'alice/notes', { sql: 'SELECT count(*) FROM notes' });
      assert.equal(read.status, 200, JSON.stringify(read.body));
      for (const sql of [
        "INSERT INTO notes (title) VALUES ('nope')",
        'CREATE TABLE sneaky (x int)',
        'DELETE FROM notes',
      ]) {
        const write = await query(token, 'alice/notes', { sql });
        assert.equal(write.status, 403, `${sql}: ${JSON.stringify(write.body)}`);
        assert.equal(write.body.sqlstate, '25006');
        assert.match(write.body.message, /read-only transaction/);
      }
      // Turning read-only off only meets the reader role's missing privileges.
      const forced = await query(token, 'alice/notes', {
        transaction: [
          { sql: 'SET LOCAL transaction_read_only = off' },
          { sql: "INSERT INTO notes (title) VALUES ('nope')" },
        ],
      });
      assert.equal(forced.status, 403, JSON.stringify(forced.body));
      assert.equal(forced.body.sqlstate, '42501');
      assert.equal(await count(), 2);
    });

    test('a read-only grant is the reader role too', async () => {
      const write = await query(bob, 'alice/notes', {
        sql: "INSERT INTO notes (title) VALUES ('b')",
      });
      assert.equal(write.status, 403);
      assert.equal(write.body.sqlstate, '25006');
      const read = await ok(bob, 'alice/notes', {
        sql: 'SELECT current_user LIKE $1',
        params: ['%reader'],
      });
      assert.deepEqual(read.rows, [[true]]);
    });

    test('an invisible database is the same 404 as a missing one', async () => {
      const invisible = await query(bob, 'carol/private', { sql: 'SELECT 1' });
      const missing = await query(bob, 'carol/nothing-here', { sql: 'SELECT 1' });
      assertError(invisible, 404, /not found/);
      assertError(missing, 404, /not found/);
      assert.equal(
        invisible.body.message.replace('private', 'X'),
        missing.body.message.replace('nothing-here', 'X'),
      );
    });

    test('cross-tenant: a token scoped to another database answers 404', async () => {
      const { token } = await createToken(alice, { databases: ['alice/other'] });
      assertError(await query(token, 'alice/notes', { sql: 'SELECT 1' }), 404);
      assert.equal((await ok(token, 'alice/other', { sql: 'SELECT 1' })).rows[0]![0], 1);
      assertError(await query(carol, 'alice/notes', { sql: 'SELECT 1' }), 404);
    });

    test('a site admin without a grant sees the database but may not query it (403)', async () => {
      assertError(await query(admin, 'alice/notes', { sql: 'SELECT 1' }), 403, /grant/);
    });

    test('unauthenticated: 401 with WWW-Authenticate', async () => {
      const none = await query(undefined, 'alice/notes', { sql: 'SELECT 1' });
      assertError(none, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer');
      assertError(await query('pss_not-a-session', 'alice/notes', { sql: 'SELECT 1' }), 401);
    });
  });

  describe('validation', () => {
    const cases: Array<[string, unknown, RegExp]> = [
      ['no body fields', {}, /"sql"/],
      ['empty sql', { sql: '  ' }, /"sql" must be a non-empty string/],
      ['sql not a string', { sql: 42 }, /"sql"/],
      ['params not an array', { sql: 'SELECT $1', params: 'x' }, /"params" must be an array/],
      ['unknown field', { sql: 'SELECT 1', prams: [] }, /unknown field "prams"/],
      ['both forms', { sql: 'SELECT 1', transaction: [] }, /either/],
      ['empty transaction', { transaction: [] }, /1 to 100 statements/],
      [
        'bad transaction item',
        { transaction: [{ sql: 'SELECT 1' }, { sql: '' }] },
        /transaction\[1\]\.sql/,
      ],
      ['NUL in sql', { sql: 'SELECT 1\u0000' }, /NUL/],
      ['not an object', [1, 2], /JSON object/],
    ];
    for (const [name, body, message] of cases) {
      test(`400: ${name}`, async () => {
        assertError(await query(alice, 'alice/notes', body), 400, message);
      });
    }
  });

  describe('NDJSON streaming', () => {
    test('fields, one array per row, then the command; errors before any row are HTTP errors', async () => {
      const answer = await ndjson(alice, 'alice/notes', {
        sql: 'SELECT id, title FROM notes ORDER BY id',
      });
      assert.equal(answer.status, 200);
      assert.match(answer.contentType, /^application\/x-ndjson/);
      assert.deepEqual(answer.lines, [
        {
          fields: [
            { name: 'id', dataTypeID: 23 },
            { name: 'title', dataTypeID: 25 },
          ],
        },
        [1, 'first'],
        [2, 'second'],
        { command: 'SELECT', rowCount: 2 },
      ]);
      const failed = await query(
        alice,
        'alice/notes',
        { sql: 'SELEC 1' },
        { accept: 'application/x-ndjson' },
      );
      assert.equal(failed.status, 400);
      assert.equal(failed.body.sqlstate, '42601');
      const transaction = await query(
        alice,
        'alice/notes',
        { transaction: [{ sql: 'SELECT 1' }] },
        { accept: 'application/x-ndjson' },
      );
      assertError(transaction, 400, /one statement/);
    });

    test('100,000 rows (200 MB) stream with the gateway’s memory bounded by backpressure', async () => {
      const rss = () => rssOf(postern.pid);
      const baseline = await rss();
      let peak = baseline;
      let sampling = true;
      // Sampled on a timer: reading /proc on every chunk would itself slow the client down.
      const sampler = (async () => {
        while (sampling) {
          peak = Math.max(peak, await rss());
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      })();
      const response = await fetch(`${http.origin}/api/v1/databases/alice/notes/query`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${alice}`,
          'content-type': 'application/json',
          accept: 'application/x-ndjson',
        },
        body: JSON.stringify({
          sql: "SELECT g, repeat('x', 2000) FROM generate_series(1, 100000) g",
        }),
      });
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      let lines = 0;
      let bytes = 0;
      let tail = '';
      let duringStall: number | null = null;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.length;
        const parts = (tail + Buffer.from(value).toString('utf8')).split('\n');
        tail = parts.pop()!;
        lines += parts.length;
        if (duringStall === null && bytes > 1_000_000) {
          // A client that stops reading: without backpressure PostgreSQL would go on
          // producing and the gateway would buffer the remaining ~199 MB meanwhile.
          await new Promise((resolve) => setTimeout(resolve, 2000));
          duringStall = await rss();
        }
      }
      sampling = false;
      await sampler;
      assert.equal(tail, '');
      assert.equal(lines, 100_002, 'fields, 100,000 rows, summary');
      assert.ok(bytes > 200_000_000, `${bytes} bytes`);
      const mib = (n: number) => Math.round(n / 1048576);
      assert.ok(
        duringStall! - baseline < 48 * 1048576,
        `gateway RSS grew by ${mib(duringStall! - baseline)} MiB while the client stalled`,
      );
      assert.ok(
        peak - baseline < 128 * 1048576,
        `gateway RSS peaked ${mib(peak - baseline)} MiB up`,
      );
    });

    test('a client that hangs up mid-stream gets its statement cancelled', async () => {
      const controller = new AbortController();
      const response = await fetch(`${http.origin}/api/v1/databases/alice/notes/query`, {
        method: 'POST',
        signal: controller.signal,
        headers: {
          authorization: `Bearer ${alice}`,
          'content-type': 'application/json',
          accept: 'application/x-ndjson',
        },
        body: JSON.stringify({
          sql: "SELECT g, pg_sleep(0.01), 'hangup-marker' FROM generate_series(1, 100000) g",
        }),
      });
      assert.equal(response.status, 200);
      await response.body!.getReader().read();
      controller.abort();
      const deadline = Date.now() + 10_000;
      let running = 1;
      while (running > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        const activity = await ok(alice, 'alice/notes', {
          sql: "SELECT count(*)::int FROM pg_stat_activity WHERE query LIKE '%hangup-marker%' AND pid <> pg_backend_pid()",
        });
        running = activity.rows[0]![0] as number;
      }
      assert.equal(running, 0, 'the upstream statement ended after the client left');
    });
  });

  describe('audit', () => {
    test('http.query events name the actor, database and statement (truncated), never parameters', async () => {
      const marker = 'param-secret-7f3a9c';
      await ok(alice, 'alice/notes', { sql: 'SELECT $1::text AS audited_query', params: [marker] });
      await query(alice, 'alice/notes', { sql: 'SELECT $1::int', params: [marker] });
      const long = `SELECT 1 AS "${'l'.repeat(300)}"`;
      await query(alice, 'alice/notes', { sql: long });
      const audit = await http.call('GET', '/audit?kind=http.query&limit=10', { token: admin });
      assert.equal(audit.status, 200, JSON.stringify(audit.body));
      const events = audit.body.events as Array<{
        actor: string;
        outcome: string;
        database: string;
        detail: Record<string, unknown>;
      }>;
      assert.doesNotMatch(JSON.stringify(audit.body), new RegExp(marker));
      const success = events.find((e) => String(e.detail.statement).includes('audited_query'))!;
      assert.ok(success, JSON.stringify(events));
      assert.equal(success.actor, 'alice');
      assert.equal(success.outcome, 'success');
      assert.equal(success.database, 'alice/notes');
      const failure = events.find((e) => e.detail.statement === 'SELECT $1::int')!;
      assert.equal(failure.outcome, 'failure');
      assert.equal(failure.detail.sqlstate, '22P02');
      const truncated = events.find((e) =>
        String(e.detail.statement).startsWith('SELECT 1 AS "lll'),
      )!;
      assert.equal(String(truncated.detail.statement).length, 201);
    });
  });

  async function createToken(
    token: string,
    body: { databases?: string[]; maxLevel?: string },
  ): Promise<{ id: string; token: string }> {
    const answer = await http.call('POST', '/entities/alice/tokens', {
      token,
      body: { name: `t-${Math.random()}`, ...body },
    });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body;
  }

  async function ndjson(
    token: string,
    database: string,
    body: unknown,
  ): Promise<{ status: number; contentType: string; lines: unknown[] }> {
    const response = await fetch(`${http.origin}/api/v1/databases/${database}/query`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        accept: 'application/x-ndjson',
      },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    assert.ok(text.endsWith('\n'), 'every line ends with a newline');
    return {
      status: response.status,
      contentType: response.headers.get('content-type') ?? '',
      lines: text
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as unknown),
    };
  }
});

/** Resident memory of a process, from /proc. */
async function rssOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = /VmRSS:\s+(\d+) kB/.exec(status)?.[1];
  return Number(kib) * 1024;
}
