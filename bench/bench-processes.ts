import { spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client } from 'pg';
import { RolePasswords } from '#control';
import { findFreePort } from '#engine';
import { run } from '../test/support/clients';
import type { PosternProcess } from '../test/support/postern-process';

/** USER_HZ: /proc reports CPU time in clock ticks of 1/100 s on Linux. */
const TICK_MS = 10;

function statFields(stat: string): string[] {
  // The command name (field 2) may contain spaces; everything after ") " is fixed.
  return stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
}

/** CPU time (user + system) of one process so far, in milliseconds. */
export async function processCpuMs(pid: number): Promise<number> {
  const fields = statFields(await readFile(`/proc/${pid}/stat`, 'utf8'));
  return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
}

/** Resident memory of one process now, in bytes. */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

/**
 * CPU time of a whole PostgreSQL cluster so far, in milliseconds: the
 * postmaster, what it collected from children that exited (cutime + cstime:
 * the postmaster reaps its backends, so a backend that ended still counts),
 * and every live child.
 */
export async function clusterCpuMs(postmasterPid: number): Promise<number> {
  const own = statFields(await readFile(`/proc/${postmasterPid}/stat`, 'utf8'));
  let ticks = Number(own[11]) + Number(own[12]) + Number(own[13]) + Number(own[14]);
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => null);
    if (!stat) continue;
    const fields = statFields(stat);
    if (Number(fields[1]) === postmasterPid) ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * TICK_MS;
}

/**
 * Runs a command with its standard output thrown away (so a COPY or a large
 * result is not collected by this process) and returns the wall time.
 */
export function timeToDevNull(
  command: string,
  args: readonly string[],
  env: Record<string, string>,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const devNull = openSync('/dev/null', 'w');
    const t0 = performance.now();
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', devNull, 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      closeSync(devNull);
      if (code === 0) resolve(performance.now() - t0);
      else reject(new Error(`${command} failed (${code}): ${stderr}`));
    });
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * The gateway's embedded cluster as a third party sees it: where it listens,
 * and admin/main's physical database with its writer role, whose password and
 * SCRAM secret let PgBouncer and direct clients in the same way Postern goes.
 */
export interface Upstream {
  readonly port: number;
  readonly socketDir: string;
  readonly postmasterPid: number;
  readonly physicalName: string;
  readonly writerRole: string;
  readonly writerPassword: string;
  readonly scramSecret: string;
}

export async function superuserClient(dataDir: string, port: number): Promise<Client> {
  const password = (
    await readFile(path.join(dataDir, 'secrets', 'superuser-password'), 'utf8')
  ).trim();
  const client = new Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password,
    database: 'postern_control',
  });
  await client.connect();
  return client;
}

export async function upstreamOf(postern: PosternProcess): Promise<Upstream> {
  const dataDir = path.join(postern.workDir, 'data');
  // postmaster.pid: line 1 the pid, line 4 the port, line 5 the Unix-domain socket
  // directory, the only place tenant roles may log in (this runs as the same OS user).
  const pid = (await readFile(path.join(dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n');
  const port = Number(pid[3]);
  const rolePasswords = new RolePasswords(
    Buffer.from(
      (await readFile(path.join(dataDir, 'secrets', 'role-password-key'), 'utf8')).trim(),
      'base64url',
    ),
  );
  const control = await superuserClient(dataDir, port);
  try {
    const { rows } = await control.query<{ physical_name: string; writer_role: string }>(
      `SELECT d.physical_name, d.writer_role FROM database d JOIN entity e ON e.id = d.owner_id
        WHERE e.slug = 'admin' AND d.name = 'main'`,
    );
    const secret = await control.query<{ rolpassword: string }>(
      'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
      [rows[0]!.writer_role],
    );
    return {
      port,
      socketDir: pid[4]!,
      postmasterPid: Number(pid[0]),
      physicalName: rows[0]!.physical_name,
      writerRole: rows[0]!.writer_role,
      writerPassword: rolePasswords.of(rows[0]!.writer_role),
      scramSecret: secret.rows[0]!.rolpassword,
    };
  } finally {
    await control.end();
  }
}

export interface PgBouncerOptions {
  /** A directory of its own for its files (the postgres OS user must be able to enter it). */
  readonly work: string;
  readonly upstream: Upstream;
  /** The gateway's certificate directory (server.crt, server.key): both proxies present the same. */
  readonly certsDir: string;
  readonly poolMode: 'session' | 'transaction';
  readonly poolSize: number;
  readonly maxClients: number;
  /** client_tls_protocols; PgBouncer 1.18's default is TLS 1.2 and 1.3. */
  readonly tlsProtocols?: string;
}

export interface RunningPgBouncer {
  readonly port: number;
  readonly pid: number;
  /** The database name clients ask for (admin/main's physical database behind it). */
  readonly database: string;
  /** Immediate shutdown; resolves once the process is gone. */
  stop(): Promise<void>;
}

/**
 * PgBouncer 1.18 in front of admin/main, as its writer role over the cluster's
 * Unix socket (the way Postern goes in), TLS offered with the gateway's own
 * certificate, SCRAM against the role's own secret.
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<RunningPgBouncer> {
  const { work, upstream } = options;
  const port = await findFreePort();
  // PgBouncer runs as the postgres OS user when we are root: it gets its own copy of the key.
  await copyFile(path.join(options.certsDir, 'server.crt'), path.join(work, 'server.crt'));
  await copyFile(path.join(options.certsDir, 'server.key'), path.join(work, 'server.key'));
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await run('chown', ['-R', 'postgres', work]);
  await writeFile(
    path.join(work, 'userlist.txt'),
    `"${upstream.writerRole}" "${upstream.scramSecret}"\n`,
  );
  const pidFile = path.join(work, 'pgbouncer.pid');
  const logFile = path.join(work, 'pgbouncer.log');
  await writeFile(
    path.join(work, 'pgbouncer.ini'),
    [
      '[databases]',
      // The same way in as Postern's: the cluster's private Unix socket.
      `bench = host=${upstream.socketDir} port=${upstream.port} dbname=${upstream.physicalName}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${path.join(work, 'userlist.txt')}`,
      `pool_mode = ${options.poolMode}`,
      `max_client_conn = ${Math.max(500, options.maxClients + 50)}`,
      `default_pool_size = ${options.poolSize}`,
      'client_tls_sslmode = prefer',
      `client_tls_cert_file = ${path.join(work, 'server.crt')}`,
      `client_tls_key_file = ${path.join(work, 'server.key')}`,
      ...(options.tlsProtocols ? [`client_tls_protocols = ${options.tlsProtocols}`] : []),
      `logfile = ${logFile}`,
      `pidfile = ${pidFile}`,
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
  );
  const ini = path.join(work, 'pgbouncer.ini');
  // PgBouncer refuses to run as root; run it as the postgres OS user. runuser applies that
  // user's soft limit of 1,024 open files, too few for 1,000 clients: PgBouncer gets the
  // hard limit first.
  const child = asRoot
    ? spawn(
        'runuser',
        [
          '-u',
          'postgres',
          '--',
          'sh',
          '-c',
          'ulimit -n "$(ulimit -Hn)" && exec pgbouncer "$0"',
          ini,
        ],
        { stdio: 'ignore' },
      )
    : spawn('pgbouncer', [ini], { stdio: 'ignore' });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
  if (child.exitCode !== null || !pid) {
    throw new Error(`pgbouncer did not start: ${await readFile(logFile, 'utf8').catch(() => '')}`);
  }
  return {
    port,
    pid,
    database: 'bench',
    // To PgBouncer itself: runuser does not pass signals on, and would keep this process alive.
    stop: async () => {
      process.kill(pid, 'SIGTERM');
      child.kill('SIGTERM');
      while (
        await readFile(`/proc/${pid}/stat`).then(
          () => true,
          () => false,
        )
      ) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
  };
}
