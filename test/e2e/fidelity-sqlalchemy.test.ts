import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEBIAN_PYTHON } from '../support/clients';
import { runSection, script, startGatewayWithToken, type DriverGateway } from '../support/drivers';

/** Generous: only there so that a broken relay fails a test instead of hanging the run. */
const LIMIT = { timeout: 90_000 };

const program = script(DEBIAN_PYTHON, ['python', 'fidelity_sqlalchemy.py']);

/**
 * Protocol fidelity with SQLAlchemy 1.4 (Debian's python3-sqlalchemy) over
 * psycopg2 through the real gateway, logged in with an API token over
 * sslmode=verify-full: the dialect's first-connect queries, the pool's
 * pre-ping, Core, reflection and the ORM. LISTEN/NOTIFY has no SQLAlchemy API
 * (psycopg2's is in fidelity-psycopg2). test/e2e/python/fidelity_sqlalchemy.py
 * prints one JSON object per section; the expectations hold against PostgreSQL 15.
 */
describe('protocol fidelity: SQLAlchemy over psycopg2', () => {
  let gateway: DriverGateway;

  before(async () => {
    gateway = await startGatewayWithToken();
  });
  after(() => gateway.postern.dispose());

  const section = (name: string) => runSection(program, gateway, name);

  test(
    'a token logs in over verify-full; the dialect initialises; the pool pre-pings and reuses',
    LIMIT,
    async () => {
      const out = await section('login');
      assert.match(out.current_user, /^pdb_[0-9a-f]{16}_writer$/);
      assert.match(out.wrong_password, /FATAL: {2}password authentication failed/);
      assert.deepEqual(
        { ...out, current_user: undefined, wrong_password: undefined },
        {
          answer: 42,
          again: 42,
          current_user: undefined,
          server_version: [15],
          default_schema: 'public',
          pool_connections: 1,
          wrong_password: undefined,
        },
      );
    },
  );

  test(
    'Core: typed columns round trip through a table and as bound parameters; reflection sees the table',
    LIMIT,
    async () => {
      const out = await section('types');
      assert.deepEqual(out, {
        mismatches: [],
        bound_mismatches: [],
        server_view: [
          '123456789012345678901234567890.1234567890',
          256,
          '2024-02-29T18:29:58.123456',
        ],
        tables: ['sqla_types'],
        columns: [
          ['id', 'INTEGER', false],
          ['big', 'BIGINT', false],
          ['amount', 'NUMERIC(40, 10)', true],
          ['label', 'VARCHAR(40)', true],
          ['ok', 'BOOLEAN', true],
          ['day', 'DATE', true],
          ['at', 'TIMESTAMP', true],
          ['span', 'INTERVAL', true],
          ['raw', 'BYTEA', true],
          ['ident', 'UUID', true],
          ['doc', 'JSONB', true],
          ['ints', 'ARRAY', true],
          ['missing', 'TEXT', true],
        ],
        at_has_timezone: [true],
        primary_key: ['id'],
        indexes: [['ix_sqla_types_label', ['label']]],
      });
    },
  );

  test('PREPARE once, EXECUTE three times on one pooled connection', LIMIT, async () => {
    const out = await section('prepared');
    assert.deepEqual(out, { doubled: [6, 10, 14], statements: [['sqla_double', true]] });
  });

  test(
    'engine.begin() rolls back after 23505 and 25P02; an ORM savepoint survives its own error',
    LIMIT,
    async () => {
      const out = await section('transaction');
      assert.deepEqual(out, {
        duplicate: '23505',
        in_failed: '25P02',
        count_after_rollback: 0,
        savepoint: '23505',
        names: ['kept', 'after savepoint'],
      });
    },
  );

  test('COPY in and out through the pooled DBAPI connection, byte-identical', LIMIT, async () => {
    const out = await section('copy');
    assert.deepEqual(out, { copied_in: 20_000, sum: (20_000 * 20_001) / 2, same: true });
  });

  test(
    'cancel() on the DBAPI connection stops pg_sleep(30) with 57014; the pooled connection stays valid',
    LIMIT,
    async () => {
      const out = await section('cancel');
      assert.deepEqual(out, {
        outcome: 'OperationalError',
        sqlstate: '57014',
        invalidated: false,
        after: 42,
      });
    },
  );

  test(
    'a pooled session whose backend is terminated: pre-ping reconnects; without it the error invalidates the pool',
    LIMIT,
    async () => {
      const out = await section('pool_recovery');
      assert.deepEqual(out, {
        pre_ping: { terminated: true, after: 42, new_backend: true },
        no_pre_ping: {
          terminated: true,
          stale: { invalidated: true },
          after: 42,
          new_backend: true,
        },
      });
    },
  );

  test('stream_results: 100,000 rows through one server-side cursor', LIMIT, async () => {
    const out = await section('stream');
    assert.deepEqual(out, {
      rows: 100_000,
      in_order: true,
      hashes_ok: true,
      open_cursors_midway: 1,
      after: 42,
    });
  });
});
