import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ControlFixtures } from '../support/control-fixtures';
import { ADMIN_PASSWORD, PosternProcess } from '../support/postern-process';
import {
  connectRaw,
  connectTls,
  int32,
  message,
  MessageStream,
  scramLogin,
} from '../support/raw-client';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function rssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]);
}

describe('relay failures, cancel, backpressure and shutdown (issue 5)', () => {
  let postern: PosternProcess;
  let ca: string;
  let fixtures: ControlFixtures;

  before(async () => {
    postern = await PosternProcess.start({ env: { POSTERN_SHUTDOWN_GRACE: '5s' } });
    ca = await postern.ca();
    fixtures = await ControlFixtures.connect(postern);
  });
  after(async () => {
    await fixtures.close().catch(() => undefined);
    await postern.dispose();
  });

  const open = () => postern.connect();
  /** Upstream backends running a statement that contains `marker`. */
  const running = (marker: string) =>
    fixtures.superuser('postgres', async (c) => {
      const { rows } = await c.query(
        "SELECT pid FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
        [marker],
      );
      return rows.map((r: { pid: number }) => r.pid);
    });
  const waitFor = async (check: () => Promise<boolean>, what: string) => {
    for (let i = 0; i < 200; i++) {
      if (await check()) return;
      await sleep(50);
    }
    assert.fail(`timed out waiting for ${what}`);
  };

  test('FAULT-01a: an upstream backend terminated mid-query -> 57P01 and a closed connection; others untouched', async () => {
    const victim = await open();
    const bystander = await open();
    const ended = new Promise<Error>((resolve) => victim.on('error', resolve));
    const pending = victim.query("SELECT pg_sleep(30), 'fault01a'").catch((e) => e);
    await waitFor(async () => (await running('fault01a')).length === 1, 'the query to start');
    await fixtures.superuser('postgres', (c) =>
      c.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%fault01a%' AND pid <> pg_backend_pid()",
      ),
    );
    assert.equal((await pending).code, '57P01');
    await ended;
    assert.equal((await bystander.query('SELECT 2 AS two')).rows[0].two, 2);
    await bystander.end();
    const fresh = await open();
    await fresh.end();
  });

  test('FAULT-03b: a client that disconnects mid-query gets its upstream statement cancelled', async () => {
    const socket = await connectTls(postern.wirePort, ca);
    const { stream } = await scramLogin(
      socket,
      { user: 'admin', database: 'admin/main' },
      ADMIN_PASSWORD,
    );
    socket.write(message('Q', "SELECT pg_sleep(60), 'fault03b'\0"));
    await waitFor(async () => (await running('fault03b')).length === 1, 'the query to start');
    socket.destroy();
    await waitFor(
      async () => (await running('fault03b')).length === 0,
      'the upstream statement to end',
    );
    assert.equal(stream.closed || socket.destroyed, true);
  });

  test('FAULT-03a: a client that vanishes mid-COPY commits nothing', async () => {
    const setup = await open();
    await setup.query('CREATE TABLE copy_target (v int)');
    await setup.end();
    const socket = await connectTls(postern.wirePort, ca);
    const { stream } = await scramLogin(
      socket,
      { user: 'admin', database: 'admin/main' },
      ADMIN_PASSWORD,
    );
    socket.write(message('Q', 'COPY copy_target FROM STDIN\0'));
    const response = await stream.next();
    assert.equal(response?.type, 'G', 'CopyInResponse');
    for (let i = 0; i < 100; i++) socket.write(message('d', `${i}\n`));
    await sleep(200);
    socket.destroy();
    await waitFor(async () => (await running('COPY copy_target')).length === 0, 'the COPY to end');
    const check = await open();
    assert.equal((await check.query('SELECT count(*)::int AS n FROM copy_target')).rows[0].n, 0);
    await check.end();
  });

  test('CANCEL: the key the gateway gave cancels; a wrong key does nothing and the cancel socket never gets a byte', async () => {
    const socket = await connectTls(postern.wirePort, ca);
    const { messages, stream } = await scramLogin(
      socket,
      { user: 'admin', database: 'admin/main' },
      ADMIN_PASSWORD,
    );
    const keyData = messages.find((m) => m.type === 'K')!.body;
    const processId = keyData.readUInt32BE(0);
    const secretKey = keyData.subarray(4);
    assert.equal(keyData.length, 8, 'PROTO-03a: 4-byte key under protocol 3.0');

    socket.write(message('Q', "SELECT pg_sleep(30), 'cancelme'\0"));
    await waitFor(async () => (await running('cancelme')).length === 1, 'the query to start');
    const upstreamPids = await running('cancelme');
    // The pid is the backend's own (FIDELITY-PID); the key is the gateway's, so only it cancels.
    assert.deepEqual(upstreamPids, [processId], 'BackendKeyData names the upstream backend');

    const cancel = async (key: Buffer) => {
      const raw = await connectRaw(postern.wirePort);
      const rawStream = new MessageStream(raw);
      const body = Buffer.concat([int32(80877102), int32(processId), key]);
      raw.write(Buffer.concat([int32(body.length + 4), body]));
      await rawStream.untilClosed();
      return rawStream.received;
    };
    const wrong = Buffer.from(secretKey);
    wrong[0] ^= 0xff;
    assert.equal(await cancel(wrong), 0);
    await sleep(300);
    assert.equal((await running('cancelme')).length, 1, 'a wrong key cancels nothing');
    assert.equal(await cancel(secretKey), 0);
    let reply = await stream.next();
    while (reply && reply.type !== 'E') reply = await stream.next(); // RowDescription comes first
    assert.match(reply!.body.toString(), /C57014/);
    socket.destroy();
  });

  test('FAULT-04a: a client that does not read a 200 MB result keeps gateway memory bounded', async () => {
    const socket = await connectTls(postern.wirePort, ca);
    const { stream } = await scramLogin(
      socket,
      { user: 'admin', database: 'admin/main' },
      ADMIN_PASSWORD,
    );
    socket.pause();
    stream.socket.removeAllListeners('data');
    const before = await rssKiB(postern.pid);
    socket.write(
      message('Q', "SELECT repeat('a', 1000000), 'slowreader' FROM generate_series(1, 200)\0"),
    );
    await sleep(5000);
    const during = await rssKiB(postern.pid);
    const waiting = await fixtures.superuser('postgres', async (c) => {
      const { rows } = await c.query(
        "SELECT wait_event FROM pg_stat_activity WHERE query LIKE '%slowreader%' AND pid <> pg_backend_pid()",
      );
      return rows[0]?.wait_event;
    });
    socket.destroy();
    // Generous: 200 MB of result, of which the gateway may hold a few socket buffers.
    assert.ok(during - before < 64 * 1024, `RSS grew by ${during - before} KiB`);
    assert.equal(waiting, 'ClientWrite', 'PostgreSQL is held back, not the gateway buffering');
  });

  test('notifications name the sender by the pid its client got in BackendKeyData', async () => {
    const listener = await open();
    const notifier = await open();
    await listener.query('LISTEN relay_pids');
    const received: Array<{ processId: number }> = [];
    listener.on('notification', (n) => received.push(n));
    await notifier.query("NOTIFY relay_pids, 'from notifier'");
    await listener.query("NOTIFY relay_pids, 'from myself'");
    await waitFor(async () => received.length === 2, 'both notifications');
    const ids = (c: pg.Client) => (c as unknown as { processID: number }).processID;
    assert.deepEqual(
      received.map((n) => n.processId),
      [ids(notifier), ids(listener)],
    );
    await listener.end();
    await notifier.end();
  });

  test('FAULT-05e: SIGTERM lets a busy statement finish within the grace, then ends sessions with 57P01', async () => {
    await fixtures.close(); // its superuser connection ends with the cluster
    const idle = await open();
    const busy = await open();
    const idleEnded = new Promise<Error & { code?: string }>((resolve) =>
      idle.on('error', resolve),
    );
    const busyEnded = new Promise<Error & { code?: string }>((resolve) =>
      busy.on('error', resolve),
    );
    const result = busy.query('SELECT pg_sleep(1.5) IS NULL AS done');
    await sleep(200);
    const exited = postern.stop('SIGTERM');
    assert.equal((await idleEnded).code, '57P01');
    assert.deepEqual((await result).rows, [{ done: false }], 'the busy statement completed');
    assert.equal((await busyEnded).code, '57P01', 'then it was ended as soon as it was idle');
    assert.equal(await exited, 0);
  });
});
