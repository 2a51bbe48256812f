import { safeEqual } from './constant-time';
import { clientAndServerKeys, saltedPassword, sha256 } from './scram-keys';
import type { ScramCandidate } from './scram-server';

/**
 * Checks a cleartext password (the optional PasswordMessage login) against
 * the same verifiers SCRAM uses. All of a user's secrets share one salt, so
 * one PBKDF2 derivation serves every candidate; each is compared in
 * constant time and all are compared, whichever matches.
 */
export function matchCleartextPassword(
  password: string,
  salt: Buffer,
  iterations: number,
  candidates: ReadonlyArray<ScramCandidate>,
): string | null {
  const storedKey = sha256(
    clientAndServerKeys(saltedPassword(password, salt, iterations)).clientKey,
  );
  let matched: string | null = null;
  for (const candidate of candidates) {
    if (safeEqual(storedKey, candidate.verifier.storedKey) && matched === null) {
      matched = candidate.id;
    }
  }
  return matched;
}
