import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runSection, script, startGatewayWithToken, type DriverGateway } from '../support/drivers';

/** Generous: only there so that a broken relay fails a test instead of hanging the run. */
const LIMIT = { timeout: 90_000 };

const program = script('ruby', ['ruby', 'fidelity.rb']);

/**
 * Protocol fidelity with Ruby's pg (Debian's ruby-pg over libpq 15) through
 * the real gateway, logged in with an API token over sslmode=verify-full.
 * test/e2e/ruby/fidelity.rb prints one JSON object per section; the
 * expectations hold against PostgreSQL 15.
 */
describe('protocol fidelity: Ruby pg', () => {
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
    assert.equal(out.ssl_in_use, true);
    assert.match(out.wrong_password, /FATAL: {2}password authentication failed/);
  });

  test(
    'basic type maps: values round trip as parameters and through a table, text and binary results',
    LIMIT,
    async () => {
      const out = await section('types');
      const text = { text: true };
      const both = { text: true, binary: true };
      assert.deepEqual(out.values, {
        int: both,
        bigint: both,
        numeric: text,
        float: both,
        text: both,
        bool: both,
        date: text,
        timestamptz: both,
        bytea: both,
        jsonb: text,
        int_array: text,
        text_array: text,
        null: both,
      });
      assert.deepEqual(out.server_view, [
        // BigDecimal#to_s drops the trailing zero: the driver sends it so.
        '12345678901234567890.123456789',
        '256',
        '2024-02-29 18:29:58.123456',
      ]);
    },
  );

  test('conn.prepare once, exec_prepared three times; 26000 after DEALLOCATE', LIMIT, async () => {
    const out = await section('prepared');
    assert.deepEqual(out, {
      doubled: [6, 10, 14],
      statements: [['rb_double', 'SELECT $1::int * 2, $2::text', 'f']],
      after_deallocate: '26000',
      usable: 42,
    });
  });

  test('conn.transaction: 23505, then 25P02, rolled back', LIMIT, async () => {
    const out = await section('transaction');
    assert.deepEqual(out, {
      in_transaction: true,
      duplicate: '23505',
      in_error: true,
      in_failed: '25P02',
      idle_after: true,
      count_after_rollback: 0,
    });
  });

  test(
    'copy_data: 50,000 encoded rows in, COPY TO as PostgreSQL prints it, decoded rows',
    LIMIT,
    async () => {
      const out = await section('copy');
      assert.deepEqual(out, {
        count: 50_000,
        sum: (50_000 * 50_001) / 2,
        notes: 45_000,
        lines: 50_000,
        same: true,
        rows: [
          ['9', 'tab\there é ✓ 63'],
          ['10', null],
        ],
      });
    },
  );

  test(
    'conn.cancel from another thread stops pg_sleep(30) with 57014; the connection goes on',
    LIMIT,
    async () => {
      const out = await section('cancel');
      assert.deepEqual(out, {
        outcome: 'PG::QueryCanceled',
        sqlstate: '57014',
        message: 'canceling statement due to user request',
        cancel_error: null,
        after: 42,
      });
    },
  );

  test('wait_for_notify yields NOTIFY and pg_notify on its channel only', LIMIT, async () => {
    const out = await section('notify');
    assert.deepEqual(out, {
      received: [
        { channel: 'fidelity_events', payload: 'first' },
        { channel: 'fidelity_events', payload: 'second é ✓' },
      ],
    });
  });

  test('single-row mode: 100,000 rows by stream_each_row', LIMIT, async () => {
    const out = await section('stream');
    assert.deepEqual(out, { rows: 100_000, in_order: true, hashes_ok: true, after: 42 });
  });
});
