/** The SQLSTATEs a SCRAM exchange can end with, as PostgreSQL uses them. */
export type ScramSqlState =
  | '08P01' // protocol_violation: malformed message, bad nonce, wrong mechanism
  | '28000' // invalid_authorization_specification: channel binding downgrade or mismatch
  | '28P01' // invalid_password: the caller's answer to outcome 'failed'
  | '0A000'; // feature_not_supported: authzid, mandatory extensions

/**
 * A SCRAM exchange that cannot go on. Kept here rather than borrowed from libs/wire so
 * that libs/auth stays independent; the wire layer turns it into a FATAL ErrorResponse.
 * `detail` never holds a secret, but may quote (sanitised) bytes the peer sent.
 */
export class ScramError extends Error {
  override readonly name = 'ScramError';

  constructor(
    readonly sqlstate: ScramSqlState,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
}

/** PostgreSQL's wording for every syntax error in a SCRAM message. */
export function malformed(detail: string): ScramError {
  return new ScramError('08P01', 'malformed SCRAM message', detail);
}
