import { HttpException } from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import { QueryError } from '#engine';
import { SqlState } from '#wire';

/** What an SQL error adds to the API's error shape `{statusCode, error, message}`. */
export interface SqlErrorFields {
  readonly sqlstate: string;
  /** 1-based character position in the statement. */
  readonly position?: number;
  readonly detail?: string;
  readonly hint?: string;
  /** Index of the failing statement of a transaction. */
  readonly statement?: number;
}

/** A QueryError as an HTTP error; ErrorsFilter adds `sqlFields` to the body. */
export class SqlErrorException extends HttpException {
  constructor(
    status: number,
    message: string,
    readonly sqlFields: SqlErrorFields,
  ) {
    super(message, status);
  }

  /** The body of this error, also used for the last line of an NDJSON stream. */
  body(): Record<string, unknown> {
    const statusCode = this.getStatus();
    return {
      statusCode,
      error: STATUS_CODES[statusCode] ?? 'Error',
      message: this.message,
      ...this.sqlFields,
    };
  }
}

/** PostgreSQL's answer to several statements in one Parse message. */
const MULTIPLE_COMMANDS = 'cannot insert multiple commands into a prepared statement';

/**
 * The status of an SQL error: what the statement may not do is 403 (as
 * for the admin API); conflicts a retry may resolve are 409; the database
 * being unreachable, busy or failing is 502/503/500; everything else the
 * statement caused, guardrails (54000, 57014) included, is 400 with its
 * SQLSTATE.
 */
export function sqlErrorException(error: QueryError): SqlErrorException {
  const { sqlstate } = error;
  const { position, detail, hint, statementIndex } = error.fields;
  const fields: SqlErrorFields = { sqlstate, position, detail, hint, statement: statementIndex };
  if (sqlstate === SqlState.SyntaxError && error.message === MULTIPLE_COMMANDS) {
    return new SqlErrorException(
      400,
      'one statement per request: send several as {"transaction": [{"sql": ...}, ...]}',
      { ...fields, detail: error.message },
    );
  }
  return new SqlErrorException(statusOf(sqlstate, error.fields.severity), error.message, fields);
}

function statusOf(sqlstate: string, severity: string | undefined): number {
  switch (sqlstate) {
    case SqlState.InsufficientPrivilege:
    case SqlState.ReadOnlySqlTransaction:
      return 403;
    case SqlState.SerializationFailure:
    case SqlState.DeadlockDetected:
      return 409;
    case SqlState.AdminShutdown:
    case SqlState.CannotConnectNow:
      return 503;
  }
  const sqlClass = sqlstate.slice(0, 2);
  // PostgreSQL's ERROR-level 08P01 (a Bind with the wrong number of parameters) is the
  // request's fault; a lost or broken connection to the database server is the gateway's.
  if (sqlClass === '08') return severity === 'ERROR' ? 400 : 502;
  if (sqlClass === '53') return 503; // too many connections, out of memory or disk
  if (sqlClass === '58' || sqlClass === 'XX') return 500;
  return 400;
}
