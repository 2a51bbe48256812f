import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { AdminHttp, type AdminSession } from '../support/admin-http';
import { PosternProcess } from '../support/postern-process';
import { connectTls, int32, message, scramLogin } from '../support/raw-client';

/**
 * TXN-18: a transaction-mode client that sent an extended-protocol pipeline
 * while every pooled connection was busy, and went away while it waited,
 * must not take the gateway down when a connection frees up for it. Found
 * by bench/pgbench-compare.ts (pgbench -M extended stopped with 100 clients
 * over a pool of 20): the gateway exited with "TypeError: Cannot set
 * properties of null (setting 'unnamedKey')" in PooledUpstream.parse.
 */
describe('transaction pooling: a waiting client that goes away (TXN-18)', () => {
  let postern: PosternProcess;
  let http: AdminHttp;
  let api: AdminSession;
  let holder: pg.Client;

  before(async () => {
    postern = await PosternProcess.start({
      env: { POSTERN_POOL_SIZE: '1', POSTERN_POOL_SIZE_PER_USER: '1', POSTERN_POOL_TIMEOUT: '30s' },
    });
    http = AdminHttp.of(postern);
    api = await http.session();
    const limits = await http.call('PUT', '/databases/admin/main/limits', {
      token: api.token,
      body: { poolMode: 'transaction' },
    });
    assert.equal(limits.status, 200, JSON.stringify(limits.body));
  });
  after(async () => {
    await holder?.end().catch(() => undefined);
    await postern.dispose();
  });

  /** One series of the gateway's metrics for admin/main, e.g. postern_pool_waiting. */
  const metric = async (name: string): Promise<number> => {
    const answer = await http.call<string>('GET', '/metrics', {
      absolute: true,
      token: api.token,
    });
    const line = answer.body
      .split('\n')
      .find((l) => l.startsWith(`${name}{`) && l.includes('database="admin/main"'));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  const until = async (what: string, check: () => Promise<boolean>) => {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`never: ${what}`);
  };

  test('TXN-18 a client that sent Parse/Bind/Execute/Sync while waiting for the only connection, then closed: the gateway stays up and serves the next', async () => {
    // The pool's one connection is held by an open transaction.
    holder = await postern.connect();
    holder.on('error', () => undefined);
    await holder.query('BEGIN');
    await holder.query('SELECT 1');

    const socket = await connectTls(postern.wirePort, await postern.ca());
    const { messages } = await scramLogin(
      socket,
      { user: 'admin', database: 'admin/main' },
      'correct-horse-battery-staple',
    );
    assert.equal(messages.at(-1)?.type, 'Z');
    socket.write(
      Buffer.concat([
        message('P', Buffer.concat([Buffer.from('\0SELECT 1\0'), Buffer.from([0, 0])])),
        message('B', Buffer.concat([Buffer.from('\0\0'), int32(0), Buffer.from([0, 0])])),
        message('E', Buffer.concat([Buffer.from('\0'), int32(0)])),
        message('S', ''),
      ]),
    );
    await until('the pipeline waits for the connection', async () => {
      return (await metric('postern_pool_waiting')) === 1;
    });
    socket.destroy();
    await until('the gateway saw the client go', async () => {
      return (await metric('postern_sessions')) === 1;
    });

    // The connection comes back to the pool: the waiter that went away must not get it.
    await holder.query('COMMIT');
    const served = await (async () => {
      const next = await postern.connect();
      next.on('error', () => undefined);
      try {
        const { rows } = await next.query('SELECT 42 AS answer');
        assert.equal(rows[0].answer, 42);
        const again = await holder.query('SELECT 1 AS one');
        assert.equal(again.rows[0].one, 1);
      } finally {
        await next.end().catch(() => undefined);
      }
    })().then(
      () => null,
      (err: Error) => err,
    );
    assert.equal(served, null, `${served}; the gateway's log:\n${postern.log.slice(-1500)}`);
    assert.ok(postern.running, `the gateway exited:\n${postern.log.slice(-1500)}`);
  });
});
