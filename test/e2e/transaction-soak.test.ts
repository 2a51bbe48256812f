import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runSoak, startSoakGateway } from '../../bench/transaction-soak';
import type { PosternProcess } from '../support/postern-process';

/**
 * TXN-07: the transaction-pooling soak in its short form (the long one,
 * 1,000 clients for 10 minutes, is `node dist/bench/transaction-soak.js`,
 * recorded in bench/RESULTS.md): mixed reads, writes, rollbacks, COPY and
 * cancels from many clients over a pool of 4, with no unexpected error and
 * every row right by content.
 */
describe('transaction pooling soak, short (TXN-07)', () => {
  let gateway: { postern: PosternProcess; connect: Parameters<typeof runSoak>[0]['connect'] };

  before(async () => {
    gateway = await startSoakGateway(4, 40);
  });
  after(() => gateway.postern.dispose());

  test('TXN-07 40 clients of mixed traffic over a pool of 4: no unexpected error, every row exactly once', async () => {
    const report = await runSoak({
      clients: 40,
      seconds: 8,
      connect: gateway.connect,
      gatewayPid: gateway.postern.pid,
    });
    assert.deepEqual(report.unexpected, []);
    assert.deepEqual(report.rows.wrong, []);
    assert.equal(report.rows.found, report.rows.committed);
    for (const [kind, count] of Object.entries(report.operations)) {
      assert.ok(count > 0, `no ${kind} operation ran`);
    }
  });
});
