import { SqlState } from '#wire';
import type { LogSink } from '../log';
import { clusterOutOfSlots, PoolExhaustedError, UpstreamSettingError } from './pool';
import { UpstreamConnectError } from './upstream-connect';

/** What a client is told when it could not get an upstream connection. */
export interface UpstreamFailure {
  readonly sqlstate: string;
  readonly message: string;
}

/**
 * The one mapping of a failed acquire to the client's error, for the wire
 * (an ErrorResponse) and HTTP (a QueryError): which limit refused it (pool,
 * per-user share, budget: HARD-06), the cluster being full, starting up
 * (57P03 on both paths), or unreachable. The upstream's own text is only
 * logged (an unauthenticated peer's text is never shown, CVE-2024-10977).
 * Null: not an upstream failure (rethrow it).
 */
export function upstreamFailure(
  err: unknown,
  database: string,
  user: string,
  log: LogSink,
): UpstreamFailure | null {
  if (err instanceof PoolExhaustedError) {
    return { sqlstate: SqlState.TooManyConnections, message: err.describe(database, user) };
  }
  if (err instanceof UpstreamSettingError) {
    // The client's own startup setting, refused by PostgreSQL after login.
    return { sqlstate: err.sqlstate ?? SqlState.ProtocolViolation, message: err.message };
  }
  if (!(err instanceof UpstreamConnectError)) return null;
  log.warn(`upstream connection failed: ${err.message}`);
  if (clusterOutOfSlots(err)) {
    // The cluster is full: not something about the database the client asked for.
    return {
      sqlstate: SqlState.TooManyConnections,
      message: 'too many connections: the database cluster has no connection slots left',
    };
  }
  if (err.sqlstate === SqlState.TooManyConnections) {
    return {
      sqlstate: SqlState.TooManyConnections,
      message: `too many connections for database "${database}"`,
    };
  }
  if (err.sqlstate === SqlState.CannotConnectNow) {
    return {
      sqlstate: SqlState.CannotConnectNow,
      message: 'the database system is not accepting connections',
    };
  }
  return {
    sqlstate: SqlState.ConnectionFailure,
    message: 'could not connect to the database server',
  };
}
