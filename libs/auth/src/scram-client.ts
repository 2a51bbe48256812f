import { randomBytes } from 'node:crypto';
import type { ChannelBinding } from './channel-binding';
import { safeEqual } from './constant-time';
import { ScramError } from './scram-error';
import {
  SCRAM_KEY_LENGTH,
  clientAndServerKeys,
  hmac,
  saltedPassword,
  sha256,
  xor,
} from './scram-keys';
import { SCRAM_SHA_256, SCRAM_SHA_256_PLUS } from './scram-server';
import { AttributeReader, decodeBase64, isPrintable, sanitize, textToBytes } from './scram-syntax';

/**
 * The gateway's side of SCRAM when it logs in to an upstream PostgreSQL, and the probe the
 * tests use against our server. Checks follow libpq's fe-auth-scram.c (docs/security.md
 * SCRAM-10): our nonce prefix, a valid salt, a sane iteration count, no trailing garbage,
 * and the server signature, compared in constant time.
 */
/**
 * Remembers SaltedPassword per (salt, iterations) for one password, so a
 * client that logs in again and again as the same role (the gateway's
 * upstream connections) pays PBKDF2 once, not per login.
 */
export class SaltedPasswordCache {
  private readonly entries = new Map<string, Buffer>();

  get(salt: Buffer, iterations: number, derive: () => Buffer): Buffer {
    const key = `${iterations}:${salt.toString('base64')}`;
    let salted = this.entries.get(key);
    if (!salted) {
      salted = derive();
      if (this.entries.size >= 16) this.entries.clear();
      this.entries.set(key, salted);
    }
    return salted;
  }
}

export interface ScramClientOptions {
  readonly password: string | Uint8Array;
  /** Cache of this password's SaltedPassword (must belong to this password only). */
  readonly saltedPasswordCache?: SaltedPasswordCache;
  /** Our view of the server certificate's binding; null or absent when not over TLS. */
  readonly channelBinding?: ChannelBinding | null;
  /** AuthenticationSASL's list. Absent: assume the server offers what we would pick. */
  readonly serverMechanisms?: ReadonlyArray<string>;
  /** Refuse to log in without PLUS (libpq channel_binding=require, SCRAM-10f). */
  readonly requireChannelBinding?: boolean;
  /** Sent as n=; PostgreSQL ignores it. Default "" as libpq. Printable ASCII only, so that every
   * message stays ASCII and its string form is its byte form. */
  readonly username?: string;
  /** Refuse server-first with a larger i (SCRAM-06b). Default 100,000 as node-postgres. */
  readonly maxIterations?: number;
  /** Our half of the nonce, for known-answer tests only. */
  readonly nonce?: () => string;
}

export const DEFAULT_MAX_CLIENT_ITERATIONS = 100_000;

export interface ScramClientFirst {
  readonly step: 'client-first';
  readonly mechanism: typeof SCRAM_SHA_256 | typeof SCRAM_SHA_256_PLUS;
  readonly clientFirst: string;
  /** Computes PBKDF2 synchronously; throws ScramError when the server misbehaves. */
  receiveServerFirst(serverFirst: string | Buffer): ScramClientFinal;
}

export interface ScramClientFinal {
  readonly step: 'client-final';
  readonly clientFinal: string;
  /** Returns when the server proved it knows the verifier; throws otherwise. */
  receiveServerFinal(serverFinal: string | Buffer): void;
}

export function startScramClient(options: ScramClientOptions): ScramClientFirst {
  const { mechanism, gs2Header } = chooseMechanism(options);
  const clientNonce = options.nonce?.() ?? randomBytes(18).toString('base64');
  if (clientNonce.length === 0 || !isPrintable(clientNonce)) {
    throw new Error('client nonce must be printable ASCII without ","');
  }
  const username = options.username ?? '';
  if (!/^[\x20-\x7e]*$/.test(username))
    throw new RangeError('SCRAM username must be printable ASCII');
  const bare = `n=${escapeSaslName(username)},r=${clientNonce}`;
  let used = false;
  return {
    step: 'client-first',
    mechanism,
    clientFirst: gs2Header + bare,
    receiveServerFirst(serverFirstInput) {
      if (used) throw new Error('SCRAM server-first-message already received');
      used = true;
      const serverFirst = asText(serverFirstInput);
      const first = parseServerFirst(serverFirst, clientNonce, options.maxIterations);
      const derive = () => saltedPassword(options.password, first.salt, first.iterations);
      const salted = options.saltedPasswordCache
        ? options.saltedPasswordCache.get(first.salt, first.iterations, derive)
        : derive();
      const { clientKey, serverKey } = clientAndServerKeys(salted);
      const bindingData = mechanism === SCRAM_SHA_256_PLUS ? options.channelBinding?.data : null;
      const cbindInput = Buffer.concat([textToBytes(gs2Header), bindingData ?? Buffer.alloc(0)]);
      const withoutProof = `c=${cbindInput.toString('base64')},r=${first.nonce}`;
      const authMessage = textToBytes(`${bare},${serverFirst},${withoutProof}`);
      const proof = xor(clientKey, hmac(sha256(clientKey), authMessage));
      const expectedSignature = hmac(serverKey, authMessage);
      return {
        step: 'client-final',
        clientFinal: `${withoutProof},p=${proof.toString('base64')}`,
        receiveServerFinal(serverFinal) {
          checkServerFinal(asText(serverFinal), expectedSignature);
        },
      };
    },
  };
}

/** As libpq pg_SASL_init: PLUS when both sides can bind, else "y" if we could, else "n". */
function chooseMechanism(options: ScramClientOptions): {
  mechanism: typeof SCRAM_SHA_256 | typeof SCRAM_SHA_256_PLUS;
  gs2Header: string;
} {
  const binding = options.channelBinding ?? null;
  const offered =
    options.serverMechanisms ?? (binding !== null ? [SCRAM_SHA_256_PLUS] : [SCRAM_SHA_256]);
  if (binding !== null && offered.includes(SCRAM_SHA_256_PLUS)) {
    return { mechanism: SCRAM_SHA_256_PLUS, gs2Header: `p=${binding.type},,` };
  }
  if (options.requireChannelBinding) {
    throw new ScramError(
      '28000',
      'channel binding is required, but server did not offer an authentication method that supports channel binding',
    );
  }
  if (!offered.includes(SCRAM_SHA_256)) {
    throw new ScramError(
      '28000',
      "none of the server's SASL authentication mechanisms are supported",
    );
  }
  return { mechanism: SCRAM_SHA_256, gs2Header: binding !== null ? 'y,,' : 'n,,' };
}

/*
 * RFC 5802 §7:
 *   server-first-message = [reserved-mext ","] nonce "," salt "," iteration-count
 *                          ["," extensions]
 *   salt            = "s=" base64
 *   iteration-count = "i=" posit-number
 *
 * libpq refuses reserved-mext and trailing data; so do we.
 */
function parseServerFirst(
  text: string,
  clientNonce: string,
  maxIterations = DEFAULT_MAX_CLIENT_ITERATIONS,
): { nonce: string; salt: Buffer; iterations: number } {
  const reader = new AttributeReader(text, 'server-first-message');
  const nonce = reader.expect('r');
  // The server must continue our nonce with its own printable part; checking the prefix
  // at once stops a replayed or forged server-first (SCRAM-05c).
  const prefixOk = safeEqual(
    textToBytes(nonce.slice(0, clientNonce.length)),
    textToBytes(clientNonce),
  );
  if (!prefixOk || nonce.length <= clientNonce.length || !isPrintable(nonce)) {
    throw new ScramError('08P01', 'invalid SCRAM response (nonce mismatch)');
  }
  const salt = decodeBase64(reader.expect('s'));
  if (salt === null || salt.length === 0) {
    throw new ScramError('08P01', 'malformed SCRAM message (invalid salt)');
  }
  const iterationText = reader.expect('i');
  const iterations = /^[1-9][0-9]{0,9}$/.test(iterationText) ? Number(iterationText) : 0;
  if (iterations < 1 || iterations > maxIterations) {
    throw new ScramError(
      '08P01',
      'malformed SCRAM message (invalid iteration count)',
      `i=${sanitize(iterationText)}; accepted 1 to ${maxIterations}`,
    );
  }
  if (!reader.atEnd()) {
    throw new ScramError(
      '08P01',
      'malformed SCRAM message (garbage at end of server-first-message)',
    );
  }
  return { nonce, salt, iterations };
}

/*
 * RFC 5802 §7:
 *   server-error = "e=" server-error-value
 *   verifier     = "v=" base64                ;; base64 of ServerSignature
 *   server-final-message = (server-error / verifier) ["," extensions]
 *
 * PostgreSQL sends neither e= nor extensions; libpq refuses anything after v=.
 */
function checkServerFinal(text: string, expectedSignature: Buffer): void {
  const reader = new AttributeReader(text, 'server-final-message');
  if (reader.peek() === 'e') {
    throw new ScramError(
      '08P01',
      `error received from server in SCRAM exchange: ${sanitize(reader.expect('e'))}`,
    );
  }
  const signature = decodeBase64(reader.expect('v'));
  if (!reader.atEnd()) {
    throw new ScramError(
      '08P01',
      'malformed SCRAM message (garbage at end of server-final-message)',
    );
  }
  if (signature?.length !== SCRAM_KEY_LENGTH) {
    throw new ScramError('08P01', 'malformed SCRAM message (invalid server signature)');
  }
  // The server knew the verifier only if this matches; without it we may be talking to
  // anyone who relays our proof (SCRAM-10c).
  if (!safeEqual(signature, expectedSignature)) {
    throw new ScramError('28000', 'incorrect server signature');
  }
}

/** saslname: "," and "=" are escaped as "=2C" and "=3D" (RFC 5802 §5.1). */
function escapeSaslName(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

function asText(message: string | Buffer): string {
  return typeof message === 'string' ? message : message.toString('latin1');
}
