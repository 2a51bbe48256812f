import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { decodeBase64 } from './scram-syntax';
import { saslprepBytes } from './saslprep';

/**
 * What the server keeps for one secret (RFC 5802 §3): enough to check a proof and to sign
 * the answer, not enough to log in. The password and every API token of a user get one
 * under the user's single salt and iteration count.
 */
export interface ScramVerifier {
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** PostgreSQL's SCRAM_SHA_256_DEFAULT_ITERATIONS. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
/** PostgreSQL's SCRAM_DEFAULT_SALT_LEN. */
export const SCRAM_SALT_LENGTH = 16;
/** SHA-256 output: the length of every SCRAM key, proof and signature. */
export const SCRAM_KEY_LENGTH = 32;
/** rolpassword stores the count as a C int. */
const MAX_STORED_ITERATIONS = 2 ** 31 - 1;

export function newScramSalt(): Buffer {
  return randomBytes(SCRAM_SALT_LENGTH);
}

/**
 * SaltedPassword = PBKDF2-HMAC-SHA-256(SASLprep(password), salt, i)
 * StoredKey = SHA-256(HMAC(SaltedPassword, "Client Key"))
 * ServerKey = HMAC(SaltedPassword, "Server Key")
 *
 * Synchronous: about 2-4 ms at 4096 iterations. A Buffer password is taken as the bytes the
 * client would send (PostgreSQL's SASLprep works on bytes, see saslprep.ts).
 */
export function deriveScramVerifier(
  password: string | Uint8Array,
  salt: Buffer,
  iterations: number,
): ScramVerifier {
  const keys = clientAndServerKeys(saltedPassword(password, salt, iterations));
  return { storedKey: sha256(keys.clientKey), serverKey: keys.serverKey };
}

/** The `rolpassword` form, to set an upstream role's password without sending it. */
export function formatPostgresScramSecret(
  salt: Buffer,
  iterations: number,
  verifier: ScramVerifier,
): string {
  checkIterations(iterations);
  const b64 = (b: Buffer) => b.toString('base64');
  return `SCRAM-SHA-256$${iterations}:${b64(salt)}$${b64(verifier.storedKey)}:${b64(verifier.serverKey)}`;
}

/**
 * Reads a `rolpassword` SCRAM secret; null when it is not one. Stricter than PostgreSQL's
 * parse_scram_secret, which takes any strtol result: i=0, negative, over 2^31-1 or with
 * trailing junk is refused here (docs/security.md SCRAM-06a), and the caller runs a doomed
 * exchange instead, as for an unknown user.
 */
export function parsePostgresScramSecret(
  secret: string,
): { salt: Buffer; iterations: number; verifier: ScramVerifier } | null {
  const match = /^SCRAM-SHA-256\$([1-9][0-9]{0,9}):([^$:]+)\$([^$:]+):([^$:]+)$/.exec(secret);
  if (match === null) return null;
  const iterations = Number(match[1]);
  const salt = decodeBase64(match[2]);
  const storedKey = decodeBase64(match[3]);
  const serverKey = decodeBase64(match[4]);
  if (iterations > MAX_STORED_ITERATIONS || salt === null || salt.length === 0) return null;
  if (storedKey?.length !== SCRAM_KEY_LENGTH || serverKey?.length !== SCRAM_KEY_LENGTH) {
    return null;
  }
  return { salt, iterations, verifier: { storedKey, serverKey } };
}

/**
 * The salt shown for a user that does not exist (or has no usable secret), so that probing
 * names learns nothing: stable for a name, different across names, unpredictable without
 * the server secret (docs/security.md SCRAM-07; PostgreSQL's scram_mock_salt is the same
 * idea with SHA-256(name || mock nonce)). Use it with the configured iteration count.
 */
export function mockScramSalt(serverSecret: Buffer, username: string): Buffer {
  if (serverSecret.length === 0) throw new RangeError('mockScramSalt needs a server secret');
  return createHmac('sha256', serverSecret)
    .update(`postern mock salt\0${username}`, 'utf8')
    .digest()
    .subarray(0, SCRAM_SALT_LENGTH);
}

// ---- primitives shared by the server and client exchanges (not re-exported) ----

export function saltedPassword(
  password: string | Uint8Array,
  salt: Buffer,
  iterations: number,
): Buffer {
  checkIterations(iterations);
  if (salt.length === 0) throw new RangeError('SCRAM salt must not be empty');
  return pbkdf2Sync(saslprepBytes(password), salt, iterations, SCRAM_KEY_LENGTH, 'sha256');
}

export function clientAndServerKeys(salted: Buffer): { clientKey: Buffer; serverKey: Buffer } {
  return { clientKey: hmac(salted, 'Client Key'), serverKey: hmac(salted, 'Server Key') };
}

export function hmac(key: Buffer, data: Buffer | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

export function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] ^ b[i];
  return out;
}

function checkIterations(iterations: number): void {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_STORED_ITERATIONS) {
    throw new RangeError(`invalid SCRAM iteration count: ${iterations}`);
  }
}
