import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { AdminHttp, type AdminSession } from '../support/admin-http';
import { Scrape } from '../support/metrics';
import { PosternProcess } from '../support/postern-process';

/** Clients that queue for the pool and leave. */
const LEAVING = 5;

/**
 * A client that leaves while it waits for the pool leaves the pool's queue
 * at once (LAZY-15, TXN-25, POOL-WAIT-01): otherwise a burst of clients
 * that send one message and disconnect keeps places in the queue until a
 * connection comes (each then taken, for nobody, before a real waiter's
 * turn) or the pool timeout passes. The pool holds one connection per
 * database and level, and its timeout is far longer than the test: an
 * abandoned waiter still queued shows as a waiting acquire that never
 * goes, and as a connection lent for nobody.
 */
describe('clients leaving while they wait for the pool (LAZY-15, TXN-25, POOL-WAIT-01)', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let api: AdminSession;
  let tokens: Record<string, string>;
  const clients: pg.Client[] = [];

  before(async () => {
    postern = await PosternProcess.start({
      env: { POSTERN_POOL_SIZE: '1', POSTERN_POOL_SIZE_PER_USER: '1', POSTERN_POOL_TIMEOUT: '5m' },
    });
    http = AdminHttp.of(postern);
    api = await http.session();
    tokens = await http.createUsers(api.token, ['alice']);
    const databases: Array<[string, Record<string, string>]> = [
      ['lazy', { upstreamAssignment: 'first-use' }],
      ['txn', { poolMode: 'transaction' }],
      ['eager', {}],
    ];
    for (const [name, limits] of databases) {
      const created = await http.call('POST', '/databases', {
        token: tokens.alice,
        body: { owner: 'alice', name },
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      if (Object.keys(limits).length === 0) continue;
      const set = await http.call('PUT', `/databases/alice/${name}/limits`, {
        token: tokens.alice,
        body: limits,
      });
      assert.equal(set.status, 200, JSON.stringify(set.body));
    }
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)));
    await postern?.dispose();
  });

  const config = (name: string): pg.ClientConfig => ({
    user: 'alice',
    password: 'alice-password',
    database: `alice/${name}`,
  });

  const connect = async (name: string) => {
    const client = await postern.connect(config(name));
    clients.push(client);
    return client;
  };

  /** Acquires of the database queued for a connection now. */
  const queued = async (name: string) =>
    (await Scrape.of(http, api.token)).value('postern_pool_waiting', {
      database: `alice/${name}`,
    });

  /** Connections the pool lent for the database so far (new or reused). */
  const lent = async (name: string) => {
    const scrape = await Scrape.of(http, api.token);
    const count = 'postern_pool_acquire_duration_seconds_count';
    const database = `alice/${name}`;
    return (
      scrape.value(count, { database, outcome: 'reused' }) +
      scrape.value(count, { database, outcome: 'new' })
    );
  };

  const streamOf = (client: pg.Client) =>
    (client as unknown as { connection: { stream: net.Socket } }).connection.stream;

  /**
   * `holder` holds the database's one connection; LEAVING clients queue
   * (`queue` starts each one's wait) and disconnect; they must leave the
   * queue at once, and once the holder lets go, the next client is the
   * only one lent a connection.
   */
  async function abandonedWaitersLeave(
    name: string,
    queue: () => Promise<pg.Client>,
    letGo: () => Promise<void>,
  ): Promise<void> {
    const leaving: pg.Client[] = [];
    for (let i = 0; i < LEAVING; i++) leaving.push(await queue());
    await waitFor(async () => (await queued(name)) === LEAVING);
    for (const client of leaving) streamOf(client).destroy();
    // Before: they stayed queued until a connection came or the pool timeout (5 min) passed.
    await waitFor(async () => (await queued(name)) === 0);
    const lentBefore = await lent(name);
    await letGo();
    const next = await connect(name);
    assert.equal((await next.query('SELECT 1 AS one')).rows[0].one, 1);
    assert.equal(await lent(name), lentBefore + 1, 'lent to the next client only');
    await next.end();
  }

  test('LAZY-15 first-use sessions whose clients leave while their first statement waits leave the queue at once', async () => {
    const holder = await connect('lazy');
    await holder.query('SELECT 1');
    await abandonedWaitersLeave(
      'lazy',
      async () => {
        const client = await connect('lazy');
        client.query('SELECT 1').catch(() => undefined);
        return client;
      },
      () => holder.end(),
    );
  });

  test('TXN-25 transaction-pooled sessions whose clients leave while a statement waits leave the queue at once', async () => {
    const holder = await connect('txn');
    await holder.query('BEGIN');
    await holder.query('SELECT 1');
    await abandonedWaitersLeave(
      'txn',
      async () => {
        const client = await connect('txn');
        client.query('SELECT 1').catch(() => undefined);
        return client;
      },
      async () => {
        await holder.query('COMMIT');
      },
    );
    await holder.end();
  });

  test('POOL-WAIT-01 logins whose clients leave while they wait for the pool leave the queue at once', async () => {
    const holder = await connect('eager');
    await abandonedWaitersLeave(
      'eager',
      async () => {
        const client = new pg.Client({
          host: 'localhost',
          port: postern.wirePort,
          ssl: { ca: await postern.ca(), servername: 'localhost' },
          ...config('eager'),
        });
        client.on('error', () => undefined);
        client.connect().catch(() => undefined);
        return client;
      },
      () => holder.end(),
    );
  });
});

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition not reached');
}
