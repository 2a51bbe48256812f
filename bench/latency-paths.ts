/**
 * Added latency of the gateway hop on the paths clients react to quickly:
 * a round trip, an error, a cancel, a notification to an idle session, and
 * a backend ended under a session. Each is measured directly against the
 * embedded PostgreSQL and through Postern (TLS, as clients use it), in
 * alternating rounds; medians and the difference go to bench/RESULTS.md.
 *
 *   npm run build && node dist/bench/latency-paths.js [rounds=30]
 */
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { PosternProcess } from '../test/support/postern-process';
import { writeResults } from './results';

const rounds = Number(process.argv[2] ?? 30);

type Connect = () => Promise<pg.Client>;

interface Path {
  readonly name: string;
  readonly connect: Connect;
  /** Where a CancelRequest for this path's sessions goes. */
  readonly cancelPort: number;
}

async function directPath(postern: PosternProcess): Promise<Path> {
  const dataDir = path.join(postern.workDir, 'data');
  const password = (
    await readFile(path.join(dataDir, 'secrets', 'superuser-password'), 'utf8')
  ).trim();
  const port = Number(
    (await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[3],
  );
  const probe = await postern.connect();
  const database = (await probe.query('SELECT current_database() AS db')).rows[0].db as string;
  await probe.end();
  const connect = async () => {
    const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };
  return { name: 'direct', connect, cancelPort: port };
}

function posternPath(postern: PosternProcess): Path {
  return { name: 'postern', connect: () => postern.connect(), cancelPort: postern.wirePort };
}

/** A CancelRequest with the key the session was given (BackendKeyData). */
function sendCancel(port: number, client: pg.Client): Promise<void> {
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  const packet = Buffer.alloc(16);
  packet.writeInt32BE(16, 0);
  packet.writeInt32BE(80877102, 4);
  packet.writeInt32BE(processID, 8);
  packet.writeInt32BE(secretKey, 12);
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.end(packet));
    socket.on('close', () => resolve());
    socket.on('error', () => resolve());
  });
}

const elapsed = (start: number) => performance.now() - start;

/** One measurement per path and round, in ms. */
const probes: Record<string, (p: Path) => Promise<number>> = {
  'round trip (`SELECT 1`)': async (p) => {
    const client = await p.connect();
    await client.query('SELECT 1');
    const start = performance.now();
    await client.query('SELECT 1');
    const ms = elapsed(start);
    await client.end();
    return ms;
  },
  'error relay (`SELECT 1/0`)': async (p) => {
    const client = await p.connect();
    await client.query('SELECT 1');
    const start = performance.now();
    await client.query('SELECT 1/0').catch(() => undefined);
    const ms = elapsed(start);
    await client.end();
    return ms;
  },
  'cancel: CancelRequest sent to 57014 received': async (p) => {
    const client = await p.connect();
    const running = client.query('SELECT pg_sleep(10)').then(
      () => performance.now(),
      () => performance.now(),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const start = performance.now();
    await sendCancel(p.cancelPort, client);
    const ms = (await running) - start;
    await client.end();
    return ms;
  },
  'notification to an idle session (NOTIFY sent to received)': async (p) => {
    const listener = await p.connect();
    const notifier = await p.connect();
    await listener.query('LISTEN bench');
    const received = new Promise<number>((resolve) =>
      listener.once('notification', () => resolve(performance.now())),
    );
    const start = performance.now();
    await notifier.query('NOTIFY bench');
    const ms = (await received) - start;
    await listener.end();
    await notifier.end();
    return ms;
  },
  'backend terminated under an idle session (call to client end)': async (p) => {
    const victim = await p.connect();
    const pid = (await victim.query('SELECT pg_backend_pid() AS pid')).rows[0].pid as number;
    const ended = new Promise<number>((resolve) =>
      victim.once('end', () => resolve(performance.now())),
    );
    const killer = await p.connect();
    const start = performance.now();
    await killer.query('SELECT pg_terminate_backend($1)', [pid]);
    const ms = (await ended) - start;
    await killer.end();
    return ms;
  },
};

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const postern = await PosternProcess.start({ env: { POSTERN_LOG_LEVEL: 'error' } });
  try {
    const paths = [await directPath(postern), posternPath(postern)];
    const rows: string[] = [];
    for (const [name, probe] of Object.entries(probes)) {
      const samples = new Map<string, number[]>(paths.map((p) => [p.name, []]));
      for (let round = 0; round < rounds; round++) {
        // Alternate which path goes first, so drift hits both alike.
        const order = round % 2 ? [...paths].reverse() : paths;
        for (const p of order) samples.get(p.name)!.push(await probe(p));
      }
      const direct = median(samples.get('direct')!);
      const through = median(samples.get('postern')!);
      rows.push(
        `| ${name} | ${direct.toFixed(2)} | ${through.toFixed(2)} | ${(through - direct).toFixed(2)} |`,
      );
      console.log(rows.at(-1));
    }
    await writeResults(
      'Added latency per path',
      [
        '| path | direct PostgreSQL, median ms | through Postern, median ms | added ms |',
        '| --- | ---: | ---: | ---: |',
        ...rows,
      ].join('\n'),
      [
        `${rounds} rounds per path, alternating which goes first; node-postgres on loopback.`,
        'Direct: the embedded PostgreSQL as its superuser, no TLS. Through Postern: admin on admin/main with TLS (verify-full), so the added time includes TLS on the client leg.',
        'Cancel: from the CancelRequest leaving the client to the query failing with 57014. Notification: from NOTIFY being sent by a second session to the idle listener receiving it. Terminate: from `pg_terminate_backend` being sent by a second session to the victim client seeing its connection end.',
        'Command: `npm run build && node dist/bench/latency-paths.js [rounds]`.',
      ],
    );
  } finally {
    await postern.dispose();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
