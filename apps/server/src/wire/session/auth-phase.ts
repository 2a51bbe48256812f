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
  readonly method: 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS' | 'password';
}

export interface ExchangeInput {
  readonly salt: Buffer;
  readonly iterations: number;
  readonly candidates: readonly ScramCandidate[];
}

/**
 * SCRAM-SHA-256 (and -PLUS when channel binding data is given) against
 * every candidate secret. Protocol and grammar errors throw PgError; a
 * wrong proof is a result (`candidateId: null`), so the caller decides what
 * the client hears, after throttling.
 */
export async function exchangeScram(
  framed: FramedSocket,
  input: ExchangeInput,
  channelBinding: ChannelBinding | null,
): Promise<ExchangeResult> {
  try {
    const exchange = startScramServer({ ...input, channelBinding });
    framed.write(authenticationSasl(scramMechanisms(channelBinding !== null)));
    const initial = parseSaslInitialResponse(await nextAuthMessage(framed, 'SASL response'));
    const { serverFirst, next } = exchange.receiveClientFirst(initial.mechanism, initial.data);
    framed.write(authenticationSaslContinue(serverFirst));
    const result = next.receiveClientFinal(
      parseSaslResponse(await nextAuthMessage(framed, 'SASL response')),
    );
    const method =
      initial.mechanism === 'SCRAM-SHA-256-PLUS' ? 'SCRAM-SHA-256-PLUS' : 'SCRAM-SHA-256';
    return result.outcome === 'ok'
      ? { candidateId: result.candidateId, serverFinal: result.serverFinal, method }
      : { candidateId: null, serverFinal: null, method };
  } catch (err) {
    if (err instanceof ScramError) throw new PgError(err.sqlstate as SqlStateCode, err.message);
    throw err;
  }
}

/**
 * AuthenticationCleartextPassword, for clients without SCRAM. Only offered
 * over TLS (the caller checks) and only when configured.
 */
export async function exchangeCleartext(
  framed: FramedSocket,
  input: ExchangeInput,
): Promise<ExchangeResult> {
  framed.write(authenticationCleartextPassword());
  const password = parsePasswordMessage(await nextAuthMessage(framed, 'password response'));
  return {
    candidateId: matchCleartextPassword(password, input.salt, input.iterations, input.candidates),
    serverFinal: null,
    method: 'password',
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
