import { randomBytes } from 'node:crypto';
import type { ChannelBinding } from './channel-binding';
import { safeEqual } from './constant-time';
import { ScramError, malformed } from './scram-error';
import { SCRAM_KEY_LENGTH, hmac, sha256, xor, type ScramVerifier } from './scram-keys';
import {
  AttributeReader,
  bytesToText,
  decodeBase64,
  isPrintable,
  sanitize,
  textToBytes,
} from './scram-syntax';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
export const SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';

/** AuthenticationSASL's list: PLUS first, and only when the binding can be computed. */
export function scramMechanisms(channelBindingAvailable: boolean): string[] {
  return channelBindingAvailable ? [SCRAM_SHA_256_PLUS, SCRAM_SHA_256] : [SCRAM_SHA_256];
}

/** One secret the proof may match: the password or an API token of the user. */
export interface ScramCandidate {
  readonly id: string;
  readonly verifier: ScramVerifier;
}

export interface ScramServerOptions {
  /** The user's salt, or mockScramSalt(...) for an unknown user. */
  readonly salt: Buffer;
  readonly iterations: number;
  /** Empty for an unknown user: the exchange runs to the end and fails (SCRAM-07). */
  readonly candidates: ReadonlyArray<ScramCandidate>;
  /** Null when not over TLS or when the certificate has no defined binding: no PLUS. */
  readonly channelBinding: ChannelBinding | null;
  /** The server half of the nonce, for known-answer tests only. */
  readonly nonce?: () => string;
}

export interface ScramAwaitingClientFirst {
  readonly step: 'awaiting-client-first';
  /** Throws ScramError; the connection then ends with a FATAL carrying its sqlstate. */
  receiveClientFirst(
    mechanism: string,
    clientFirst: Buffer,
  ): { serverFirst: string; next: ScramAwaitingClientFinal };
}

export interface ScramAwaitingClientFinal {
  readonly step: 'awaiting-client-final';
  /** Throws ScramError on protocol errors; a wrong proof is the 'failed' outcome (28P01). */
  receiveClientFinal(clientFinal: Buffer): ScramServerOutcome;
}

export type ScramServerOutcome =
  | {
      readonly outcome: 'ok';
      readonly candidateId: string;
      readonly serverFinal: string;
      /** True when SCRAM-SHA-256-PLUS was used: the client saw our certificate. */
      readonly channelBound: boolean;
    }
  | { readonly outcome: 'failed' };

/** PostgreSQL's SCRAM_RAW_NONCE_LEN: 18 random bytes, 24 base64 characters. */
const SERVER_NONCE_BYTES = 18;

export function startScramServer(options: ScramServerOptions): ScramAwaitingClientFirst {
  checkOptions(options);
  // A snapshot: the set of secrets is decided when the exchange starts.
  const candidates = [...options.candidates];
  let used = false;
  return {
    step: 'awaiting-client-first',
    receiveClientFirst(mechanism, clientFirst) {
      if (used) throw new Error('SCRAM client-first-message already received');
      used = true;
      const bindingInUse = selectMechanism(mechanism, options.channelBinding);
      const first = parseClientFirst(bytesToText(clientFirst), bindingInUse, options);
      const serverNonce = options.nonce?.() ?? randomBytes(SERVER_NONCE_BYTES).toString('base64');
      if (serverNonce.length === 0 || !isPrintable(serverNonce)) {
        throw new Error('server nonce must be printable ASCII without ","');
      }
      const nonce = first.clientNonce + serverNonce;
      const serverFirst = `r=${nonce},s=${options.salt.toString('base64')},i=${options.iterations}`;
      const cbindInput = Buffer.concat([
        textToBytes(first.gs2Header),
        bindingInUse ? (options.channelBinding as ChannelBinding).data : Buffer.alloc(0),
      ]);
      const next = awaitClientFinal({
        candidates,
        bindingInUse,
        expectedChannelBinding: cbindInput.toString('base64'),
        nonce,
        authMessagePrefix: `${first.bare},${serverFirst},`,
      });
      return { serverFirst, next };
    },
  };
}

/** What the last step needs, and nothing else. */
interface ClientFinalContext {
  readonly candidates: ReadonlyArray<ScramCandidate>;
  readonly bindingInUse: boolean;
  /** base64(gs2-header [cbind-data]): the whole expected value of c=. */
  readonly expectedChannelBinding: string;
  readonly nonce: string;
  /** client-first-message-bare "," server-first-message "," */
  readonly authMessagePrefix: string;
}

function awaitClientFinal(context: ClientFinalContext): ScramAwaitingClientFinal {
  let used = false;
  return {
    step: 'awaiting-client-final',
    receiveClientFinal(clientFinal) {
      // One proof per server nonce: a second try would be a free password guess.
      if (used) throw new Error('SCRAM client-final-message already received');
      used = true;
      const final = parseClientFinal(bytesToText(clientFinal));

      const channelBindingOk = safeEqual(
        textToBytes(final.channelBinding),
        textToBytes(context.expectedChannelBinding),
      );
      if (!channelBindingOk && context.bindingInUse) {
        throw new ScramError('28000', 'SCRAM channel binding check failed');
      }
      if (!channelBindingOk) {
        throw new ScramError(
          '08P01',
          'unexpected SCRAM channel-binding attribute in client-final-message',
        );
      }
      if (!safeEqual(textToBytes(final.nonce), textToBytes(context.nonce))) {
        throw new ScramError('08P01', 'invalid SCRAM response', 'Nonce does not match.');
      }

      const authMessage = textToBytes(context.authMessagePrefix + final.withoutProof);
      const matched = matchProof(context.candidates, final.proof, authMessage);
      if (matched === null) return { outcome: 'failed' };
      return {
        outcome: 'ok',
        candidateId: matched.id,
        serverFinal: `v=${hmac(matched.verifier.serverKey, authMessage).toString('base64')}`,
        channelBound: context.bindingInUse,
      };
    },
  };
}

/**
 * ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the proof is good when
 * SHA-256(ClientKey) equals StoredKey. Every candidate is computed and compared, in the
 * same way, whatever matched earlier: the time depends on how many secrets the user has
 * (about a microsecond each), never on which one matched. With no candidates one throwaway
 * verifier is checked so that an unknown user costs what a known one does (PostgreSQL's
 * "doomed" exchange computes the proof too).
 */
function matchProof(
  candidates: ReadonlyArray<ScramCandidate>,
  proof: Buffer,
  authMessage: Buffer,
): ScramCandidate | null {
  const checked = candidates.length > 0 ? candidates : [DOOMED];
  let matched: ScramCandidate | null = null;
  for (const candidate of checked) {
    const { storedKey } = candidate.verifier;
    const clientKey = xor(proof, hmac(storedKey, authMessage));
    const ok = safeEqual(sha256(clientKey), storedKey);
    if (ok && matched === null) matched = candidate;
  }
  return matched === DOOMED ? null : matched;
}

const DOOMED: ScramCandidate = {
  id: '',
  verifier: { storedKey: randomBytes(SCRAM_KEY_LENGTH), serverKey: randomBytes(SCRAM_KEY_LENGTH) },
};

/** PostgreSQL scram_init: PLUS only when it was offered, i.e. the binding is known. */
function selectMechanism(mechanism: string, binding: ChannelBinding | null): boolean {
  if (mechanism === SCRAM_SHA_256_PLUS && binding !== null) return true;
  if (mechanism === SCRAM_SHA_256) return false;
  throw new ScramError('08P01', 'client selected an invalid SASL authentication mechanism');
}

/**
 * The client nonce is echoed in server-first-message and kept for the exchange, so it is
 * bounded (HARD-01). Clients send 24 characters (libpq, pgJDBC, pgx, Npgsql: 18 random
 * bytes in base64); RFC 5802 sets no limit, so the bound is generous.
 */
export const MAX_CLIENT_NONCE_LENGTH = 256;

/*
 * RFC 5802 §7:
 *   gs2-cbind-flag  = ("p=" cb-name) / "n" / "y"
 *   gs2-header      = gs2-cbind-flag "," [ authzid ] ","
 *   authzid         = "a=" saslname
 *   reserved-mext   = "m=" 1*(value-char)
 *   username        = "n=" saslname
 *   nonce           = "r=" c-nonce [s-nonce]
 *   client-first-message-bare = [reserved-mext ","] username "," nonce ["," extensions]
 *   client-first-message      = gs2-header client-first-message-bare
 *
 * The user name is ignored: PostgreSQL takes the role from the StartupMessage, libpq sends
 * "n=" and node-postgres "n=*". So it may be empty and its "=2C"/"=3D" escapes are not
 * checked, as in PostgreSQL. Checks and messages follow read_client_first_message.
 */
function parseClientFirst(
  text: string,
  bindingInUse: boolean,
  options: ScramServerOptions,
): { gs2Header: string; bare: string; clientNonce: string } {
  const reader = new AttributeReader(text, 'client-first-message');
  const flag = reader.peek();
  if (flag === 'n' || flag === 'y') {
    if (bindingInUse) {
      throw malformed(
        'The client selected SCRAM-SHA-256-PLUS, but the SCRAM message does not include channel binding data.',
      );
    }
    // "y": the client could bind but believes we cannot. We can, so someone removed PLUS
    // from our mechanism list on the way (RFC 5802 §6, docs/security.md SCRAM-03c).
    if (flag === 'y' && options.channelBinding !== null) {
      throw new ScramError(
        '28000',
        'SCRAM channel binding negotiation error',
        'The client supports SCRAM channel binding but thinks the server does not.  However, this server does support channel binding.',
      );
    }
    reader.expectChar(flag);
    reader.expectChar(',');
  } else if (flag === 'p') {
    if (!bindingInUse) {
      throw malformed(
        'The client selected SCRAM-SHA-256 without channel binding, but the SCRAM message includes channel binding data.',
      );
    }
    const type = reader.expect('p');
    if (type !== 'tls-server-end-point') {
      throw new ScramError('08P01', `unsupported SCRAM channel-binding type "${sanitize(type)}"`);
    }
  } else {
    throw malformed(`Unexpected channel-binding flag "${sanitize(flag)}".`);
  }

  if (reader.peek() === 'a') {
    throw new ScramError('0A000', 'client uses authorization identity, but it is not supported');
  }
  if (reader.peek() !== ',') {
    throw malformed(`Unexpected attribute "${sanitize(reader.peek())}" in client-first-message.`);
  }
  reader.expectChar(',');
  const gs2Header = text.slice(0, reader.position);
  const bare = text.slice(reader.position);

  if (reader.peek() === 'm') {
    throw new ScramError('0A000', 'client requires an unsupported SCRAM extension');
  }
  reader.expect('n');
  const clientNonce = reader.expect('r');
  if (!isPrintable(clientNonce)) {
    throw new ScramError('08P01', 'non-printable characters in SCRAM nonce');
  }
  if (clientNonce.length > MAX_CLIENT_NONCE_LENGTH) {
    throw malformed(`Client nonce is longer than ${MAX_CLIENT_NONCE_LENGTH} characters.`);
  }
  while (!reader.atEnd()) reader.any(); // optional extensions: none supported, ignored
  return { gs2Header, bare, clientNonce };
}

/*
 * RFC 5802 §7:
 *   channel-binding = "c=" base64          ;; base64 of gs2-header [cbind-data]
 *   proof           = "p=" base64
 *   client-final-message-without-proof = channel-binding "," nonce ["," extensions]
 *   client-final-message = client-final-message-without-proof "," proof
 *
 * So c= first, r= second, any extensions, then p= last; anything after p= is garbage.
 */
function parseClientFinal(text: string): {
  channelBinding: string;
  nonce: string;
  withoutProof: string;
  proof: Buffer;
} {
  const reader = new AttributeReader(text, 'client-final-message');
  const channelBinding = reader.expect('c');
  const nonce = reader.expect('r');
  let proofStart: number;
  let attribute: { attr: string; value: string };
  do {
    proofStart = reader.position;
    attribute = reader.any();
  } while (attribute.attr !== 'p');
  const proof = decodeBase64(attribute.value);
  if (proof?.length !== SCRAM_KEY_LENGTH) {
    throw malformed('Malformed proof in client-final-message.');
  }
  reader.expectEnd();
  // proofStart is just after the "," that precedes "p=".
  return { channelBinding, nonce, withoutProof: text.slice(0, proofStart - 1), proof };
}

function checkOptions(options: ScramServerOptions): void {
  if (options.salt.length === 0) throw new RangeError('SCRAM salt must not be empty');
  if (!Number.isInteger(options.iterations) || options.iterations < 1) {
    throw new RangeError(`invalid SCRAM iteration count: ${options.iterations}`);
  }
  for (const { verifier } of options.candidates) {
    if (
      verifier.storedKey.length !== SCRAM_KEY_LENGTH ||
      verifier.serverKey.length !== SCRAM_KEY_LENGTH
    ) {
      throw new RangeError('SCRAM verifier keys must be 32 bytes');
    }
  }
  if (options.channelBinding !== null && options.channelBinding.data.length === 0) {
    throw new RangeError('channel binding data must not be empty');
  }
}
