import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdminHttp, type AdminSession } from '../support/admin-http';
import { ControlFixtures } from '../support/control-fixtures';
import { PosternProcess } from '../support/postern-process';

/**
 * FAIR-02: acquires that queue for a full pool never make it open more
 * connections than its size (each freed slot serves exactly one waiter).
 * The order they are served in (FAIR-01) is FairQueue's, unit-tested.
 */
describe('pool slots under a burst (FAIR-02)', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let api: AdminSession;
  let tokens: Record<string, string>;

  before(async () => {
    postern = await PosternProcess.start({
      env: {
        POSTERN_POOL_SIZE: '2',
        // One user may take the whole pool: only the pool's own size bounds the burst.
        POSTERN_POOL_SIZE_PER_USER: '2',
        POSTERN_POOL_TIMEOUT: '30s',
      },
    });
    http = AdminHttp.of(postern);
    api = await http.session();
    tokens = await http.createUsers(api.token, ['alice']);
    const created = await http.call('POST', '/databases', {
      token: tokens.alice,
      body: { owner: 'alice', name: 'shared' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });
  after(() => postern.dispose());

  const query = (user: string, sql: string) =>
    http.call('POST', '/databases/alice/shared/query', { token: tokens[user], body: { sql } });

  test('FAIR-02 a burst of acquires never opens more upstream connections than the pool size', async () => {
    const fixtures = await ControlFixtures.connect(postern);
    let peak = 0;
    let sampling = true;
    const sampler = fixtures.superuser('postgres', async (client) => {
      while (sampling) {
        const { rows } = await client.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'select pg_sleep(0.2)'",
        );
        peak = Math.max(peak, rows[0]!.n);
      }
    });
    try {
      const burst = Array.from({ length: 10 }, () => query('alice', 'select pg_sleep(0.2)'));
      for (const answer of await Promise.all(burst)) assert.equal(answer.status, 200);
    } finally {
      sampling = false;
      await sampler;
      await fixtures.close();
    }
    assert.ok(peak >= 1, 'the sampler saw the statements');
    assert.ok(peak <= 2, `${peak} statements ran at once over a pool of 2`);
  });
});
