import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { findFreePort, silentLog, UpstreamConnectError, UpstreamPool } from '#engine';
import { ControlFixtures } from '../support/control-fixtures';
import { PosternProcess } from '../support/postern-process';

/**
 * A TCP forwarder to PostgreSQL's private socket (tenant roles may log in
 * only there), opened late: an upstream that "comes back".
 */
function forwarder(port: number, socketPath: string): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect({ path: socketPath });
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

describe('FAULT-02: upstream connects are retried while the upstream is unavailable', () => {
  let postern: PosternProcess;
  let fixtures: ControlFixtures;

  before(async () => {
    postern = await PosternProcess.start();
    fixtures = await ControlFixtures.connect(postern);
  });
  after(async () => {
    await fixtures.close();
    await postern.dispose();
  });

  const pool = (connectRetryMs: number) =>
    new UpstreamPool({
      maxPerKey: 2,
      idleTimeoutMs: 60_000,
      acquireTimeoutMs: 1_000,
      connectTimeoutMs: 5_000,
      connectRetryMs,
      log: silentLog,
    });

  test('FAULT-02a: an upstream that starts listening within the budget is reached', async () => {
    const db = await fixtures.database('admin', 'main');
    const port = await findFreePort();
    const target = {
      host: '127.0.0.1',
      port,
      ssl: false as const,
      database: db.physicalName,
      user: db.writer.role,
      password: db.writer.password,
    };
    const upstreams = pool(5_000);
    const acquiring = upstreams.acquire(target, { application_name: 'retry-test' });
    await new Promise((resolve) => setTimeout(resolve, 600));
    const server = await forwarder(port, fixtures.endpoint.tenantSocketPath!);
    try {
      const lease = await acquiring;
      assert.equal(lease.parameters.get('application_name'), 'retry-test');
      lease.connection.discard();
      lease.release();
    } finally {
      upstreams.close();
      server.close();
    }
  });

  test('without a retry budget, an unreachable upstream fails at once with the connect error', async () => {
    const db = await fixtures.database('admin', 'main');
    const upstreams = pool(0);
    try {
      await assert.rejects(
        upstreams.acquire(
          {
            host: '127.0.0.1',
            port: await findFreePort(),
            ssl: false,
            database: db.physicalName,
            user: db.writer.role,
            password: db.writer.password,
          },
          {},
        ),
        (err: unknown) => err instanceof UpstreamConnectError && /ECONNREFUSED/.test(err.message),
      );
    } finally {
      upstreams.close();
    }
  });

  test('a refusal that waiting cannot fix (wrong password, 28P01) is not retried', async () => {
    const db = await fixtures.database('admin', 'main');
    const upstreams = pool(5_000);
    try {
      await assert.rejects(
        upstreams.acquire(
          {
            host: '127.0.0.1',
            port: fixtures.endpoint.port,
            socketPath: fixtures.endpoint.tenantSocketPath,
            ssl: false,
            database: db.physicalName,
            user: db.writer.role,
            password: 'wrong',
          },
          {},
        ),
        (err: unknown) => err instanceof UpstreamConnectError && err.sqlstate === '28P01',
      );
    } finally {
      upstreams.close();
    }
  });
});

describe('the upstream PostgreSQL goes away', () => {
  test('logins answer 08006 (never an internal error) and /readyz turns 503', async () => {
    const postern = await PosternProcess.start();
    try {
      const pid = Number(
        (await readFile(path.join(postern.workDir, 'data', 'pg', 'postmaster.pid'), 'utf8')).split(
          '\n',
        )[0],
      );
      process.kill(pid, 'SIGINT'); // PostgreSQL fast shutdown
      const ready = async () => (await fetch(`http://127.0.0.1:${postern.httpPort}/readyz`)).status;
      for (let i = 0; i < 100 && (await ready()) === 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(await ready(), 503);
      const code = await postern.connect().then(
        async (c) => {
          await c.end();
          return 'connected';
        },
        (err: { code?: string }) => err.code,
      );
      assert.equal(code, '08006');
      assert.equal(await postern.stop(), 0, 'shutdown completes without its PostgreSQL');
    } finally {
      await postern.dispose();
    }
  });
});
