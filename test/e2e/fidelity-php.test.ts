import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runSection, script, startGatewayWithToken, type DriverGateway } from '../support/drivers';

/** Generous: only there so that a broken relay fails a test instead of hanging the run. */
const LIMIT = { timeout: 90_000 };

const program = script('php', ['php', 'fidelity.php']);

/**
 * Protocol fidelity with PHP's PDO pgsql (Debian's php-cli and php-pgsql,
 * over libpq 15) through the real gateway, logged in with an API token over
 * sslmode=verify-full; cancel through ext-pgsql, which PDO lacks.
 * test/e2e/php/fidelity.php prints one JSON object per section; the
 * expectations hold against PostgreSQL 15.
 */
describe('protocol fidelity: PHP PDO pgsql', () => {
  let gateway: DriverGateway;

  before(async () => {
    gateway = await startGatewayWithToken();
  });
  after(() => gateway.postern.dispose());

  const section = (name: string) => runSection(program, gateway, name);

  test('a token logs in over verify-full; a wrong one is refused', LIMIT, async () => {
    const out = await section('login');
    assert.equal(out.answer, 42);
    assert.match(out.current_user, /^pdb_[0-9a-f]{16}_writer$/);
    // libpq gives a failed login as text only; PDO reports it as 08006.
    assert.match(
      out.wrong_password,
      /^SQLSTATE\[08006\].*FATAL: {2}password authentication failed/,
    );
  });

  test(
    'bound values of each type round trip as parameters and through a table',
    LIMIT,
    async () => {
      const out = await section('types');
      const same = (value: unknown) => ({ param: value, table: value });
      assert.deepEqual(out, {
        int: same(-2147483648),
        bigint: same('int:9223372036854775807'),
        numeric: same('12345678901234567890.1234567890'),
        text: same('héllo ✓ "quoted" \\ back'),
        bool: same(true),
        date: same('2024-02-29'),
        timestamptz: same('2024-02-29 18:29:58.123456+00'),
        bytea: same(true),
        uuid: same('0f8fad5b-d9cb-469f-a165-70867728950e'),
        jsonb: same('{"a": [1, 2.5, null, true], "b": {"c": "é ✓"}}'),
        int_array: same('{1,-2,NULL,2147483647}'),
        null: same(null),
      });
    },
  );

  test(
    'a native prepare is one named server-side statement, executed three times',
    LIMIT,
    async () => {
      const out = await section('prepared');
      assert.deepEqual(out, { doubled: [6, 10, 14], server_statements: 1 });
    },
  );

  test(
    'beginTransaction: 23505, then 25P02 until rollBack, which keeps nothing',
    LIMIT,
    async () => {
      const out = await section('transaction');
      assert.deepEqual(out, {
        duplicate: '23505',
        in_failed: '25P02',
        in_transaction: false,
        count_after_rollback: 0,
      });
    },
  );

  test('pgsqlCopyFromArray 50,000 rows, pgsqlCopyToArray gives them back', LIMIT, async () => {
    const out = await section('copy');
    assert.deepEqual(out, {
      copied_in: true,
      count: 50_000,
      sum: (50_000 * 50_001) / 2,
      notes: 45_000,
      lines: 50_000,
      same: true,
    });
  });

  test(
    'pg_cancel_query stops pg_sleep(30): its transaction is aborted, the connection goes on',
    LIMIT,
    async () => {
      const out = await section('cancel');
      assert.deepEqual(out, { cancelled: true, transaction: 'in error', after: '42' });
    },
  );

  test('pgsqlGetNotify returns NOTIFY and pg_notify on its channel only', LIMIT, async () => {
    const out = await section('notify');
    assert.deepEqual(out, {
      received: [
        { channel: 'fidelity_events', payload: 'first' },
        { channel: 'fidelity_events', payload: 'second é ✓' },
      ],
    });
  });

  test('100,000 rows through DECLARE CURSOR and FETCH 1000', LIMIT, async () => {
    const out = await section('stream');
    assert.deepEqual(out, { rows: 100_000, in_order: true, hashes_ok: true, fetches: 101 });
  });
});
