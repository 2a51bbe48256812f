import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { ControlPlane } from '#control';
import {
  CONTROL_DATABASE,
  externalCluster,
  startEmbeddedCluster,
  superuserUrl,
  type Cluster,
  type LogSink,
} from '#engine';
import { ADMIN_SLUG } from '../../server/src/bootstrap/bootstrap.service';
import { forgetInitialAdminPassword } from '../../server/src/bootstrap/initial-admin-password';
import { loadRolePasswords } from '../../server/src/engine/role-passwords';
import { setUserPassword } from '../../server/src/identity/users.service';

export interface ResetRequest {
  readonly dataDir: string;
  /** An external PostgreSQL (POSTERN_UPSTREAM_URL) holds the control plane instead of the data dir. */
  readonly upstreamUrl: string | undefined;
  readonly user: string;
  /** The new password; null: generate one. */
  readonly password: string | null;
}

/** Something that stops the reset before anything changed. */
export class ResetRefused extends Error {}

/**
 * Sets a user's password with the gateway stopped: starts the embedded
 * PostgreSQL of the data directory on its own, changes the password through
 * the same function the API uses (SCRAM verifier and bcrypt hash under the
 * user's salt), ends the user's console sessions, records `password.reset`,
 * and stops PostgreSQL again. Answers the password that is now valid.
 */
export async function resetPassword(request: ResetRequest, log: LogSink): Promise<string> {
  if (!request.upstreamUrl) assertOfflineDataDir(request.dataDir);
  const password = request.password ?? randomBytes(18).toString('base64url');
  const cluster: Cluster = request.upstreamUrl
    ? externalCluster(request.upstreamUrl)
    : await startEmbeddedCluster(request.dataDir, log);
  try {
    const control = ControlPlane.connect(
      superuserUrl(cluster.endpoint, CONTROL_DATABASE),
      await loadRolePasswords(request.dataDir),
    );
    try {
      const user = await control.entities.findBySlug(request.user);
      if (!user || user.kind !== 'user') throw new ResetRefused(`"${request.user}" is not a user`);
      await setUserPassword(control, user.slug, password);
      // Whoever knew the old password loses the console sessions it opened.
      await control.httpSessions.removeForEntity(user.id);
      await control.audit.record({
        kind: 'password.reset',
        outcome: 'success',
        method: 'offline',
        source: `local:${userInfo().username}`,
        detail: { entity: user.slug, via: 'postern admin reset-password' },
      });
      if (user.slug === ADMIN_SLUG) await forgetInitialAdminPassword(request.dataDir);
    } finally {
      await control.close();
    }
  } finally {
    await cluster.stop();
  }
  return password;
}

/**
 * The data directory must hold an embedded cluster that nobody runs: a
 * gateway on it owns its PostgreSQL (postmaster.pid names a live process),
 * and a second server on the same files is exactly what must not happen.
 */
function assertOfflineDataDir(dataDir: string): void {
  const pgDir = path.join(dataDir, 'pg');
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) {
    throw new ResetRefused(`${dataDir} is not a Postern data directory (no ${pgDir})`);
  }
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) {
    throw new ResetRefused(
      `a gateway is running on ${dataDir} (its PostgreSQL has pid ${pid}); stop it first, ` +
        'or change the password through the API: postern users set-password',
    );
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
