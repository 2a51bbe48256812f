import {
  matchCleartextPassword,
  ScramError,
  scramMechanisms,
  startScramServer,
  type ChannelBinding,
  type ScramCandidate,
} from '#auth';
import {
  authenticationCleartextPassword,
  authenticationSasl,
  authenticationSaslContinue,
  FrontendType,
  parsePasswordMessage,
  parseSaslInitialResponse,
  parseSaslResponse,
  PgError,
  PgErrors,
  type SqlStateCode,
} from '#wire';
import type { FramedSocket } from '#engine';

/** What a credential exchange proved: which candidate matched, if any. */
export interface ExchangeResult {
  readonly candidateId: string | null;
  /** SASLFinal payload to send when the login is accepted (SCRAM only). */
  readonly serverFinal: string | null;
}

export type AuthExchangeMethod = 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS' | 'password';

/**
 * The client's proof, received but not yet checked. Checking is synchronous,
 * so the caller can take its throttling verdict and count the outcome in the
 * same step, with no other login in between (HARD-02).
 */
export interface PresentedProof<T extends ExchangeInput> {
  readonly method: AuthExchangeMethod;
  /** What `lookUp` found. */
  readonly secrets: T;
  /** Checks the proof against every candidate; protocol errors throw PgError. */
  verify(): ExchangeResult;
}

export interface ExchangeInput {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly candidates: readonly ScramCandidate[];
}

/**
 * SCRAM-SHA-256 (and -PLUS when channel binding data is given) against
 * every candidate secret. The request (AuthenticationSASL) depends only on
 * the channel binding, so it goes out before the user's secrets are looked
 * up: the first answer takes the same time whoever the user is (HARD-03);
 * `lookUp` (in memory, the same work for every name) runs once the
 * client-first-message is in.
 * Protocol and grammar errors throw PgError; a wrong proof is a result.
 */
export async function exchangeScram<T extends ExchangeInput>(
  framed: FramedSocket,
  lookUp: () => Promise<T>,
  channelBinding: ChannelBinding | null,
): Promise<PresentedProof<T>> {
  const offered = scramMechanisms(channelBinding !== null);
  framed.write(authenticationSasl(offered));
  const initial = parseSaslInitialResponse(await nextAuthMessage(framed, 'SASL response'));
  // Only now: nothing that depends on the user runs between the request and the
  // client's answer, so no CPU the lookup takes can delay the request's delivery.
  const input = await lookUp();
  const clientFirst = initial.data ?? (await askForClientFirst(framed, initial.mechanism, offered));
  const { serverFirst, next } = scramStep(() =>
    startScramServer({ ...input, channelBinding }).receiveClientFirst(
      initial.mechanism,
      clientFirst,
    ),
  );
  framed.write(authenticationSaslContinue(serverFirst));
  const clientFinal = parseSaslResponse(await nextAuthMessage(framed, 'SASL response'));
  return {
    method: initial.mechanism === 'SCRAM-SHA-256-PLUS' ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256',
    secrets: input,
    verify() {
      const result = scramStep(() => next.receiveClientFinal(clientFinal));
      return result.outcome === 'ok'
        ? { candidateId: result.candidateId, serverFinal: result.serverFinal }
        : { candidateId: null, serverFinal: null };
    },
  };
}

/**
 * A SASLInitialResponse without an initial response (length -1): as
 * PostgreSQL does, the mechanism is checked, an empty SASLContinue asks for
 * the client-first-message, and it comes in the next SASLResponse (HARD-17).
 */
async function askForClientFirst(
  framed: FramedSocket,
  mechanism: string,
  offered: readonly string[],
): Promise<Buffer> {
  if (!offered.includes(mechanism)) {
    throw PgErrors.protocolViolation('client selected an invalid SASL authentication mechanism');
  }
  framed.write(authenticationSaslContinue(Buffer.alloc(0)));
  return parseSaslResponse(await nextAuthMessage(framed, 'SASL response'));
}

function scramStep<T>(step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof ScramError) throw new PgError(err.sqlstate as SqlStateCode, err.message);
    throw err;
  }
}

/**
 * AuthenticationCleartextPassword, for clients without SCRAM. Only offered
 * over TLS (the caller checks) and only when configured. Like SCRAM, the
 * secrets are looked up once the client has answered the request.
 */
export async function exchangeCleartext<T extends ExchangeInput>(
  framed: FramedSocket,
  lookUp: () => Promise<T>,
): Promise<PresentedProof<T>> {
  framed.write(authenticationCleartextPassword());
  const password = parsePasswordMessage(await nextAuthMessage(framed, 'password response'));
  const input = await lookUp();
  return {
    method: 'password',
    secrets: input,
    verify: () => ({
      candidateId: matchCleartextPassword(password, input.salt, input.iterations, input.candidates),
      serverFinal: null,
    }),
  };
}

/** PostgreSQL reads authentication messages strictly in order (PROTO-06). */
async function nextAuthMessage(framed: FramedSocket, expected: string): Promise<Buffer> {
  const { type, body } = await framed.nextMessage();
  if (type !== FrontendType.PasswordOrSasl) {
    throw PgErrors.protocolViolation(`expected ${expected}, got message type ${type}`);
  }
  return body;
}
