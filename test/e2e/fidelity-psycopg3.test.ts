import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEBIAN_PYTHON } from '../support/clients';
import { runSection, script, startGatewayWithToken, type DriverGateway } from '../support/drivers';

/** Generous: only there so that a broken relay fails a test instead of hanging the run. */
const LIMIT = { timeout: 90_000 };

const program = script(DEBIAN_PYTHON, ['python', 'fidelity_psycopg3.py']);

/**
 * Protocol fidelity with psycopg 3 (Debian's python3-psycopg over libpq 15)
 * through the real gateway, logged in with an API token over
 * sslmode=verify-full. test/e2e/python/fidelity_psycopg3.py prints one JSON
 * object per section; the expectations hold against PostgreSQL 15.
 */
describe('protocol fidelity: psycopg 3', () => {
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
    assert.equal(out.server_major, 15);
    assert.deepEqual(out.parameters, ['UTF8', 'ISO, MDY']);
    // libpq gives a failed login as text only: psycopg has no SQLSTATE for it.
    assert.match(out.wrong_password, /FATAL: {2}password authentication failed/);
  });

  test(
    'typed values round trip as parameters and through a table, in text and in binary (parameters and results)',
    LIMIT,
    async () => {
      const out = await section('types');
      assert.deepEqual(Object.keys(out.values), [
        'int',
        'bigint',
        'numeric',
        'float',
        'text',
        'bool',
        'date',
        'timestamptz',
        'interval',
        'bytea',
        'uuid',
        'jsonb',
        'int_array',
        'text_array',
        'null',
      ]);
      for (const [name, formats] of Object.entries(out.values)) {
        assert.deepEqual(formats, { text: true, binary: true }, name);
      }
      assert.deepEqual(out.server_view, {
        numeric: '12345678901234567890.1234567890',
        bytea_length: 256,
        utc: '2024-02-29T18:29:58.123456',
      });
    },
  );

  test(
    'prepare=True and prepare_threshold: named server-side statements, reused',
    LIMIT,
    async () => {
      const out = await section('prepared');
      assert.deepEqual(out, { doubled: [6, 10, 14], server_statements: 1, automatic: 1 });
    },
  );

  test(
    'conn.transaction(): 23505 with its diagnostics, then 25P02, rolled back; a nested savepoint survives its error',
    LIMIT,
    async () => {
      const out = await section('transaction');
      assert.deepEqual(out, {
        in_transaction: 'INTRANS',
        duplicate: '23505',
        diag: ['ERROR', 'ERROR', 'public', 'pg3_tx', 'pg3_tx_pkey', 'Key (id)=(1) already exists.'],
        after_error: 'INERROR',
        in_failed: '25P02',
        after_rollback: 'IDLE',
        count_after_rollback: 0,
        savepoint_rolled_back: true,
        ids: [2, 3],
      });
    },
  );

  test(
    'cursor.copy(): 50,000 rows in and back byte-identical, typed rows out, binary COPY in',
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
          [9, 'tab\there é ✓ 63'],
          [10, null],
        ],
        binary: [1000, 1000],
      });
    },
  );

  test(
    'pipeline mode: 1,000 inserts and 5 selects before one Sync; an error skips the rest of its batch only; named statements parsed in a pipeline',
    LIMIT,
    async () => {
      const out = await section('pipeline');
      assert.deepEqual(out, {
        duplicate: '23505',
        prepared: (50 * 51) / 2,
        prepared_statements: 1,
        doubled: [0, 2, 4, 6, 8],
        count: 1001,
        sum: (1000 * 1001) / 2 + 2000,
        status: 'IDLE',
      });
    },
  );

  test(
    'conn.cancel() from another thread stops pg_sleep(30) with 57014; the connection goes on',
    LIMIT,
    async () => {
      const out = await section('cancel');
      assert.deepEqual(out, {
        outcome: 'QueryCanceled',
        sqlstate: '57014',
        message: 'canceling statement due to user request',
        status_after_error: 'INERROR',
        after: 42,
      });
    },
  );

  test('conn.notifies() yields NOTIFY and pg_notify on its channel only', LIMIT, async () => {
    const out = await section('notify');
    assert.deepEqual(out, {
      received: [
        { channel: 'fidelity_events', payload: 'first' },
        { channel: 'fidelity_events', payload: 'second é ✓' },
      ],
    });
  });

  test(
    '50,000 rows by cursor.stream() (single-row mode) and by a named server-side cursor',
    LIMIT,
    async () => {
      const out = await section('stream');
      const whole = { rows: 50_000, in_order: true, hashes_ok: true };
      assert.deepEqual(out, { stream: whole, named: whole, usable_after: 42 });
    },
  );
});
