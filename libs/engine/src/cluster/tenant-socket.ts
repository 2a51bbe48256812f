import { chmod, chown, lstat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Room for a socket path in `sockaddr_un.sun_path` (108 bytes on Linux,
 * NUL included); PostgreSQL refuses to start with a longer one.
 */
const MAX_SOCKET_PATH = 107;
const LONGEST_SOCKET_NAME = '.s.PGSQL.65535';

/** The socket directory of the embedded cluster, and whether it is a temporary one to remove at stop. */
export interface SocketDirectory {
  readonly path: string;
  readonly temporary: boolean;
}

/**
 * `<dataDir>/run`, or a fresh directory under the system's temporary one
 * when that path would be too long for a Unix-domain socket. Mode 0700; as
 * root the caller hands it to PostgreSQL's OS user: only that user and root,
 * which runs the gateway, can connect to the socket inside.
 */
export async function prepareSocketDirectory(dataDir: string): Promise<SocketDirectory> {
  const inDataDir = path.join(path.resolve(dataDir), 'run');
  let dir: SocketDirectory;
  if (Buffer.byteLength(path.join(inDataDir, LONGEST_SOCKET_NAME)) <= MAX_SOCKET_PATH) {
    await mkdir(inDataDir, { recursive: true, mode: 0o700 });
    const stats = await lstat(inDataDir);
    if (!stats.isDirectory()) throw new Error(`${inDataDir} is not a directory`);
    dir = { path: inDataDir, temporary: false };
  } else {
    dir = { path: await mkdtemp(path.join(tmpdir(), 'postern-pg-')), temporary: true };
  }
  await chmod(dir.path, 0o700);
  return dir;
}

export async function removeSocketDirectory(dir: SocketDirectory): Promise<void> {
  if (dir.temporary) await rm(dir.path, { recursive: true, force: true });
}

/** `unix_socket_directories` takes a list: the path as one double-quoted element. */
export function socketDirectorySetting(dir: string): string {
  return `"${dir.replace(/"/g, '""')}"`;
}

/**
 * The embedded cluster's pg_hba.conf, rewritten at every start: over the
 * private socket every role logs in with SCRAM; over TCP only the superuser,
 * so a tenant role that learnt the port (`inet_server_port()`) and set its
 * own password (`ALTER ROLE CURRENT_USER PASSWORD`) is still refused.
 * PostgreSQL 15 matches lines in order and has no role patterns: the
 * superuser's line by name first, then a reject for everyone else. No line
 * admits replication connections.
 */
export function hbaConfiguration(superuser: string): string {
  return [
    '# Written by Postern at every start; changes here are overwritten.',
    '# Tenant roles reach PostgreSQL only through the gateway, over the Unix-domain',
    '# socket in a directory no other OS user can enter; over TCP only the superuser.',
    'local  all  all                                scram-sha-256',
    `host   all  "${superuser.replace(/"/g, '""')}"  127.0.0.1/32  scram-sha-256`,
    'host   all  all  all                           reject',
    '',
  ].join('\n');
}

export async function writeHbaConfiguration(
  pgDir: string,
  superuser: string,
  owner: { uid: number; gid: number } | null,
): Promise<void> {
  const file = path.join(pgDir, 'pg_hba.conf');
  await writeFile(file, hbaConfiguration(superuser), { mode: 0o600 });
  await chmod(file, 0o600);
  if (owner) await chown(file, owner.uid, owner.gid);
}
