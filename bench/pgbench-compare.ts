/**
 * Postern against PgBouncer (session pooling) and direct PostgreSQL, in one
 * interleaved run: select-only TPS (pgbench -S, simple / extended /
 * prepared, with and without TLS, at each client count), gateway CPU per
 * transaction, TLS + SCRAM logins per second (pgbench -C) with gateway and
 * PostgreSQL CPU per login, and the wall time of a COPY out and of a large
 * result. Results go to bench/RESULTS.md.
 *
 *   npm run build && node dist/bench/pgbench-compare.js [--seconds 10] [--rounds 3]
 *     [--clients 10,50] [--login-seconds 10] [--profile relay|login]
 *     [--paths direct,pgbouncer,postern,floor] [--parts selects,logins,bulk]
 *     [--modes simple,extended,prepared] [--tls off,on] [--no-results]
 *     [--baseline <another build's dist directory>]
 *     [--pool-mode session|transaction] [--upstream-assignment login|first-use]
 *
 * The subset options make quick runs (`--no-results` leaves RESULTS.md alone);
 * `floor` is bench/node-relay-floor.ts, a bare Node byte pipe; `--baseline`
 * measures another build (e.g. a copy of dist/ from before a change, next to
 * a package.json and prisma/ as in the repository) in the same rounds.
 *
 * Every round runs every cell once, the order of the paths rotated from
 * round to round and cell to cell; the table shows medians over rounds.
 * All paths reach the same tenant database (`admin/main`) as its writer role
 * over the cluster's Unix socket, so PostgreSQL does the same work; both
 * proxies present the same certificate (the gateway's dev certificate) and
 * have the same pool size. `--profile relay|login` runs only Postern's part
 * under `node --cpu-prof` and prints the functions with the most self time.
 */
import { spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { findFreePort } from '#engine';
import { run } from '../test/support/clients';
import { AdminHttp } from '../test/support/admin-http';
import { ADMIN_PASSWORD, PosternProcess } from '../test/support/postern-process';
import {
  clusterCpuMs,
  median,
  processCpuMs,
  startPgBouncer,
  superuserClient,
  timeToDevNull,
  upstreamOf,
  type RunningPgBouncer,
  type Upstream,
} from './bench-processes';
import { printTopSelfTime } from './cpu-profile';
import { writeResults } from './results';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    clients: { type: 'string', default: '10,50' },
    'login-seconds': { type: 'string', default: '10' },
    profile: { type: 'string' },
    paths: { type: 'string', default: 'direct,pgbouncer,postern,floor' },
    parts: { type: 'string', default: 'selects,logins,bulk' },
    modes: { type: 'string', default: 'simple,extended,prepared' },
    tls: { type: 'string', default: 'off,on' },
    'no-results': { type: 'boolean', default: false },
    baseline: { type: 'string' },
    'pool-mode': { type: 'string', default: 'session' },
    'upstream-assignment': { type: 'string', default: 'login' },
    pool: { type: 'string' },
    'login-allowance': { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
/**
 * Seconds of a select run's -T left to pgbench's logins before the measured
 * window (TLS + SCRAM logins run at 100-200 a second here): by default 10 s
 * plus 50 ms a client.
 */
function loginAllowance(clients: number): number {
  return args['login-allowance'] ? Number(args['login-allowance']) : 10 + Math.ceil(clients / 20);
}
const ROUNDS = Number(args.rounds);
const CLIENT_COUNTS = args.clients.split(',').map(Number);
const LOGIN_SECONDS = Number(args['login-seconds']);
const LOGIN_CLIENTS = 4;
/**
 * `session` (PgBouncer's and Postern's session pooling) or `transaction`
 * (both proxies in transaction mode, over a pool smaller than the clients).
 */
const POOL_MODE = args['pool-mode'] === 'transaction' ? 'transaction' : 'session';
/** Session mode: the gateway's sessions take their upstream connection at login or at first use. */
const UPSTREAM_ASSIGNMENT = args['upstream-assignment'] === 'first-use' ? 'first-use' : 'login';
const MAX_CLIENTS = Math.max(...CLIENT_COUNTS);
/** Both proxies' pool for the one (database, role): by default room for every client. */
const POOL_SIZE = args.pool ? Number(args.pool) : MAX_CLIENTS + 10;
/**
 * The cluster's max_connections: room for both proxies' pools and direct's clients (in
 * transaction mode direct runs only the client counts it allows).
 */
const CLUSTER_CONNECTIONS = Math.max(POOL_SIZE * 3 + 60, POOL_MODE === 'transaction' ? 300 : 0);
const ALL_MODES = ['simple', 'extended', 'prepared'] as const;
/** A quicker subset (`--paths`, `--parts`, `--modes`, `--tls`) for before/after comparisons. */
const MODES = ALL_MODES.filter((mode) => args.modes.split(',').includes(mode));
const TLS_SETTINGS = [false, true].filter((tls) =>
  args.tls.split(',').includes(tls ? 'on' : 'off'),
);
const PARTS = args.parts.split(',');
/**
 * `floor`: bench/node-relay-floor.ts, a bare Node byte pipe (plaintext selects only);
 * `baseline`: another build of the gateway (`--baseline <its dist directory>`) with its own
 * cluster, measured in the same rounds, for before/after comparisons on a busy machine.
 */
type PathName = 'direct' | 'pgbouncer' | 'postern' | 'floor' | 'baseline';
const PATH_NAMES: readonly PathName[] = ['direct', 'pgbouncer', 'postern'];
const CHOSEN_PATHS = args.paths.split(',');
const COPY_ROWS = 2_000_000;
const SERVER_MAIN_IN_DIST = path.join('apps', 'server', 'src', 'main.js');
const SERVER_MAIN = path.resolve(__dirname, '..', SERVER_MAIN_IN_DIST);

interface Endpoint {
  readonly path: PathName;
  readonly tls: boolean;
  readonly conninfo: string;
  readonly password: string;
  /** The proxy's process, whose CPU time is the gateway's cost; none for direct. */
  readonly proxyPid?: number;
  /** Its own cluster's postmaster (the baseline's), instead of the shared one. */
  readonly postmasterPid?: number;
}

function posternEnv(): Record<string, string | undefined> {
  return {
    POSTERN_LOG_LEVEL: 'error',
    // One gateway serves both: TLS when the client asks, plaintext otherwise.
    POSTERN_TLS: 'prefer',
    POSTERN_POOL_SIZE: String(POOL_SIZE),
    POSTERN_POOL_SIZE_PER_USER: String(POOL_SIZE),
    POSTERN_UPSTREAM_MAX_CONNECTIONS_PER_USER: String(POOL_SIZE * 2),
    POSTERN_MAX_CONNECTIONS: String(MAX_CLIENTS + 50),
    POSTERN_MAX_CONNECTIONS_PER_USER: String(MAX_CLIENTS + 50),
    ...(POOL_MODE === 'transaction' ? { POSTERN_POOL_TIMEOUT: '60s' } : {}),
  };
}

/**
 * Transaction mode, or session mode assigned at first use: admin/main, the
 * database every path reaches, gets the limit.
 */
async function setPoolMode(postern: PosternProcess): Promise<void> {
  if (POOL_MODE !== 'transaction' && UPSTREAM_ASSIGNMENT === 'login') return;
  const http = AdminHttp.of(postern);
  const api = await http.session();
  const answer = await http.call('PUT', '/databases/admin/main/limits', {
    token: api.token,
    body:
      POOL_MODE === 'transaction'
        ? { poolMode: 'transaction' }
        : { upstreamAssignment: 'first-use' },
  });
  if (answer.status !== 200) throw new Error(`limits: ${JSON.stringify(answer.body)}`);
}

/**
 * The gateway, restarted once with room for every path's connections at the
 * same time (PgBouncer's and Postern's pools stay open, direct adds its own).
 */
async function startPostern(profileDir?: string, main = SERVER_MAIN): Promise<PosternProcess> {
  const first = await PosternProcess.start({ env: posternEnv(), args: [main] });
  const pid = (
    await readFile(path.join(first.workDir, 'data', 'pg', 'postmaster.pid'), 'utf8')
  ).split('\n');
  const superuser = await superuserClient(path.join(first.workDir, 'data'), Number(pid[3]));
  await superuser.query(`ALTER SYSTEM SET max_connections = ${CLUSTER_CONNECTIONS}`);
  await superuser.end();
  await first.stop();
  return PosternProcess.start({
    workDir: first.workDir,
    env: posternEnv(),
    // Node refuses --cpu-prof in NODE_OPTIONS: it goes on the command line.
    args: profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, main] : [main],
  });
}

function startBouncer(work: string, upstream: Upstream, certsDir: string) {
  return startPgBouncer({
    work,
    upstream,
    certsDir,
    poolMode: POOL_MODE,
    poolSize: POOL_SIZE,
    maxClients: MAX_CLIENTS,
  });
}

interface PgbenchOutcome {
  readonly tps: number;
  readonly transactions: number;
}

async function pgbench(endpoint: Endpoint, extra: readonly string[]): Promise<PgbenchOutcome> {
  const result = await run('pgbench', ['-n', '-S', ...extra, endpoint.conninfo], {
    env: { PGPASSWORD: endpoint.password },
    timeoutMs: (Math.max(SECONDS, LOGIN_SECONDS) + 120) * 1000,
  });
  const tps = /tps = ([\d.]+)/.exec(result.stdout)?.[1];
  const transactions = /actually processed: (\d+)/.exec(result.stdout)?.[1];
  if (result.code !== 0 || !tps || !transactions) {
    throw new Error(`pgbench on ${describe(endpoint)} failed: ${result.stderr}${result.stdout}`);
  }
  return { tps: Number(tps), transactions: Number(transactions) };
}

/**
 * Select-only pgbench for SECONDS of steady state: `-P 1` prints a progress
 * line a second once every client is logged in (pgbench 15 logs all its
 * clients in before the first transaction, and counts -T from before the
 * logins: 1,000 TLS logins can take longer than a short -T). The proxy's CPU
 * is sampled at each line; the first line, whose interval may include the end
 * of the logins, is skipped; the SECONDS lines after it are the measurement.
 * TPS and CPU per transaction come from that window only, never from the
 * logins. -T leaves the logins an allowance (`--login-allowance`) and pgbench
 * ends on its own: its clients finish their transactions and log out, as
 * they do in a plain run (stopping it instead would end clients mid-pipeline).
 */
function steadyPgbench(
  endpoint: Endpoint,
  clients: number,
  mode: string,
): Promise<PgbenchOutcome & { proxyCpuMs: number; firstProgressSeconds: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(
      'pgbench',
      [
        '-n',
        '-S',
        '-M',
        mode,
        '-c',
        String(clients),
        '-j',
        '2',
        '-P',
        '1',
        '-T',
        String(SECONDS + 1 + loginAllowance(clients)),
        endpoint.conninfo,
      ],
      {
        env: { ...process.env, PGPASSWORD: endpoint.password },
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    const lines: Array<{ at: number; tps: number; cpuMs: Promise<number> }> = [];
    let stderr = '';
    let pending = '';
    let done = false;
    let firstProgressSeconds = 0;
    const timer = setTimeout(
      () => child.kill('SIGKILL'),
      (SECONDS + loginAllowance(clients) + 120) * 1000,
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      pending += chunk.toString();
      let newline: number;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        const progress = /^progress: ([\d.]+) s, ([\d.]+) tps/.exec(line);
        if (!progress || done) continue;
        if (!lines.length) firstProgressSeconds = (performance.now() - started) / 1000;
        lines.push({
          at: Number(progress[1]),
          tps: Number(progress[2]),
          cpuMs: endpoint.proxyPid ? processCpuMs(endpoint.proxyPid) : Promise.resolve(0),
        });
        if (lines.length === SECONDS + 1) done = true;
      }
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0 || !done) {
        const short =
          code === 0
            ? ` (the logins left fewer than ${SECONDS + 1} progress lines: raise --login-allowance)`
            : '';
        reject(new Error(`pgbench on ${describe(endpoint)} failed (${code})${short}: ${stderr}`));
        return;
      }
      const window = lines.slice(1);
      const transactions = window.reduce(
        (sum, line, i) => sum + line.tps * (line.at - lines[i]!.at),
        0,
      );
      const seconds = window.at(-1)!.at - lines[0]!.at;
      void Promise.all([lines[0]!.cpuMs, window.at(-1)!.cpuMs]).then(([from, to]) =>
        resolve({
          tps: transactions / seconds,
          transactions,
          proxyCpuMs: to - from,
          firstProgressSeconds,
        }),
      );
    });
  });
}

function describe(endpoint: Endpoint): string {
  return `${endpoint.path}${endpoint.tls ? ' TLS' : ''}`;
}

/** Runs `work` and measures the proxy's and the cluster's CPU over it. */
async function measured<T>(
  endpoint: Endpoint,
  upstream: Upstream,
  work: () => Promise<T>,
): Promise<{ result: T; proxyCpuMs: number; clusterCpuMs: number }> {
  const proxyBefore = endpoint.proxyPid ? await processCpuMs(endpoint.proxyPid) : 0;
  const postmasterPid = endpoint.postmasterPid ?? upstream.postmasterPid;
  const clusterBefore = await clusterCpuMs(postmasterPid);
  const result = await work();
  const proxyAfter = endpoint.proxyPid ? await processCpuMs(endpoint.proxyPid) : 0;
  const clusterAfter = await clusterCpuMs(postmasterPid);
  return {
    result,
    proxyCpuMs: proxyAfter - proxyBefore,
    clusterCpuMs: clusterAfter - clusterBefore,
  };
}

/** `items` starting at `shift`, wrapping round. */
function rotated<T>(items: readonly T[], shift: number): T[] {
  const k = shift % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

class Samples {
  private readonly values = new Map<string, number[]>();
  add(key: string, value: number): void {
    const list = this.values.get(key) ?? [];
    list.push(value);
    this.values.set(key, list);
  }
  median(key: string): number | undefined {
    const list = this.values.get(key);
    return list?.length ? median(list) : undefined;
  }
}

/** bench/node-relay-floor.ts in its own process, relaying to the cluster's Unix socket. */
async function startFloor(
  upstream: Upstream,
): Promise<{ port: number; pid: number; stop: () => void }> {
  const port = await findFreePort();
  const child = spawn(
    process.execPath,
    [
      path.join(__dirname, 'node-relay-floor.js'),
      String(port),
      path.join(upstream.socketDir, `.s.PGSQL.${upstream.port}`),
    ],
    { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] },
  );
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) => reject(new Error(`node-relay-floor exited (${code})`)));
  });
  return { port, pid: child.pid!, stop: () => child.kill() };
}

function endpointsOf(
  upstream: Upstream,
  postern: PosternProcess,
  bouncer: RunningPgBouncer,
  floor?: { port: number; pid: number },
): Endpoint[] {
  const direct = `host=${upstream.socketDir} port=${upstream.port} user=${upstream.writerRole} dbname=${upstream.physicalName} sslmode=disable`;
  const endpoints: Endpoint[] = [
    { path: 'direct', tls: false, conninfo: direct, password: upstream.writerPassword },
  ];
  if (floor) {
    endpoints.push({
      path: 'floor',
      tls: false,
      conninfo: `host=127.0.0.1 port=${floor.port} user=${upstream.writerRole} dbname=${upstream.physicalName} sslmode=disable`,
      password: upstream.writerPassword,
      proxyPid: floor.pid,
    });
  }
  for (const tls of [false, true]) {
    const ssl = tls ? 'host=localhost sslmode=require' : 'host=127.0.0.1 sslmode=disable';
    endpoints.push(
      {
        path: 'pgbouncer',
        tls,
        conninfo: `${ssl} port=${bouncer.port} user=${upstream.writerRole} dbname=${bouncer.database}`,
        password: upstream.writerPassword,
        proxyPid: bouncer.pid,
      },
      {
        path: 'postern',
        tls,
        conninfo: `${ssl} port=${postern.wirePort} user=admin dbname=admin/main`,
        password: ADMIN_PASSWORD,
        proxyPid: postern.pid,
      },
    );
  }
  return endpoints;
}

/** The baseline build's endpoints (plaintext and TLS), on its own cluster with pgbench's tables. */
async function baselineEndpoints(baseline: PosternProcess): Promise<Endpoint[]> {
  const upstream = await upstreamOf(baseline);
  await prepareSelects({
    path: 'direct',
    tls: false,
    conninfo: `host=${upstream.socketDir} port=${upstream.port} user=${upstream.writerRole} dbname=${upstream.physicalName} sslmode=disable`,
    password: upstream.writerPassword,
  });
  return [false, true].map((tls) => ({
    path: 'baseline',
    tls,
    conninfo: `${tls ? 'host=localhost sslmode=require' : 'host=127.0.0.1 sslmode=disable'} port=${baseline.wirePort} user=admin dbname=admin/main`,
    password: ADMIN_PASSWORD,
    proxyPid: baseline.pid,
    postmasterPid: upstream.postmasterPid,
  }));
}

/** This build against the baseline build: medians of the same rounds. */
function baselineTable(m: Measurements): string {
  const lines = [
    '| work | baseline | this build | this / baseline |',
    '| --- | ---: | ---: | ---: |',
  ];
  const row = (label: string, b: number | undefined, p: number | undefined, digits: number) => {
    if (b === undefined && p === undefined) return;
    lines.push(`| ${label} | ${fmt(b, digits)} | ${fmt(p, digits)} | ${ratio(p, b)} |`);
  };
  for (const clients of CLIENT_COUNTS) {
    for (const tls of TLS_SETTINGS) {
      for (const mode of MODES) {
        const k = (name: PathName) => key(name, tls, mode, clients);
        const what = `${mode}, ${clients} clients, ${tls ? 'TLS' : 'no TLS'}`;
        row(
          `gateway CPU per transaction (µs), ${what}`,
          m.cpuPerTxUs.median(k('baseline')),
          m.cpuPerTxUs.median(k('postern')),
          1,
        );
        row(`TPS, ${what}`, m.tps.median(k('baseline')), m.tps.median(k('postern')), 0);
      }
    }
  }
  row(
    'gateway CPU per TLS + SCRAM login (ms)',
    m.proxyCpuPerLoginMs.median('baseline'),
    m.proxyCpuPerLoginMs.median('postern'),
    2,
  );
  row(
    'PostgreSQL CPU per pooled login (ms)',
    m.clusterCpuPerLoginMs.median('baseline'),
    m.clusterCpuPerLoginMs.median('postern'),
    2,
  );
  row('logins/s', m.loginsPerSecond.median('baseline'), m.loginsPerSecond.median('postern'), 0);
  return lines.join('\n');
}

async function prepareSelects(direct: Endpoint): Promise<void> {
  const init = await run('pgbench', ['-i', '-s', '10', '-q', direct.conninfo], {
    env: { PGPASSWORD: direct.password },
    timeoutMs: 300_000,
  });
  if (init.code !== 0) throw new Error(init.stderr);
}

async function prepareData(direct: Endpoint): Promise<void> {
  await prepareSelects(direct);
  const table = await run(
    'psql',
    [
      '-X',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      `CREATE TABLE bench_copy AS SELECT g AS id, md5(g::text) AS label, now() AS at
         FROM generate_series(1, ${COPY_ROWS}) g`,
      direct.conninfo,
    ],
    { env: { PGPASSWORD: direct.password }, timeoutMs: 300_000 },
  );
  if (table.code !== 0) throw new Error(table.stderr);
}

interface Measurements {
  readonly tps: Samples;
  /** Cells whose pgbench failed (PgBouncer 1.18 with prepared statements in transaction mode). */
  readonly failed: Set<string>;
  readonly cpuPerTxUs: Samples;
  readonly loginsPerSecond: Samples;
  readonly proxyCpuPerLoginMs: Samples;
  readonly clusterCpuPerLoginMs: Samples;
  readonly copyMs: Samples;
  readonly resultMs: Samples;
}

function key(...parts: Array<string | number | boolean>): string {
  return parts.join('|');
}

async function measureSelects(
  endpoints: readonly Endpoint[],
  m: Measurements,
  round: number,
): Promise<void> {
  let cell = 0;
  for (const clients of CLIENT_COUNTS) {
    for (const tls of TLS_SETTINGS) {
      for (const mode of MODES) {
        // Direct PostgreSQL and the floor have no TLS and a backend per client: they run in
        // the plaintext cells only, and only for as many clients as the cluster takes.
        const fits = POOL_MODE === 'session' || clients < CLUSTER_CONNECTIONS - 50;
        const here = endpoints.filter((e) => {
          const backendPerClient = e.path === 'direct' || e.path === 'floor';
          return e.tls === tls && (!backendPerClient || (!tls && fits));
        });
        for (const endpoint of rotated(here, round + cell++)) {
          const k = key(endpoint.path, tls, mode, clients);
          let result: Awaited<ReturnType<typeof steadyPgbench>>;
          try {
            result = await steadyPgbench(endpoint, clients, mode);
          } catch (err) {
            // PgBouncer 1.18 in transaction mode cannot run protocol-level prepared statements.
            if (
              POOL_MODE !== 'transaction' ||
              endpoint.path !== 'pgbouncer' ||
              mode !== 'prepared'
            ) {
              throw err;
            }
            m.failed.add(k);
            console.log(
              `round ${round + 1}: ${clients} clients ${mode} ${describe(endpoint)}: fails`,
            );
            continue;
          }
          const { proxyCpuMs } = result;
          m.tps.add(k, result.tps);
          if (endpoint.proxyPid) m.cpuPerTxUs.add(k, (proxyCpuMs * 1000) / result.transactions);
          console.log(
            `round ${round + 1}: ${clients} clients ${mode} ${describe(endpoint)}: ${result.tps.toFixed(0)} tps (first progress after ${result.firstProgressSeconds.toFixed(1)} s)` +
              (endpoint.proxyPid
                ? `, ${((proxyCpuMs * 1000) / result.transactions).toFixed(1)} µs CPU/tx`
                : ''),
          );
        }
      }
    }
  }
}

/**
 * A short unmeasured run through every proxy first: the first cell of a
 * freshly started gateway otherwise pays for its pool's connections and for
 * the JIT compiling its relay.
 */
async function warmUp(endpoints: readonly Endpoint[]): Promise<void> {
  for (const endpoint of endpoints.filter((e) => e.proxyPid)) {
    for (const mode of MODES) {
      await pgbench(endpoint, ['-M', mode, '-c', '20', '-j', '2', '-T', '2']).catch(
        () => undefined, // PgBouncer's prepared statements in transaction mode
      );
    }
  }
}

async function measureLogins(
  endpoints: readonly Endpoint[],
  upstream: Upstream,
  m: Measurements,
  round: number,
): Promise<void> {
  // Proxies over TLS (the login the issue is about); direct is a new backend per login.
  const here = endpoints.filter((e) => e.path !== 'floor' && (e.path === 'direct' || e.tls));
  for (const endpoint of rotated(here, round)) {
    const { result, proxyCpuMs, clusterCpuMs } = await measured(endpoint, upstream, () =>
      pgbench(endpoint, [
        '-C',
        '-c',
        String(LOGIN_CLIENTS),
        '-j',
        '2',
        '-T',
        String(LOGIN_SECONDS),
      ]),
    );
    const k = endpoint.path;
    m.loginsPerSecond.add(k, result.tps);
    m.clusterCpuPerLoginMs.add(k, clusterCpuMs / result.transactions);
    if (endpoint.proxyPid) m.proxyCpuPerLoginMs.add(k, proxyCpuMs / result.transactions);
    console.log(
      `round ${round + 1}: logins ${describe(endpoint)}: ${result.tps.toFixed(0)}/s, PostgreSQL ${(clusterCpuMs / result.transactions).toFixed(2)} ms/login` +
        (endpoint.proxyPid
          ? `, gateway ${(proxyCpuMs / result.transactions).toFixed(2)} ms/login`
          : ''),
    );
  }
}

async function measureBulk(
  endpoints: readonly Endpoint[],
  m: Measurements,
  round: number,
): Promise<void> {
  for (const endpoint of rotated(
    endpoints.filter((e) => e.path !== 'floor'),
    round,
  )) {
    const psqlArgs = ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', endpoint.conninfo];
    const env = { PGPASSWORD: endpoint.password };
    const copy = await timeToDevNull('psql', [...psqlArgs, '-c', 'COPY bench_copy TO STDOUT'], env);
    const result = await timeToDevNull(
      'psql',
      [...psqlArgs, '-c', 'SELECT * FROM bench_copy'],
      env,
    );
    m.copyMs.add(key(endpoint.path, endpoint.tls), copy);
    m.resultMs.add(key(endpoint.path, endpoint.tls), result);
    console.log(
      `round ${round + 1}: bulk ${describe(endpoint)}: COPY ${copy.toFixed(0)} ms, result ${result.toFixed(0)} ms`,
    );
  }
}

function fmt(value: number | undefined, digits = 0): string {
  return value === undefined
    ? '-'
    : value.toLocaleString('en-US', {
        maximumFractionDigits: digits,
        minimumFractionDigits: digits,
      });
}

function ratio(postern: number | undefined, bouncer: number | undefined): string {
  return postern === undefined || !bouncer ? '-' : (postern / bouncer).toFixed(2);
}

function table(m: Measurements): string {
  const lines = [
    `| work | direct | PgBouncer ${POOL_MODE} | Postern | Postern / PgBouncer |`,
    '| --- | ---: | ---: | ---: | ---: |',
  ];
  for (const clients of CLIENT_COUNTS) {
    for (const tls of TLS_SETTINGS) {
      for (const mode of MODES) {
        const d = m.tps.median(key('direct', false, mode, clients));
        const b = m.tps.median(key('pgbouncer', tls, mode, clients));
        const p = m.tps.median(key('postern', tls, mode, clients));
        const bouncer = m.failed.has(key('pgbouncer', tls, mode, clients)) ? 'fails' : fmt(b);
        lines.push(
          `| ${mode}, TPS, ${clients} clients, ${tls ? 'TLS' : 'no TLS'} | ${fmt(d)} | ${bouncer} | ${fmt(p)} | ${ratio(p, b)} |`,
        );
      }
    }
  }
  for (const clients of CLIENT_COUNTS) {
    for (const tls of TLS_SETTINGS) {
      const cpu = (path: PathName) =>
        MODES.map((mode) => m.cpuPerTxUs.median(key(path, tls, mode, clients)));
      const b = cpu('pgbouncer');
      const p = cpu('postern');
      lines.push(
        `| gateway CPU per transaction, simple / extended / prepared (µs), ${clients} clients, ${tls ? 'TLS' : 'no TLS'} | - | ${b.map((v) => fmt(v, 1)).join(' / ')} | ${p.map((v) => fmt(v, 1)).join(' / ')} | ${p.map((v, i) => ratio(v, b[i])).join(' / ')} |`,
      );
    }
  }
  for (const clients of CLIENT_COUNTS) {
    const floor = MODES.map((mode) => m.cpuPerTxUs.median(key('floor', false, mode, clients)));
    if (floor.every((v) => v === undefined)) continue;
    const b = MODES.map((mode) => m.cpuPerTxUs.median(key('pgbouncer', false, mode, clients)));
    lines.push(
      `| bare Node relay (bench/node-relay-floor.ts) CPU per transaction, simple / extended / prepared (µs), ${clients} clients, no TLS | - | ${b.map((v) => fmt(v, 1)).join(' / ')} | ${floor.map((v) => fmt(v, 1)).join(' / ')} | ${floor.map((v, i) => ratio(v, b[i])).join(' / ')} |`,
    );
  }
  const row = (label: string, samples: Samples, digits: number, directNote = '') => {
    const [d, b, p] = PATH_NAMES.map((name) => samples.median(name));
    lines.push(
      `| ${label} | ${fmt(d, digits)}${d !== undefined ? directNote : ''} | ${fmt(b, digits)} | ${fmt(p, digits)} | ${ratio(p, b)} |`,
    );
  };
  if (PARTS.includes('logins')) {
    row(
      `new connections/s, TLS + SCRAM (pgbench -C, ${LOGIN_CLIENTS} clients)`,
      m.loginsPerSecond,
      0,
    );
    row('gateway CPU per TLS + SCRAM login (ms)', m.proxyCpuPerLoginMs, 2);
    row('PostgreSQL CPU per pooled login (ms)', m.clusterCpuPerLoginMs, 2, ' (a new backend)');
  }
  for (const tls of PARTS.includes('bulk') ? [false, true] : []) {
    const bulk = (label: string, samples: Samples) => {
      const d = samples.median(key('direct', false));
      const b = samples.median(key('pgbouncer', tls));
      const p = samples.median(key('postern', tls));
      const s = (v: number | undefined) => (v === undefined ? undefined : v / 1000);
      lines.push(
        `| ${label}, ${tls ? 'TLS' : 'no TLS'}, wall (s) | ${fmt(s(d), 3)} | ${fmt(s(b), 3)} | ${fmt(s(p), 3)} | ${ratio(p, b)} (Postern / direct ${ratio(p, d)}) |`,
      );
    };
    bulk(`COPY of a ${COPY_ROWS / 1e6}M-row table out`, m.copyMs);
    bulk(`SELECT of the same ${COPY_ROWS / 1e6}M rows`, m.resultMs);
  }
  return lines.join('\n');
}

async function profileOnly(kind: string): Promise<void> {
  const profileDir = await mkdtemp(path.join(tmpdir(), 'postern-prof-'));
  const postern = await startPostern(profileDir);
  const work = await mkdtemp(path.join(tmpdir(), 'postern-bench-'));
  await run('chmod', ['755', work]);
  let bouncer: RunningPgBouncer | undefined;
  try {
    const upstream = await upstreamOf(postern);
    await setPoolMode(postern);
    bouncer = await startBouncer(work, upstream, path.join(postern.workDir, 'certs'));
    const endpoints = endpointsOf(upstream, postern, bouncer);
    await prepareData(endpoints[0]!);
    const target = endpoints.find((e) => e.path === 'postern' && e.tls === TLS_SETTINGS.at(-1))!;
    const m = emptyMeasurements();
    if (kind === 'login') await measureLogins([target], upstream, m, 0);
    else await measureSelects([target], m, 0);
  } finally {
    await bouncer?.stop();
    await postern.stop();
  }
  const files = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile'));
  for (const file of files) await printTopSelfTime(path.join(profileDir, file), 30);
  console.log(`profiles in ${profileDir}`);
  await postern.dispose();
  await rm(work, { recursive: true, force: true });
}

function emptyMeasurements(): Measurements {
  return {
    tps: new Samples(),
    failed: new Set(),
    cpuPerTxUs: new Samples(),
    loginsPerSecond: new Samples(),
    proxyCpuPerLoginMs: new Samples(),
    clusterCpuPerLoginMs: new Samples(),
    copyMs: new Samples(),
    resultMs: new Samples(),
  };
}

async function main(): Promise<void> {
  if (args.profile) return profileOnly(args.profile);
  const postern = await startPostern();
  const work = await mkdtemp(path.join(tmpdir(), 'postern-bench-'));
  await run('chmod', ['755', work]);
  let bouncer: RunningPgBouncer | undefined;
  let floor: { port: number; pid: number; stop: () => void } | undefined;
  let baseline: PosternProcess | undefined;
  try {
    const upstream = await upstreamOf(postern);
    await setPoolMode(postern);
    bouncer = await startBouncer(work, upstream, path.join(postern.workDir, 'certs'));
    if (CHOSEN_PATHS.includes('floor')) floor = await startFloor(upstream);
    const all = endpointsOf(upstream, postern, bouncer, floor);
    if (PARTS.includes('bulk')) await prepareData(all[0]!);
    else await prepareSelects(all[0]!);
    if (args.baseline) {
      baseline = await startPostern(undefined, path.resolve(args.baseline, SERVER_MAIN_IN_DIST));
      all.push(...(await baselineEndpoints(baseline)));
    }
    const endpoints = all.filter((e) => CHOSEN_PATHS.includes(e.path) || e.path === 'baseline');
    const m = emptyMeasurements();
    if (PARTS.includes('selects')) await warmUp(endpoints);
    for (let round = 0; round < ROUNDS; round++) {
      if (PARTS.includes('selects')) await measureSelects(endpoints, m, round);
      if (PARTS.includes('logins')) await measureLogins(endpoints, upstream, m, round);
      if (PARTS.includes('bulk')) await measureBulk(endpoints, m, round);
    }
    const section = table(m);
    console.log(section);
    if (baseline) console.log(baselineTable(m));
    if (args['no-results']) return;
    const serverKey = createPrivateKey(
      await readFile(path.join(postern.workDir, 'certs', 'server.key'), 'utf8'),
    );
    const details = serverKey.asymmetricKeyDetails;
    const keyType = `${serverKey.asymmetricKeyType} ${details?.modulusLength ?? details?.namedCurve ?? ''}`;
    if (POOL_MODE === 'transaction') {
      await writeResults(
        'Transaction pooling: Postern vs PgBouncer vs direct PostgreSQL',
        section,
        [
          `Command: \`npm run build && node dist/bench/pgbench-compare.js --pool-mode transaction --pool ${POOL_SIZE} --parts selects --clients ${CLIENT_COUNTS.join(',')} --seconds ${SECONDS} --rounds ${ROUNDS}\`; medians over ${ROUNDS} interleaved rounds, the order of the paths rotated per round and cell.`,
          `pgbench 15 -n -S (scale 10), -M simple / extended / prepared, -c clients -j 2 -P 1, TLS (sslmode=require, SCRAM) or not, to admin/main as its writer role. PgBouncer 1.18 with pool_mode=transaction and default_pool_size=${POOL_SIZE}; Postern with admin/main in transaction mode and POSTERN_POOL_SIZE=${POOL_SIZE}; both with the gateway's dev certificate (key: ${keyType}). PgBouncer 1.18 cannot run protocol-level prepared statements in transaction mode ("fails": pgbench -M prepared errors out); Postern keeps them per client.`,
          `Steady state only: pgbench logs all its clients in before the first transaction (1,000 TLS + SCRAM logins take several seconds), and its -T counts from before the logins. So each cell runs pgbench with -P 1 and a long -T, skips the first progress interval (it may include the end of the logins), takes the next ${SECONDS} one-second intervals as the measurement; -T is those seconds plus an allowance for the logins (${args['login-allowance'] ? `${args['login-allowance']} s` : '10 s + 50 ms a client'}), and pgbench ends on its own. TPS is the transactions of those intervals (from the progress lines) over their time; the proxy's CPU is read at the first and last line of the window. No cell pays for logins (-C is not used; logins are measured in the session comparison).`,
          `Direct PostgreSQL (max_connections=${CLUSTER_CONNECTIONS} here) needs a backend per client: it runs only the client counts below ${CLUSTER_CONNECTIONS - 50}, without TLS ("-" at 1,000 clients: the cluster is not set up for 1,000 backends, which is what the poolers are for).`,
          'Gateway CPU: utime + stime of the proxy process over the window divided by the transactions in it.',
          'Before the first round every proxy gets an unmeasured 2 s run per mode and TLS setting (20 clients): its pool filled, its code compiled.',
          'All on one 2-core machine: pgbench, the proxy and PostgreSQL compete for the cores; compare ratios within a run.',
        ],
      );
      return;
    }
    await writeResults('Postern vs PgBouncer vs direct PostgreSQL', section, [
      `Command: \`npm run build && node dist/bench/pgbench-compare.js --seconds ${SECONDS} --rounds ${ROUNDS} --clients ${CLIENT_COUNTS.join(',')} --login-seconds ${LOGIN_SECONDS}\`; medians over ${ROUNDS} interleaved rounds, the order of the paths rotated per round and cell.`,
      `pgbench 15 -n -S (scale 10), -M simple / extended / prepared, -j 2, ${SECONDS} s of steady state after the logins (-P 1 progress lines; the first interval skipped); logins: pgbench -n -S -C -c ${LOGIN_CLIENTS} -j 2 -T ${LOGIN_SECONDS}, TLS (sslmode=require) + SCRAM for both proxies (libpq picks SCRAM-SHA-256-PLUS with Postern, which offers channel binding; PgBouncer 1.18 offers SCRAM-SHA-256 only); direct logins are SCRAM over the Unix socket, a new backend each.`,
      `Every path reaches admin/main as its writer role over the cluster's Unix socket. PgBouncer 1.18 in session mode with default_pool_size=${POOL_SIZE}, Postern with POSTERN_POOL_SIZE=${POOL_SIZE}; both use the gateway's dev certificate (key: ${keyType}). Direct PostgreSQL has no TLS, so its number is repeated in the TLS rows.`,
      'Gateway CPU: utime + stime of the proxy process (/proc/<pid>/stat) over the measured window divided by its transactions (over the run divided by the logins, for logins). PostgreSQL CPU: the postmaster, what it reaped from exited backends (cutime + cstime) and every live child, over the run, divided by the logins; it includes the control-plane queries a Postern login makes and the one SELECT per pgbench transaction.',
      `Bulk: psql -X -A -t to /dev/null, login included; COPY bench_copy TO STDOUT and SELECT * of the same table (${COPY_ROWS.toLocaleString('en-US')} rows of int, md5 text, timestamptz).`,
      'All on one 2-core machine shared with other work: pgbench, the proxy and PostgreSQL compete for the cores, so absolute numbers move between runs; compare ratios within a run.',
    ]);
  } finally {
    await bouncer?.stop();
    floor?.stop();
    await baseline?.dispose();
    await postern.dispose();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
