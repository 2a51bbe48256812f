import path from 'node:path';
import { RolePasswords } from '#control';
import { readOrCreateSecret } from '#engine';

/**
 * Upstream passwords of tenant roles come from this key (0600, next to the
 * other secrets), not from the control plane, which stores none (HARD-05).
 * The server and the offline CLI commands read the same key.
 */
export async function loadRolePasswords(dataDir: string): Promise<RolePasswords> {
  const file = path.join(dataDir, 'secrets', 'role-password-key');
  return new RolePasswords(Buffer.from((await readOrCreateSecret(file)).value, 'base64url'));
}
