import bcrypt from 'bcrypt';
import { createHash } from 'node:crypto';

/** bcrypt cost for passwords and API tokens (about 80 ms per check on this class of machine). */
export const BCRYPT_COST = 10;

let dummyHash: Promise<string> | undefined;

export function hashSecret(secret: string): Promise<string> {
  return bcrypt.hash(secret, BCRYPT_COST);
}

/**
 * Compares with `hash`, or with a throwaway hash of the same cost when there
 * is none (unknown user), so that a miss costs as long as a wrong password
 * and the answer time reveals nothing. (Unknown API token ids need no such
 * cover: ids are not secret, see ApiTokenVerifier.)
 */
export async function compareSecret(secret: string, hash: string | null): Promise<boolean> {
  dummyHash ??= bcrypt.hash('postern: nothing to compare with', BCRYPT_COST);
  const matches = await bcrypt.compare(secret, hash ?? (await dummyHash));
  return hash !== null && matches;
}

/**
 * For high-entropy random secrets (session tokens, verified API tokens): a
 * plain SHA-256 suffices to store and compare them; bcrypt is for secrets
 * people choose or that must resist offline guessing.
 */
export function sha256(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}
