/**
 * The per-session guardrails, one shape for the wire relay and SQL over
 * HTTP (the global settings, a database's own overrides, a relay's or a
 * runner's limits are all this or a part of it); 0 turns one off.
 */
export interface Guardrails {
  readonly statementTimeoutMs: number;
  readonly idleInTransactionTimeoutMs: number;
  readonly idleSessionTimeoutMs: number;
  readonly maxResultRows: number;
  readonly maxResultBytes: number;
}

/** The global guardrails, overridden by a database's own (`limits`, keys left out use the global). */
export function guardrailsFor(global: Guardrails, own: Partial<Guardrails>): Guardrails {
  return {
    statementTimeoutMs: own.statementTimeoutMs ?? global.statementTimeoutMs,
    idleInTransactionTimeoutMs: own.idleInTransactionTimeoutMs ?? global.idleInTransactionTimeoutMs,
    idleSessionTimeoutMs: own.idleSessionTimeoutMs ?? global.idleSessionTimeoutMs,
    maxResultRows: own.maxResultRows ?? global.maxResultRows,
    maxResultBytes: own.maxResultBytes ?? global.maxResultBytes,
  };
}

export type ResultLimit = 'rows' | 'bytes';

/**
 * Counts a result's rows (DataRow, and CopyData of COPY TO STDOUT: HARD-12)
 * and bytes against the limits. Allocation-free: it sits on the relay's
 * hot path. The relay resets it per statement, an HTTP request counts over
 * all its statements.
 */
export class ResultMeter {
  private rows = 0;
  private bytes = 0;
  /** The limit passed, from the first row beyond it until `reset`. */
  exceeded: ResultLimit | null = null;

  constructor(private readonly limits: Pick<Guardrails, 'maxResultRows' | 'maxResultBytes'>) {}

  /**
   * Counts one row of `size` bytes; false when it is beyond a limit (it and
   * every later row are dropped; the first such row sets `exceeded`, and the
   * statement is to be cancelled then).
   */
  count(size: number): boolean {
    this.rows++;
    this.bytes += size;
    if (this.exceeded) return false;
    const { maxResultRows, maxResultBytes } = this.limits;
    if (maxResultRows > 0 && this.rows > maxResultRows) this.exceeded = 'rows';
    else if (maxResultBytes > 0 && this.bytes > maxResultBytes) this.exceeded = 'bytes';
    else return true;
    return false;
  }

  reset(): void {
    this.rows = this.bytes = 0;
    this.exceeded = null;
  }
}

/** The message of a result cut by a guardrail (SQLSTATE 54000). */
export function resultLimitMessage(
  limit: ResultLimit,
  limits: Pick<Guardrails, 'maxResultRows' | 'maxResultBytes'>,
): string {
  const what = limit === 'rows' ? `${limits.maxResultRows} rows` : `${limits.maxResultBytes} bytes`;
  return `result exceeds the limit of ${what}`;
}

/** What a statement cancelled by the gateway's statement timeout ends with (57014). */
export const STATEMENT_TIMEOUT_MESSAGE = 'canceling statement due to statement timeout';
