import { PROTOCOL_LATEST_MINOR, PROTOCOL_MAJOR } from './message-types.js';
import { SqlState, type SqlStateCode } from './sqlstate.js';

export type PgSeverity = 'FATAL' | 'ERROR' | 'WARNING' | 'NOTICE';

export interface PgErrorOptions {
  severity?: PgSeverity;
  detail?: string;
  hint?: string;
}

/**
 * An error that can be sent to a client as an ErrorResponse. FATAL (the default) means the
 * connection closes after the message, without ReadyForQuery.
 */
export class PgError extends Error {
  readonly sqlstate: SqlStateCode;
  readonly severity: PgSeverity;
  readonly detail?: string;
  readonly hint?: string;

  constructor(sqlstate: SqlStateCode, message: string, options: PgErrorOptions = {}) {
    super(message);
    this.name = 'PgError';
    this.sqlstate = sqlstate;
    this.severity = options.severity ?? 'FATAL';
    this.detail = options.detail;
    this.hint = options.hint;
  }
}

/**
 * Every SQLSTATE choice Postern makes lives here, so that the same situation always produces
 * the same code and message. Messages follow PostgreSQL's wording where PostgreSQL has one,
 * because drivers and operators grep for it.
 */
export const PgErrors = {
  protocolViolation(message: string, detail?: string): PgError {
    return new PgError(SqlState.ProtocolViolation, message, { detail });
  },

  tlsRequired(user: string, database: string): PgError {
    return new PgError(SqlState.InvalidAuthorizationSpecification, 'connection requires TLS', {
      detail: `Unencrypted connection refused for user "${user}", database "${database}".`,
      hint: 'Connect with sslmode=require or stronger.',
    });
  },

  /**
   * One answer for every failed login: wrong password, unknown or disabled
   * user, expired, revoked or out-of-scope token, throttled source. Unlike
   * PostgreSQL it does not echo the user name, so the bytes are identical
   * whoever asked (no user enumeration, SCRAM-07).
   */
  invalidPassword(): PgError {
    return new PgError(SqlState.InvalidPassword, 'password authentication failed');
  },

  databaseNotFound(name: string): PgError {
    return new PgError(SqlState.InvalidCatalogName, `database "${name}" does not exist`);
  },

  unsupportedProtocol(major: number, minor: number): PgError {
    return new PgError(
      SqlState.FeatureNotSupported,
      `unsupported frontend protocol ${major}.${minor}: server supports ` +
        `${PROTOCOL_MAJOR}.0 to ${PROTOCOL_MAJOR}.${PROTOCOL_LATEST_MINOR}`,
    );
  },

  /** PostgreSQL reports an expired authentication_timeout as 57014 with this text. */
  startupTimeout(): PgError {
    return new PgError(SqlState.QueryCanceled, 'canceling authentication due to timeout');
  },

  tooManyConnections(message: string): PgError {
    return new PgError(SqlState.TooManyConnections, message);
  },

  adminShutdown(): PgError {
    return new PgError(
      SqlState.AdminShutdown,
      'terminating connection due to administrator command',
    );
  },

  connectionFailure(message: string): PgError {
    return new PgError(SqlState.ConnectionFailure, message);
  },
} as const;
