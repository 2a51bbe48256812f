import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildGo, runSection, startGatewayWithToken, type DriverGateway } from '../support/drivers';

/** Generous: only there so that a broken relay fails a test instead of hanging the run. */
const LIMIT = { timeout: 90_000 };

/**
 * Protocol fidelity with Go's lib/pq (Debian's golang-github-lib-pq-dev,
 * built offline in the test run) through the real gateway, logged in with an
 * API token over sslmode=verify-full. test/e2e/go/fidelity/main.go prints one
 * JSON object per section; the expectations hold against PostgreSQL 15.
 */
describe('protocol fidelity: Go lib/pq', () => {
  let gateway: DriverGateway;
  let built: Awaited<ReturnType<typeof buildGo>>;

  before(async () => {
    [gateway, built] = await Promise.all([startGatewayWithToken(), buildGo('fidelity')]);
  });
  after(() => Promise.all([gateway.postern.dispose(), built.dispose()]));

  const section = (name: string) => runSection(built.program, gateway, name);

  test('a token logs in over verify-full; a wrong one is 28P01', LIMIT, async () => {
    const out = await section('login');
    assert.equal(out.answer, 42);
    assert.match(out.current_user, /^pdb_[0-9a-f]{16}_writer$/);
    assert.equal(out.wrong_password, '28P01');
  });

  test(
    'typed values round trip as parameters (text, and binary_parameters=yes) and through a table',
    LIMIT,
    async () => {
      const out = await section('types');
      const expected = {
        int: -2147483648,
        bigint: '9223372036854775807',
        numeric: '12345678901234567890.1234567890',
        text: 'héllo ✓ "quoted" \\ back',
        bool: true,
        date: '2024-02-29',
        timestamptz_equal: true,
        bytea_equal: true,
        uuid: '0f8fad5b-d9cb-469f-a165-70867728950e',
        jsonb: '{"a": [1, 2.5, null, true], "b": {"c": "é ✓"}}',
        int_array: [1, -2, 2147483647],
        text_array: ['a', 'b c', '"q"', 'é ✓', '', 'NULL'],
        null: true,
      };
      assert.deepEqual(out, { param: expected, binary_param: expected, table: expected });
    },
  );

  test('a prepared statement is one named server-side statement, reused', LIMIT, async () => {
    const out = await section('prepared');
    assert.deepEqual(out, { doubled: [6, 10, 14], server_statements: 1, after_close: 0 });
  });

  test('a failed transaction is 25P02 until ROLLBACK, which keeps nothing', LIMIT, async () => {
    const out = await section('transaction');
    assert.deepEqual(out, { duplicate: '23505', in_failed: '25P02', count_after_commit: 1 });
  });

  test(
    'pq.CopyIn: COPY FROM STDIN of 50,000 rows; a duplicate key fails a whole COPY with 23505',
    LIMIT,
    async () => {
      const out = await section('copy');
      assert.deepEqual(out, {
        copied: 50_000,
        count: 50_000,
        sum: (50_000 * 50_001) / 2,
        notes: 45_000,
        tabs: 45_000,
        failed_copy: '23505',
      });
    },
  );

  test(
    'a cancelled context stops pg_sleep(30) with 57014 (CancelRequest over TLS)',
    LIMIT,
    async () => {
      const out = await section('cancel');
      assert.deepEqual(out, {
        sqlstate: '57014',
        message: 'canceling statement due to user request',
        context_error: true,
        after: 42,
        still_sleeping: 0,
      });
    },
  );

  test('pq.Listener receives NOTIFY and pg_notify on its channel only', LIMIT, async () => {
    const out = await section('notify');
    assert.deepEqual(out, {
      received: [
        { channel: 'fidelity_events', payload: 'first' },
        { channel: 'fidelity_events', payload: 'second é ✓' },
      ],
    });
  });

  test('200,000 rows read one at a time with rows.Next', LIMIT, async () => {
    const out = await section('stream');
    assert.deepEqual(out, { rows: 200_000, in_order: true, hashes_ok: true });
  });
});
