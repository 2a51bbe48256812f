import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * Reads a generated secret, creating it (mode 0600, never widened) on first
 * use. Secrets live in files so that a restart keeps them and no log or
 * environment ever needs to carry them.
 */
export async function readOrCreateSecret(
  file: string,
  create: () => string = () => randomBytes(32).toString('base64url'),
): Promise<{ value: string; created: boolean }> {
  try {
    return { value: (await readFile(file, 'utf8')).trim(), created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const value = create();
  // 'wx' fails if another process created it meanwhile rather than overwriting.
  await writeFile(file, `${value}\n`, { mode: 0o600, flag: 'wx' });
  return { value, created: true };
}
