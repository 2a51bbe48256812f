import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readEveryStatement, readForTransactionMode } from '#engine';

const fresh = { sequencesUsed: false };
const read = (sql: string, context = fresh) => readForTransactionMode(sql, context);
const refused = (sql: string) => read(sql).refused;

describe('readForTransactionMode: what outlives a transaction is refused, naming the mode', () => {
  test('LISTEN, LOAD, SQL PREPARE/EXECUTE, session roles, WITH HOLD cursors', () => {
    for (const sql of [
      'LISTEN jobs',
      "LOAD 'auto_explain'",
      'PREPARE q AS SELECT 1',
      'EXECUTE q',
      'SET ROLE other',
      'SET SESSION ROLE other',
      'SET SESSION AUTHORIZATION other',
      'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
      'select 1; listen jobs',
    ]) {
      assert.match(refused(sql) ?? '', /not supported in transaction pooling mode/, sql);
    }
  });

  test('their transaction-scoped forms pass', () => {
    for (const sql of [
      'SET LOCAL ROLE other',
      'DECLARE c CURSOR FOR SELECT 1',
      'UNLISTEN *',
      'NOTIFY jobs',
      'SELECT pg_advisory_xact_lock(1)',
      'CREATE TEMP TABLE t (a int) ON COMMIT DROP',
      'CREATE TABLE temp (a int)',
      "SELECT 'LISTEN x', $$PREPARE$$ -- LISTEN\n",
      'SELECT "listen" FROM t',
    ]) {
      assert.equal(refused(sql), null, sql);
    }
  });

  test('temporary objects that outlive the transaction', () => {
    for (const sql of [
      'CREATE TEMP TABLE t (a int)',
      'create temporary table t as select 1',
      'CREATE LOCAL TEMPORARY TABLE t (a int) ON COMMIT DELETE ROWS',
      'CREATE TEMP VIEW v AS SELECT 1',
      'SELECT 1 AS a INTO TEMP t',
    ]) {
      assert.match(refused(sql) ?? '', /temporary object/, sql);
    }
  });

  test('session-level advisory locks, also inside a DO block', () => {
    assert.match(refused('SELECT pg_advisory_lock(42)') ?? '', /pg_advisory_lock\(\)/);
    assert.match(refused('select pg_catalog.pg_try_advisory_lock_shared(1, 2)') ?? '', /shared/);
    assert.match(refused('DO $$BEGIN PERFORM pg_advisory_lock(1); END$$') ?? '', /advisory lock/);
    assert.equal(refused('DO $$BEGIN PERFORM pg_advisory_xact_lock(1); END$$'), null);
  });

  test('currval/lastval only after nextval in the same transaction', () => {
    assert.match(refused('SELECT lastval()') ?? '', /lastval\(\) before nextval\(\)/);
    assert.equal(read('SELECT lastval()', { sequencesUsed: true }).refused, null);
    assert.equal(refused("INSERT INTO t DEFAULT VALUES; SELECT currval('t_id_seq')"), null);
    assert.equal(refused("SELECT nextval('s'), currval('s')"), null);
    assert.equal(read("SELECT nextval('s')").usesSequences, true);
    assert.equal(read('SELECT 1').usesSequences, false);
  });

  test('session settings are tracked, transaction-scoped ones are not', () => {
    for (const sql of [
      'SET search_path TO app',
      'set session statement_timeout = 5',
      'RESET ALL',
      'RESET work_mem',
      "SELECT set_config('app.tenant', 'x', false)",
      'SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY',
      'DISCARD ALL',
    ]) {
      assert.equal(read(sql).changesSettings, true, sql);
    }
    for (const sql of [
      'SET LOCAL work_mem = 1',
      'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
      'SET CONSTRAINTS ALL DEFERRED',
      "SELECT 'SET x'",
    ]) {
      assert.equal(read(sql).changesSettings, false, sql);
    }
  });

  test('deallocation names the statements it drops (null: all of them)', () => {
    assert.deepEqual(read('DEALLOCATE _pg3_0').deallocates, ['_pg3_0']);
    assert.deepEqual(read('deallocate prepare "Mixed""Case"').deallocates, ['Mixed"Case']);
    assert.deepEqual(read('DEALLOCATE Q1').deallocates, ['q1']);
    assert.deepEqual(read('DEALLOCATE ALL').deallocates, [null]);
    assert.deepEqual(read('DISCARD ALL').deallocates, [null]);
    assert.deepEqual(read('DISCARD PLANS; DISCARD TEMP').deallocates, []);
    assert.deepEqual(read('SELECT 1').deallocates, []);
  });
});

describe('readForTransactionMode: the shortcut past the lexer reads SQL as the lexer would', () => {
  const corpus = [
    '',
    ';',
    'SELECT abalance FROM pgbench_accounts WHERE aid = 42;',
    'SELECT abalance FROM pgbench_accounts WHERE aid = $1',
    'UPDATE t SET a = 1 WHERE id = 2',
    'DELETE FROM t WHERE id = 2 RETURNING id',
    'BEGIN; SELECT 1; COMMIT',
    'WITH x AS (SELECT 1) SELECT * FROM x',
    'SELECT 1 AS a INTO TEMP t',
    'select 1 into unlogged t',
    'LISTEN jobs',
    'listen/**/jobs',
    "LOAD 'auto_explain'",
    'PREPARE q AS SELECT 1',
    'EXECUTE q',
    'Set Role other',
    'SET SESSION AUTHORIZATION other',
    'set local role other',
    'DECLARE c CURSOR WITH HOLD FOR SELECT 1',
    'CREATE TEMP TABLE t (a int)',
    'CREATE TEMP TABLE t (a int) ON COMMIT DROP',
    'SELECT pg_advisory_lock(42)',
    'SELECT PG_TRY_ADVISORY_LOCK_SHARED(1, 2)',
    'DO $$BEGIN PERFORM pg_advisory_lock(1); END$$',
    'SELECT currval(1)',
    "SELECT nextval('s'), currval('s')",
    'SELECT LASTVAL()',
    "SELECT setval('s', 1)",
    'INSERT INTO t VALUES (1)',
    'COPY t FROM STDIN',
    'copy t to stdout',
    'SET search_path TO app',
    'RESET ALL',
    "SELECT set_config('a.b', 'x', false)",
    'DISCARD ALL',
    'DISCARD PLANS',
    'DEALLOCATE q1',
    'DEALLOCATE ALL; DEALLOCATE prepare "X"',
    "SELECT 'LISTEN x', $$PREPARE$$ -- LISTEN\n",
    'SELECT "listen" FROM t',
    // Non-ASCII: lower-casing the Kelvin sign gives `k` (the lexer's word is pg_advisory_lock).
    'SELECT pg_advisory_loc\u212A(1)',
    "SELECT 'ünïcode' FROM t",
  ];

  test('every verdict equals the lexed one, with and without sequences used before', () => {
    for (const sql of corpus) {
      for (const context of [{ sequencesUsed: false }, { sequencesUsed: true }]) {
        assert.deepEqual(
          readForTransactionMode(sql, context),
          readEveryStatement(sql, context),
          `${JSON.stringify(sql)} ${JSON.stringify(context)}`,
        );
      }
    }
  });
});
