import { ScramError, scramMechanisms, startScramServer } from '#auth';
import {
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  FrontendType,
  parseSaslInitialResponse,
  parseSaslResponse,
  PgError,
  PgErrors,
  type SqlStateCode,
} from '#wire';
import type { FramedSocket } from '#engine';
import type { LoginCandidates } from './login.service';

export interface ChannelBindingData {
  readonly type: 'tls-server-end-point';
  readonly data: Buffer;
}

/**
 * SCRAM-SHA-256 (and -PLUS over TLS) against every secret of the login.
 * Resolves with the id of the secret that matched, after AuthenticationOk
 * was sent; throws PgError (28P01 for any failed proof) otherwise.
 */
export async function authenticateWithScram(
  framed: FramedSocket,
  username: string,
  login: LoginCandidates,
  channelBinding: ChannelBindingData | null,
): Promise<string> {
  try {
    const exchange = startScramServer({
      salt: login.salt,
      iterations: login.iterations,
      candidates: login.secrets,
      channelBinding,
    });
    framed.write(authenticationSasl(scramMechanisms(channelBinding !== null)));
    const initial = parseSaslInitialResponse(await nextSaslMessage(framed));
    const { serverFirst, next } = exchange.receiveClientFirst(initial.mechanism, initial.data);
    framed.write(authenticationSaslContinue(serverFirst));
    const result = next.receiveClientFinal(parseSaslResponse(await nextSaslMessage(framed)));
    if (result.outcome !== 'ok' || login.userId === null) throw PgErrors.invalidPassword(username);
    framed.write(authenticationSaslFinal(result.serverFinal));
    framed.write(authenticationOk());
    return result.candidateId;
  } catch (err) {
    if (err instanceof ScramError) {
      throw new PgError(err.sqlstate as SqlStateCode, err.message);
    }
    throw err;
  }
}

/** PostgreSQL reads authentication messages strictly in order (PROTO-06). */
async function nextSaslMessage(framed: FramedSocket): Promise<Buffer> {
  const { type, body } = await framed.nextMessage();
  if (type !== FrontendType.PasswordOrSasl) {
    throw PgErrors.protocolViolation(`expected SASL response, got message type ${type}`);
  }
  return body;
}
