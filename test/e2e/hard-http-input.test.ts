import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminHttp, assertError, type HttpAnswer } from '../support/admin-http';
import { PosternProcess } from '../support/postern-process';

/**
 * HARD-17: what the HTTP API accepts as input. Bodies are JSON or refused
 * with 415; numbers in SQL parameters are bound exactly as written; JSON
 * nested far deeper than anything reasonable answers a 4xx or comes back
 * as text, never a 500.
 */
describe('HARD-17 HTTP input', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let admin: string;

  before(async () => {
    postern = await PosternProcess.start();
    http = AdminHttp.of(postern);
    admin = await http.login();
  });
  after(() => postern?.dispose());

  const JSON_TYPE = { 'content-type': 'application/json' };

  /** The query route with a body sent byte for byte as given. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  function rawQuery(body: string): Promise<HttpAnswer<any>> {
    return http.call('POST', '/databases/admin/main/query', {
      token: admin,
      rawBody: body,
      headers: JSON_TYPE,
    });
  }

  test('HARD-17a a body that is not JSON answers 415 with a JSON message and changes nothing', async () => {
    const form = await http.call('POST', '/entities', {
      token: admin,
      rawBody: 'kind=user&slug=someone&password=someone-password',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    assertError(form, 415, /JSON/);
    assertError(
      await http.call('POST', '/entities', {
        token: admin,
        rawBody: '{"kind":"user","slug":"someone","password":"someone-password"}',
        headers: { 'content-type': 'text/plain' },
      }),
      415,
      /JSON/,
    );
    assertError(
      await http.call('POST', '/auth/login', {
        rawBody: 'username=admin&password=x',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
    );
    assertError(
      await http.call('POST', '/databases/admin/main/query', {
        token: admin,
        rawBody: 'sql=select 1',
      }),
      415,
    );
    assertError(await http.call('GET', '/entities/someone', { token: admin }), 404);
    // JSON still works, with a charset too.
    const ok = await http.call('POST', '/entities', {
      token: admin,
      rawBody: '{"kind":"organization","slug":"json-org"}',
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
  });

  test('HARD-17b numeric parameters are bound exactly as written', async () => {
    const exact = await rawQuery(
      '{"sql": "SELECT $1::numeric::text, $2::int8::text, $3::numeric::text, ($4::jsonb->>\'a\'), $5::text",' +
        ' "params": [12345678901234567890, 9007199254740993, 1e400, {"a": 12345678901234567890}, 0.1000]}',
    );
    assert.equal(exact.status, 200, JSON.stringify(exact.body));
    assert.deepEqual(exact.body.rows, [
      [
        '12345678901234567890',
        '9007199254740993',
        '1' + '0'.repeat(400),
        '12345678901234567890',
        '0.1000',
      ],
    ]);
    // A float8 placeholder gets the same text; PostgreSQL itself refuses what is out of range.
    const outOfRange = await rawQuery('{"sql": "SELECT $1::float8", "params": [1e400]}');
    assert.equal(outOfRange.status, 400, JSON.stringify(outOfRange.body));
    assert.equal(outOfRange.body.sqlstate, '22003');
    // Malformed JSON is still a 400 with a message.
    assertError(await rawQuery('{"sql": "SELECT 1", "params": [1,]}'), 400);
  });

  test('HARD-17c JSON nested 10,000 deep answers 4xx or comes back as text, never 500', async () => {
    const depth = 10_000;
    const deep = '['.repeat(depth) + ']'.repeat(depth);
    const asResult = await http.call('POST', '/databases/admin/main/query', {
      token: admin,
      body: { sql: `SELECT (repeat('[', ${depth}) || repeat(']', ${depth}))::json AS deep` },
    });
    assert.equal(asResult.status, 200, JSON.stringify(asResult.body).slice(0, 500));
    assert.equal(asResult.body.rows[0][0], deep);
    const streamed = await http.call('POST', '/databases/admin/main/query', {
      token: admin,
      body: { sql: `SELECT (repeat('[', ${depth}) || repeat(']', ${depth}))::json AS deep` },
      headers: { accept: 'application/x-ndjson' },
    });
    assert.equal(streamed.status, 200);
    assert.ok(String(streamed.body).includes(JSON.stringify(deep)));
    const asParameter = await rawQuery(
      `{"sql": "SELECT $1::text IS NOT NULL", "params": [${deep}]}`,
    );
    assertError(asParameter, 400, /nested/);
    // Elsewhere in the API too.
    const elsewhere = await http.call('POST', '/entities', {
      token: admin,
      rawBody: `{"kind": ${deep}}`,
      headers: JSON_TYPE,
    });
    assert.ok(elsewhere.status >= 400 && elsewhere.status < 500, String(elsewhere.status));
    // The gateway is still fine.
    assert.equal((await http.call('GET', '/healthz')).status, 200);
  });
});
