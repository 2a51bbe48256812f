import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ControlFixtures } from '../support/control-fixtures';
import { PosternProcess } from '../support/postern-process';

const PROBE = `SELECT pg_backend_pid() AS pid, current_setting('application_name') AS app,
  current_setting('search_path') AS path, current_setting('work_mem') AS mem`;

interface Probe {
  pid: number;
  app: string;
  path: string;
  mem: string;
}

/**
 * The pool re-applies the last client's startup settings with its reset, so
 * that the next login asking for the same ones needs no round trip of its
 * own (POSTERN_POOL_SIZE=1: every session gets the same upstream
 * connection). What a session changed itself is still gone, a login asking
 * for other settings gets exactly its own, and an idle connection that
 * died is noticed without a query.
 */
describe('POOL-SETTINGS pooled connections and client startup settings', () => {
  let postern: PosternProcess;
  let fixtures: ControlFixtures;

  before(async () => {
    postern = await PosternProcess.start({ env: { POSTERN_POOL_SIZE: '1' } });
    fixtures = await ControlFixtures.connect(postern);
  });
  after(async () => {
    await fixtures.close();
    await postern.dispose();
  });

  async function session(
    config: pg.ClientConfig,
    work: (client: pg.Client) => Promise<void> = async () => undefined,
  ): Promise<Probe> {
    const client = await postern.connect(config);
    try {
      const probe = (await client.query<Probe>(PROBE)).rows[0]!;
      await work(client);
      return probe;
    } finally {
      await client.end();
    }
  }

  test('POOL-SETTINGS the same settings again: kept, and what the session SET itself is gone', async () => {
    const settings = { application_name: 'same-app', options: '-c search_path=pg_catalog' };
    const first = await session(settings, async (client) => {
      await client.query("SET work_mem = '7MB'");
      await client.query("SELECT set_config('application_name', 'changed-by-client', false)");
    });
    const second = await session(settings);
    assert.equal(second.pid, first.pid, 'the same upstream connection');
    assert.deepEqual(
      { app: second.app, path: second.path, mem: second.mem },
      { app: 'same-app', path: 'pg_catalog', mem: '4MB' },
    );
  });

  test('POOL-SETTINGS other settings: those of the previous login are undone, not only overwritten', async () => {
    const first = await session({ application_name: 'one', options: '-c search_path=pg_catalog' });
    const second = await session({ application_name: 'two' });
    assert.equal(second.pid, first.pid, 'the same upstream connection');
    assert.deepEqual(
      { app: second.app, path: second.path },
      { app: 'two', path: '"$user", public' },
    );
    const third = await session({});
    assert.equal(third.app, '');
  });

  test('POOL-SETTINGS a refused setting leaves the pooled connection as it was', async () => {
    await session({ application_name: 'kept' });
    await assert.rejects(
      postern.connect({ application_name: 'kept', options: '-c work_mem=nonsense' }),
      (err: { code?: string }) => err.code === '22023',
    );
    const after = await session({ application_name: 'kept' });
    assert.equal(after.app, 'kept');
    assert.equal(after.mem, '4MB');
  });

  test('POOL-SETTINGS an idle pooled connection whose backend was terminated is not lent again', async () => {
    const first = await session({ application_name: 'victim' });
    await fixtures.superuser('postgres', async (client) => {
      await client.query('SELECT pg_terminate_backend($1)', [first.pid]);
      // pg_terminate_backend only signals: wait until the backend is gone.
      for (;;) {
        const { rows } = await client.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1',
          [first.pid],
        );
        if (rows[0]!.n === 0) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    });
    // The same settings as the idle connection has: lent without a query, were it not watched.
    const next = await session({ application_name: 'victim' });
    assert.notEqual(next.pid, first.pid, 'a new upstream connection');
    assert.equal(next.app, 'victim');
  });
});
