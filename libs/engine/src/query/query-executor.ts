import { randomBytes } from 'node:crypto';
import { SqlState } from '#wire';
import type { ClusterEndpoint } from '../cluster';
import type { LogSink } from '../log';
import type { PhysicalDatabase } from '../provisioning';
import type { Lease } from '../upstream/pool';
import {
  acquireTenantConnection,
  UpstreamUnavailableError,
  type LeaseSource,
} from '../upstream/tenant-connection';
import type { Statement } from './parameters';
import { QueryError } from './query-error';
import { DISCARD, StatementRunner, type QueryLimits, type ResultSink } from './statement-runner';

/**
 * Settings of every HTTP query session, applied after the pool hands it out
 * (and reset by DISCARD ALL when it goes back). They fix the text the JSON
 * mapping reads: ISO dates in UTC, ISO 8601 intervals, hex bytea, UTF-8.
 */
export const HTTP_SESSION_SETTINGS: Readonly<Record<string, string>> = Object.freeze({
  application_name: 'postern-http',
  client_encoding: 'UTF8',
  DateStyle: 'ISO, MDY',
  IntervalStyle: 'iso_8601',
  TimeZone: 'UTC',
  bytea_output: 'hex',
});

/** Who asks, for the per-user shares and for the message when a limit refuses them. */
export interface QueryCaller {
  readonly id: string;
  readonly slug: string;
}

/** Which database, and whether as its reader role (read-only level) or its writer role. */
export interface QueryTarget {
  readonly endpoint: ClusterEndpoint;
  readonly database: PhysicalDatabase;
  readonly readOnly: boolean;
  /** `owner/name`, for messages. */
  readonly name: string;
  /** The database's own pool size per level (its `poolSize` limit); absent: the pool's. */
  readonly poolSize?: number;
  /** When `poolSize` was read (see UpstreamTarget.poolSizeReadAt). */
  readonly poolSizeReadAt?: number;
}

/** What the gateway's metrics learn of each request. */
export interface QueryObserver {
  /** Wraps getting the request's connection from the pool (to time it and count how it ended). */
  readonly acquire?: (target: QueryTarget, acquire: () => Promise<Lease>) => Promise<Lease>;
  /** The protocol bytes the request sent to PostgreSQL and received from it. */
  readonly relayed?: (sent: number, received: number) => void;
}

export interface QueryOptions {
  readonly limits: QueryLimits;
  readonly signal?: AbortSignal;
}

/**
 * Runs SQL for a login on a tenant database the way a wire session would:
 * as the database's reader or writer role from the same pool, with the same
 * guardrails. A single statement runs on its own (autocommit); a list runs
 * in BEGIN .. COMMIT, rolled back at the first error.
 */
export class QueryExecutor {
  constructor(
    private readonly pool: LeaseSource,
    private readonly caller: QueryCaller,
    private readonly log: LogSink,
    private readonly observer: QueryObserver = {},
  ) {}

  async statement(
    target: QueryTarget,
    statement: Statement,
    sink: ResultSink,
    options: QueryOptions,
  ): Promise<void> {
    await this.withRunner(target, options, async (runner) => {
      await runner.run(statement, sink);
      if (runner.transactionStatus !== 'I') {
        await runner.rollback();
        throw new QueryError(
          SqlState.InvalidTransactionState,
          'a single statement may not leave a transaction open; send the statements as {"transaction": [...]}',
        );
      }
    });
  }

  async transaction(
    target: QueryTarget,
    statements: readonly Statement[],
    sinkFor: (index: number) => ResultSink,
    options: QueryOptions,
  ): Promise<void> {
    await this.withRunner(target, options, async (runner) => {
      await runner.run({ sql: 'BEGIN', params: [] }, DISCARD);
      const marker = randomBytes(16).toString('hex');
      await runner.run(markTransaction(marker), DISCARD);
      for (const [index, statement] of statements.entries()) {
        try {
          await runner.run(statement, sinkFor(index));
        } catch (err) {
          await runner.rollback();
          throw err instanceof QueryError ? err.withStatementIndex(index) : err;
        }
        if (runner.transactionStatus !== 'T' || (await endedTransaction(runner, marker))) {
          // COMMIT, ROLLBACK or the like inside the list: what follows would run outside it
          // (or, after COMMIT AND CHAIN, in a transaction of its own: HARD-17).
          await runner.rollback();
          throw new QueryError(
            SqlState.InvalidTransactionState,
            'a statement ended the transaction; leave BEGIN, COMMIT and ROLLBACK to {"transaction": [...]}',
            { statementIndex: index },
          );
        }
      }
      await runner.run({ sql: 'COMMIT', params: [] }, DISCARD);
    });
  }

  private async withRunner(
    target: QueryTarget,
    options: QueryOptions,
    work: (runner: StatementRunner) => Promise<void>,
  ): Promise<void> {
    const lease = await this.acquire(target);
    const runner = new StatementRunner(lease.connection, {
      limits: options.limits,
      signal: options.signal,
    });
    try {
      await work(runner);
    } finally {
      runner.finish();
      lease.release();
      this.observer.relayed?.(runner.bytesSent, runner.bytesReceived);
    }
  }

  /** The same connections, limits and failure mapping as a wire login. */
  private async acquire(target: QueryTarget): Promise<Lease> {
    const { endpoint, database, readOnly, name, poolSize, poolSizeReadAt } = target;
    const acquire = () =>
      acquireTenantConnection(
        this.pool,
        {
          endpoint,
          database,
          readOnly,
          databaseName: name,
          user: this.caller,
          settings: HTTP_SESSION_SETTINGS,
          shortLived: true,
          poolSize,
          poolSizeReadAt,
        },
        this.log,
      );
    try {
      return await (this.observer.acquire ? this.observer.acquire(target, acquire) : acquire());
    } catch (err) {
      if (err instanceof UpstreamUnavailableError) throw new QueryError(err.sqlstate, err.message);
      throw err;
    }
  }
}

/**
 * A transaction-local marker set right after BEGIN: `COMMIT AND CHAIN` and
 * `ROLLBACK AND CHAIN` leave the session in a new transaction (status `T`)
 * without it, while `ROLLBACK TO SAVEPOINT` (also tagged ROLLBACK) keeps it.
 * The value is random per request, so no default a tenant sets (ALTER
 * DATABASE ... SET) can stand in for it.
 */
const MARKER = 'postern.transaction';

/**
 * SET, not SELECT set_config(): a utility statement takes no snapshot, so SET
 * TRANSACTION (isolation level, READ WRITE) still works as the list's first
 * statement. SET takes no parameters; the value is hex.
 */
function markTransaction(value: string): Statement {
  return { sql: `SET LOCAL ${MARKER} = '${value}'`, params: [] };
}

/** Whether the statement just run ended the list's transaction though a transaction is open (HARD-17). */
async function endedTransaction(runner: StatementRunner, marker: string): Promise<boolean> {
  const command = runner.lastCommand;
  if (command === 'COMMIT') return true; // COMMIT AND CHAIN: nothing else is tagged COMMIT
  if (command !== 'ROLLBACK') return false;
  let current: unknown = null;
  await runner.run(
    { sql: `SELECT pg_catalog.current_setting('${MARKER}', true)`, params: [] },
    { fields() {}, row: ([value]) => void (current = value), complete() {} },
  );
  return current !== marker;
}
