/**
 * What an idle logged-in TLS client costs a pooler in memory: Postern against
 * PgBouncer 1.18, both in transaction mode (where an idle client holds no
 * upstream connection), same certificate, TLS 1.3, SCRAM. N raw TLS clients
 * log in and stay idle; the pooler's RSS before the logins, with them, and
 * sampled over a hold period (it must stay flat). Interleaved rounds, each on
 * freshly started processes; per-client memory is (RSS with N clients - RSS
 * before) / N, medians over rounds. Results go to bench/RESULTS.md.
 *
 *   npm run build && node dist/bench/idle-clients.js [--clients 10000] [--hold 60]
 *     [--rounds 3] [--paths postern,pgbouncer] [--tls on|off] [--no-results]
 *
 * The client side is this one process: N sockets need N file descriptors here
 * (and in each pooler), and N ephemeral ports to one address (Linux takes
 * ip_local_port_range, 28,232 by default, per destination).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { parseArgs } from 'node:util';
import { AdminHttp } from '../test/support/admin-http';
import { run } from '../test/support/clients';
import { ADMIN_PASSWORD, PosternProcess } from '../test/support/postern-process';
import { message, scramLogin, SSL_REQUEST } from '../test/support/raw-client';
import { median, rssBytes, startPgBouncer, upstreamOf } from './bench-processes';
import { writeResults } from './results';

type PathName = 'postern' | 'pgbouncer';

interface Login {
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly password: string;
}

/** What one round measured on one pooler. */
export interface IdleMemory {
  readonly clients: number;
  /** Pooler RSS in bytes before the logins (after a warm-up) and once they settled. */
  readonly before: number;
  readonly loggedIn: number;
  /** [seconds into the hold, RSS in bytes] while the clients idle. */
  readonly hold: ReadonlyArray<readonly [number, number]>;
  /** The TLS the clients got, e.g. `TLSv1.3 TLS_AES_256_GCM_SHA384 X25519`. */
  readonly tls: string;
}

/** One client connection, logged in and idle (a raw socket: the client side stays cheap). */
async function logIn(login: Login, ca: string | null): Promise<net.Socket | tls.TLSSocket> {
  const raw = await new Promise<net.Socket>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port: login.port }, () => resolve(socket));
    socket.once('error', reject);
  });
  let socket: net.Socket | tls.TLSSocket = raw;
  if (ca !== null) {
    raw.write(SSL_REQUEST);
    const answer = await new Promise<Buffer>((resolve) => raw.once('data', resolve));
    if (answer.toString() !== 'S') throw new Error(`SSLRequest answered ${answer.toString('hex')}`);
    socket = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const secure = tls.connect(
        { socket: raw, ca, servername: 'localhost', minVersion: 'TLSv1.3' },
        () => resolve(secure),
      );
      secure.once('error', reject);
    });
  }
  const { messages } = await scramLogin(
    socket,
    { user: login.user, database: login.database },
    login.password,
  );
  const last = messages.at(-1);
  if (last?.type !== 'Z') {
    socket.destroy();
    throw new Error(`login failed: ${last ? last.body.toString() : 'connection closed'}`);
  }
  socket.on('error', () => undefined);
  return socket;
}

function tlsOf(socket: net.Socket | tls.TLSSocket): string {
  if (!(socket instanceof tls.TLSSocket)) return 'none';
  const key = socket.getEphemeralKeyInfo();
  const group = key && 'name' in key ? key.name : '';
  return `${socket.getProtocol()} ${socket.getCipher().standardName} ${group}`.trim();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Logs `clients` in (50 at a time: Postern takes at most 64 logins in
 * progress per address), measures `pid`'s RSS, holds them idle for
 * `holdSeconds` sampling RSS, then closes them.
 */
export async function measureIdleClients(
  pid: number,
  clients: number,
  login: Login,
  ca: string | null,
  holdSeconds: number,
): Promise<IdleMemory> {
  // A few logins first, so what runs once (code loaded, first TLS context use) is not counted.
  const warm = await Promise.all(Array.from({ length: 10 }, () => logIn(login, ca)));
  for (const socket of warm) socket.end(message('X', ''));
  await sleep(3000);
  const before = await rssBytes(pid);
  const open: Array<net.Socket | tls.TLSSocket> = [];
  try {
    for (let i = 0; i < clients; i += 50) {
      const batch = Math.min(50, clients - i);
      open.push(...(await Promise.all(Array.from({ length: batch }, () => logIn(login, ca)))));
    }
    await sleep(3000);
    const loggedIn = await rssBytes(pid);
    const hold: Array<readonly [number, number]> = [[0, loggedIn]];
    const step = Math.max(1, holdSeconds / 12);
    for (let t = step; t <= holdSeconds + 1e-9; t += step) {
      await sleep(step * 1000);
      hold.push([t, await rssBytes(pid)]);
    }
    const lost = open.filter((socket) => socket.destroyed).length;
    if (lost) throw new Error(`${lost} idle clients were disconnected during the hold`);
    return { clients, before, loggedIn, hold, tls: tlsOf(open[0]!) };
  } finally {
    for (const socket of open) socket.end(message('X', ''));
    await sleep(2000);
    for (const socket of open) socket.destroy();
  }
}

/** This process needs a descriptor per client: say so before 10,000 logins, not after 1,021. */
async function checkOpenFiles(clients: number): Promise<void> {
  const limits = await readFile('/proc/self/limits', 'utf8');
  const soft = Number(/Max open files\s+(\d+)/.exec(limits)?.[1] ?? Infinity);
  if (clients + 200 > soft) {
    throw new Error(
      `${clients} clients need more open files than this process may have (${soft}): run it under \`ulimit -n ${clients + 1000}\``,
    );
  }
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '10000' },
      hold: { type: 'string', default: '60' },
      rounds: { type: 'string', default: '3' },
      paths: { type: 'string', default: 'postern,pgbouncer' },
      tls: { type: 'string', default: 'on' },
      'no-results': { type: 'boolean', default: false },
    },
  });
  const clients = Number(values.clients);
  const holdSeconds = Number(values.hold);
  const rounds = Number(values.rounds);
  const useTls = values.tls !== 'off';
  const paths = values.paths.split(',') as PathName[];
  await checkOpenFiles(clients);
  const env = {
    POSTERN_MAX_CONNECTIONS: String(clients + 50),
    POSTERN_MAX_CONNECTIONS_PER_USER: String(clients + 50),
    POSTERN_POOL_SIZE: '20',
    POSTERN_POOL_SIZE_PER_USER: '20',
    POSTERN_LOG_LEVEL: 'warn',
    ...(useTls ? {} : { POSTERN_TLS: 'prefer' }),
  };
  // The first start creates the gateway's data; admin/main pools per transaction from then on.
  const first = await PosternProcess.start({ env });
  const workDir = first.workDir;
  try {
    const http = AdminHttp.of(first);
    const api = await http.session();
    const limits = await http.call('PUT', '/databases/admin/main/limits', {
      token: api.token,
      body: { poolMode: 'transaction' },
    });
    if (limits.status !== 200) throw new Error(JSON.stringify(limits.body));
  } finally {
    await first.stop();
  }

  const measured: Record<PathName, IdleMemory[]> = { postern: [], pgbouncer: [] };
  try {
    for (let round = 0; round < rounds; round++) {
      // Fresh processes every round: what a round measures is not what an earlier one left.
      const postern = await PosternProcess.start({ workDir, env });
      const bouncerWork = await mkdtemp(path.join(tmpdir(), 'postern-idle-'));
      await run('chmod', ['755', bouncerWork]);
      const upstream = await upstreamOf(postern);
      const bouncer = await startPgBouncer({
        work: bouncerWork,
        upstream,
        certsDir: path.join(workDir, 'certs'),
        poolMode: 'transaction',
        poolSize: 20,
        maxClients: clients,
        tlsProtocols: 'tlsv1.3',
      });
      try {
        const ca = useTls ? await postern.ca() : null;
        const targets: Record<PathName, { pid: number; login: Login }> = {
          postern: {
            pid: postern.pid,
            login: {
              port: postern.wirePort,
              user: 'admin',
              database: 'admin/main',
              password: ADMIN_PASSWORD,
            },
          },
          pgbouncer: {
            pid: bouncer.pid,
            login: {
              port: bouncer.port,
              user: upstream.writerRole,
              database: bouncer.database,
              password: upstream.writerPassword,
            },
          },
        };
        const order = round % 2 ? [...paths].reverse() : paths;
        for (const name of order) {
          const { pid, login } = targets[name];
          const memory = await measureIdleClients(pid, clients, login, ca, holdSeconds);
          measured[name].push(memory);
          const hold = memory.hold.map(([, rss]) => rss);
          console.log(
            `round ${round + 1} ${name}: ${mib(memory.before)} MiB before, ${mib(memory.loggedIn)} MiB with ${clients} clients, ` +
              `${((memory.loggedIn - memory.before) / clients / 1024).toFixed(1)} KiB each; hold ${hold.map(mib).join(' ')} MiB; ${memory.tls}`,
          );
        }
      } finally {
        await bouncer.stop();
        await postern.stop();
        await rm(bouncerWork, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }

  const perClientKiB = (name: PathName) =>
    measured[name].length
      ? median(measured[name].map((m) => (m.loggedIn - m.before) / clients / 1024))
      : undefined;
  const medianOf = (name: PathName, pick: (m: IdleMemory) => number) =>
    measured[name].length ? median(measured[name].map(pick)) : undefined;
  const holdChange = (m: IdleMemory) => m.hold.at(-1)![1] - m.hold[0]![1];
  const holdPeak = (m: IdleMemory) => Math.max(...m.hold.map(([, bytes]) => bytes));
  const holdSpread = (m: IdleMemory) => {
    const rss = m.hold.map(([, bytes]) => bytes);
    return Math.max(...rss) - Math.min(...rss);
  };
  const cell = (value: number | undefined, format: (v: number) => string) =>
    value === undefined ? '-' : format(value);
  const ratio = (p: number | undefined, b: number | undefined) =>
    p === undefined || !b ? '-' : (p / b).toFixed(2);
  const row = (label: string, pick: (m: IdleMemory) => number, format: (v: number) => string) => {
    const b = medianOf('pgbouncer', pick);
    const p = medianOf('postern', pick);
    return `| ${label} | ${cell(b, format)} | ${cell(p, format)} | ${ratio(p, b)} |`;
  };
  const kind = useTls ? 'TLS' : 'plaintext';
  const table = [
    '| median over rounds | PgBouncer 1.18 | Postern | Postern / PgBouncer |',
    '| --- | ---: | ---: | ---: |',
    row('RSS before the logins (MiB)', (m) => m.before, mib),
    row(
      `RSS with ${clients.toLocaleString('en')} idle ${kind} clients (MiB)`,
      (m) => m.loggedIn,
      mib,
    ),
    `| per idle ${kind} client (KiB) | ${cell(perClientKiB('pgbouncer'), (v) => v.toFixed(1))} | ${cell(perClientKiB('postern'), (v) => v.toFixed(1))} | ${ratio(perClientKiB('postern'), perClientKiB('pgbouncer'))} |`,
    row(`RSS change over the ${holdSeconds} s hold (MiB, last - first sample)`, holdChange, mib),
    row(`RSS spread over the hold (MiB, max - min)`, holdSpread, mib),
    row('RSS peak over the hold (MiB)', holdPeak, mib),
    row(
      `per idle ${kind} client at the hold's peak (KiB)`,
      (m) => (holdPeak(m) - m.before) / clients / 1024,
      (v) => v.toFixed(1),
    ),
  ].join('\n');
  console.log(table);
  if (values['no-results']) return;
  const overTime = (name: PathName) =>
    measured[name]
      .map(
        (m, i) =>
          `round ${i + 1}: ${m.hold.map(([t, rss]) => `${t.toFixed(0)} s ${mib(rss)}`).join(', ')}`,
      )
      .join('; ');
  const perRound = (name: PathName) =>
    measured[name].map((m) => ((m.loggedIn - m.before) / clients / 1024).toFixed(1)).join(', ');
  await writeResults(`Idle ${kind} clients: Postern vs PgBouncer (issue 14)`, table, [
    `Command: \`npm run build && node dist/bench/idle-clients.js --clients ${clients} --hold ${holdSeconds} --rounds ${rounds}${useTls ? '' : ' --tls off'}\`; ${rounds} rounds, each on freshly started processes, the order of the two poolers alternated per round; per-client memory is (RSS with the clients, 3 s after the last login - RSS before, after 10 warm-up logins) / ${clients.toLocaleString('en')}, the median over rounds.`,
    `Clients: raw sockets from one Node process${useTls ? ' (SSLRequest, TLS 1.3 only, the dev CA verified)' : ''}, SCRAM-SHA-256 login, then idle; 50 logins at a time. Postern: admin on admin/main in transaction mode, POSTERN_POOL_SIZE=20. PgBouncer 1.18: pool_mode=transaction, default_pool_size=20, max_client_conn=${Math.max(500, clients + 50)}, auth_type=scram-sha-256 against the writer role's secret, run as the postgres OS user with the hard open-files limit. Neither holds an upstream connection for an idle client.`,
    useTls
      ? `TLS: both present the gateway's dev certificate and key; PgBouncer has client_tls_protocols=tlsv1.3 and its default ciphers and ECDH curve (OpenSSL's TLS 1.3 suites; client_tls_ciphers only governs TLS 1.2), Postern Node's defaults (minimum TLS 1.2, so TLS 1.3 here as the client asks for it). Negotiated: PgBouncer ${measured.pgbouncer[0]?.tls ?? '-'}, Postern ${measured.postern[0]?.tls ?? '-'}. PgBouncer offers SCRAM-SHA-256 only; Postern also SCRAM-SHA-256-PLUS, which these clients do not use.`
      : 'Plaintext: both allow it (client_tls_sslmode=prefer, POSTERN_TLS=prefer).',
    `Per client (KiB) per round: PgBouncer ${perRound('pgbouncer')}; Postern ${perRound('postern')}.`,
    `RSS (MiB) over the hold, PgBouncer: ${overTime('pgbouncer')}.`,
    `RSS (MiB) over the hold, Postern: ${overTime('postern')}.`,
    'Memory is little affected by other work on the machine; the login phase (not measured here) is.',
  ]);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
