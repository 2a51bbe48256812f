/**
 * A statement failed: PostgreSQL's ErrorResponse as it was sent (the
 * tenant's own SQL, so its text is shown), or a gateway guardrail with a
 * real SQLSTATE. `statementIndex` names the failing statement of a
 * transaction.
 */
export class QueryError extends Error {
  constructor(
    readonly sqlstate: string,
    message: string,
    readonly fields: QueryErrorFields = {},
  ) {
    super(message);
    this.name = 'QueryError';
  }

  /** ErrorResponse fields (`C`, `M`, `P`, `D`, `H`, `S`) -> a QueryError. */
  static fromFields(fields: Readonly<Record<string, string>>): QueryError {
    const position = fields.P === undefined ? undefined : Number(fields.P);
    return new QueryError(fields.C ?? 'XX000', fields.M ?? 'unknown error', {
      severity: fields.S,
      detail: fields.D,
      hint: fields.H,
      position: Number.isInteger(position) ? position : undefined,
    });
  }

  withStatementIndex(index: number): QueryError {
    return new QueryError(this.sqlstate, this.message, { ...this.fields, statementIndex: index });
  }
}

export interface QueryErrorFields {
  readonly severity?: string;
  readonly detail?: string;
  readonly hint?: string;
  /** 1-based character position in the statement, as PostgreSQL reports it. */
  readonly position?: number;
  readonly statementIndex?: number;
  /** Which of the gateway's limits stopped the statement (metrics), never shown to clients. */
  readonly guardrail?: 'statement_timeout' | 'rows' | 'bytes' | 'row';
}
