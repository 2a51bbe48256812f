import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ProcessResult } from '../support/clients';
import { compileJava } from '../support/java';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';

/** Generous: only there so that a broken relay fails a test instead of hanging the run. */
const LIMIT = { timeout: 90_000 };

/**
 * Protocol fidelity with Debian's pgJDBC through the real gateway: what
 * DBeaver does on connect, typed PreparedStatements (past the server-prepare
 * threshold), batches, fetch-size portals and Statement.cancel().
 * test/e2e/java/DriverFidelity.java prints key=value lines per section.
 */
describe('protocol fidelity: pgJDBC', () => {
  let postern: PosternProcess;
  let program: (args: readonly string[]) => Promise<ProcessResult>;

  before(async () => {
    [postern, program] = await Promise.all([PosternProcess.start(), compileJava('DriverFidelity')]);
  });
  after(() => postern.dispose());

  async function section(name: string): Promise<Record<string, string>> {
    const url = `jdbc:postgresql://localhost:${postern.wirePort}/admin%2Fmain`;
    const result = await program([url, 'admin', ADMIN_PASSWORD, postern.caFile, name]);
    assert.equal(result.code, 0, `java failed:\n${result.stderr}\n${result.stdout}`);
    const values: Record<string, string> = {};
    for (const line of result.stdout.split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) values[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return values;
  }

  test(
    'DBeaver on connect: DatabaseMetaData versions, catalogs, schemas, tables, columns, keys, indexes',
    LIMIT,
    async () => {
      const out = await section('metadata');
      assert.equal(out.product, 'PostgreSQL');
      assert.match(out.version!, /^15\.\d+/);
      assert.equal(out.major, '15');
      assert.equal(out.user, 'admin');
      assert.equal(out.current_schema, 'public');
      assert.equal(out.search_path, '"$user", public');
      assert.equal(out.catalog, 'admin/main');
      assert.equal(out.catalogs, 'admin/main');
      assert.equal(out.schemas_include_public, 'true');
      assert.equal(out.schemas_include_pg_catalog, 'true');
      assert.equal(out.tables, 'fidelity_meta:TABLE');
      assert.equal(
        out.columns,
        '1:id:int4:10:NO,2:name:varchar:40:NO,3:created:timestamptz:35:YES,4:score:numeric:10:YES',
      );
      assert.equal(out.primary_keys, 'id:fidelity_meta_pkey');
      assert.equal(
        out.indexes,
        'fidelity_meta_name_idx:name:non-unique,fidelity_meta_pkey:id:unique',
      );
    },
  );

  test(
    'PreparedStatement: int, bigint, numeric, varchar, boolean, date, timestamp, bytea, uuid and NULLs read back equal',
    LIMIT,
    async () => {
      const out = await section('types');
      assert.equal(out.mismatches, 'none');
      assert.equal(out.reads, '30');
      assert.equal(out.server_prepared, '1', 'the later reads used a named server-side statement');
      assert.equal(out.server_numeric, '12345678901234567890.1234567890');
      assert.equal(out.server_bytea_length, '256');
      assert.equal(
        out.server_bytea_md5,
        createHash('md5')
          .update(Buffer.from(Array.from({ length: 256 }, (_, i) => i)))
          .digest('hex'),
      );
      assert.equal(out.server_uuid, '0f8fad5b-d9cb-469f-a165-70867728950e');
    },
  );

  test('executeBatch: 1,000 inserts, and a failing batch keeps nothing', LIMIT, async () => {
    const out = await section('batch');
    assert.deepEqual(
      {
        batch_results: out.batch_results,
        batch_all_one: out.batch_all_one,
        count: out.count,
        sum: out.sum,
        labels: out.labels,
        failing_batch: out.failing_batch,
        count_after_failure: out.count_after_failure,
      },
      {
        batch_results: '1000',
        batch_all_one: 'true',
        count: '1000',
        sum: String((1000 * 1001) / 2),
        labels: '1000',
        failing_batch: 'BatchUpdateException:23505',
        count_after_failure: '1000',
      },
    );
  });

  test('fetch size 100 over 5,000 rows: a server-side portal read in chunks', LIMIT, async () => {
    const out = await section('cursor');
    assert.equal(out.rows, '5000');
    assert.equal(out.in_order, 'true');
    assert.equal(out.open_portals_midway, '1');
  });

  test(
    'Statement.cancel() from another thread stops pg_sleep(30) with 57014; the connection goes on',
    LIMIT,
    async () => {
      const out = await section('cancel');
      assert.equal(out.cancel_error, 'none');
      assert.equal(out.outcome, 'SQLException', JSON.stringify(out));
      assert.equal(out.sqlstate, '57014');
      assert.match(out.message!, /canceling statement due to user request/);
      assert.equal(out.after, '42');
    },
  );
});
