import { rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { readOrCreateSecret } from '#engine';

/**
 * The generated password of the bootstrap admin lives in a file (0600)
 * written *before* the admin is created: a first start that fails after
 * creating the admin, or output nobody saw, can no longer lose it. The file
 * goes once the admin's password is changed (API or `postern admin
 * reset-password`).
 */
export function initialAdminPasswordFile(dataDir: string): string {
  return path.join(dataDir, 'secrets', 'initial-admin-password');
}

/** The generated password: the one an earlier, failed start wrote, or a new one. */
export async function initialAdminPassword(dataDir: string): Promise<string> {
  const { value } = await readOrCreateSecret(initialAdminPasswordFile(dataDir), () =>
    randomBytes(18).toString('base64url'),
  );
  return value;
}

/** The admin chose a password of its own: the generated one is no longer worth keeping. */
export async function forgetInitialAdminPassword(dataDir: string): Promise<void> {
  await rm(initialAdminPasswordFile(dataDir), { force: true });
}
