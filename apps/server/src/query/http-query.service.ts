import {
  BadRequestException,
  ForbiddenException,
  HttpException,
  Inject,
  Injectable,
  InternalServerErrorException,
} from '@nestjs/common';
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import type { AccessLevel, DatabaseRecord } from '#control';
import {
  guardrailsFor,
  QueryError,
  QueryExecutor,
  type QueryLimits,
  type QueryTarget,
  type Statement,
} from '#engine';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { ClusterService } from '../engine/cluster.service';
import { PoolService } from '../engine/pool.service';
import { auditActor, type Actor } from '../identity/actor';
import { DatabaseCatalogService } from '../identity/database-catalog.service';
import { logSink } from '../logging';
import { PosternMetrics } from '../observability/metrics';
import { timedAcquire } from '../observability/pool-acquire';
import { NdjsonResultStream } from './ndjson-result-stream';
import {
  ResultCollector,
  type QueryResultView,
  type TransactionResultView,
} from './result-collector';
import { sqlErrorException, SqlErrorException } from './sql-error.exception';

export type QueryRequest =
  | { readonly kind: 'statement'; readonly statement: Statement }
  | { readonly kind: 'transaction'; readonly statements: readonly Statement[] };

/**
 * JSON answers are built in memory, so they have caps of their own where
 * the guardrails (POSTERN_MAX_RESULT_ROWS / _BYTES, or the database's own
 * limits) are off. NDJSON streams with backpressure and has only those.
 */
export const HTTP_JSON_DEFAULT_LIMITS = {
  maxResultRows: 10_000,
  maxResultBytes: 10 * 1024 * 1024,
} as const;

/** How much of a statement the audit log keeps (parameters never). */
const AUDITED_STATEMENT_LENGTH = 200;

interface Prepared {
  readonly database: DatabaseRecord;
  readonly level: AccessLevel;
  readonly target: QueryTarget;
}

/**
 * SQL over HTTP for an actor: the database must be visible (else 404) and
 * the actor must have a level on it, narrowed by an API token's scope and
 * maxLevel (else 403); read-only runs as the reader role, so PostgreSQL
 * itself refuses writes. Every request leaves an `http.query` event.
 */
@Injectable()
export class HttpQueryService {
  private readonly log = logSink('Query');

  constructor(
    @Inject(POSTERN_CONFIG) private readonly config: PosternConfig,
    private readonly cluster: ClusterService,
    private readonly catalog: DatabaseCatalogService,
    private readonly pool: PoolService,
    private readonly metrics: PosternMetrics,
  ) {}

  /**
   * An executor whose connections count against the actor's share of the
   * pools and of the upstream budget, refused with the limit's name (HARD-06);
   * its acquires and protocol bytes are counted as the wire's are.
   */
  private executorFor(actor: Actor): QueryExecutor {
    const { metrics } = this;
    return new QueryExecutor(this.pool, actor, this.log, {
      acquire: (target, acquire) =>
        timedAcquire(
          metrics,
          { database: target.name, level: target.readOnly ? 'read-only' : 'read-write' },
          acquire,
        ),
      relayed: (sent, received) => {
        metrics.relayed('http', 'client_to_upstream', sent);
        metrics.relayed('http', 'upstream_to_client', received);
      },
    });
  }

  /** Runs the request and answers the whole result as JSON. */
  async execute(
    actor: Actor,
    owner: string,
    name: string,
    request: QueryRequest,
    signal: AbortSignal,
  ): Promise<QueryResultView | TransactionResultView> {
    const prepared = await this.prepare(actor, owner, name);
    const options = { limits: this.limits('json', prepared.database), signal };
    const executor = this.executorFor(actor);
    try {
      if (request.kind === 'statement') {
        const collector = new ResultCollector();
        await executor.statement(prepared.target, request.statement, collector, options);
        const view = collector.view();
        this.metrics.relayed('http', 'upstream_to_client', 0, view.rows.length);
        await this.audit(actor, prepared, request, 'json', null, view.rowCount);
        return view;
      }
      const collectors = request.statements.map(() => new ResultCollector());
      await executor.transaction(
        prepared.target,
        request.statements,
        (i) => collectors[i]!,
        options,
      );
      await this.audit(actor, prepared, request, 'json', null, null);
      const results = collectors.map((c) => c.view());
      const rows = results.reduce((sum, view) => sum + view.rows.length, 0);
      this.metrics.relayed('http', 'upstream_to_client', 0, rows);
      return { results };
    } catch (err) {
      this.countGuardrail(err, 'json', prepared.database);
      const error = this.httpError(err);
      await this.audit(actor, prepared, request, 'json', error, null);
      throw error;
    }
  }

  /**
   * Runs one statement and resolves with its NDJSON stream once the first
   * line is due; an error before that is thrown like any other.
   */
  async stream(
    actor: Actor,
    owner: string,
    name: string,
    request: QueryRequest,
    signal: AbortSignal,
  ): Promise<Readable> {
    if (request.kind !== 'statement') {
      throw new BadRequestException(
        'NDJSON streams one statement; send a transaction with Accept: application/json',
      );
    }
    const prepared = await this.prepare(actor, owner, name);
    const stop = new AbortController();
    signal.addEventListener('abort', () => stop.abort(), { once: true });
    const stream = new NdjsonResultStream(() => stop.abort());
    const options = { limits: this.limits('ndjson', prepared.database), signal: stop.signal };
    void this.executorFor(actor)
      .statement(prepared.target, request.statement, stream, options)
      .then(
        () => {
          stream.succeed();
          this.metrics.relayed('http', 'upstream_to_client', 0, stream.rows);
          return this.audit(actor, prepared, request, 'ndjson', null, null);
        },
        (err: unknown) => {
          this.metrics.relayed('http', 'upstream_to_client', 0, stream.rows);
          this.countGuardrail(err, 'ndjson', prepared.database);
          const error = this.httpError(err);
          stream.fail(error, errorBody(error));
          return this.audit(actor, prepared, request, 'ndjson', error, null);
        },
      );
    await stream.ready;
    return stream;
  }

  private async prepare(actor: Actor, owner: string, name: string): Promise<Prepared> {
    const { database, level } = await this.catalog.visible(actor, owner, name);
    if (level === null) {
      // A site admin sees every database, but reads its data only with a grant like anyone.
      throw new ForbiddenException('querying a database needs access of your own (a grant)');
    }
    const target: QueryTarget = {
      endpoint: this.cluster.endpoint,
      database,
      readOnly: level === 'read-only',
      name: `${database.ownerSlug}/${database.name}`,
      poolSize: database.limits.poolSize,
      poolSizeReadAt: database.limitsReadAt,
    };
    return { database, level, target };
  }

  /** The wire path's guardrails (global, overridden by the database's own), plus the JSON caps. */
  private limits(mode: 'json' | 'ndjson', database: DatabaseRecord): QueryLimits {
    const { maxResultRows, maxResultBytes, statementTimeoutMs } = guardrailsFor(
      this.config.guardrails,
      database.limits,
    );
    // One row is held whole while it is decoded and written, whatever the mode (HARD-08).
    const maxRowBytes = this.config.httpMaxRowBytes;
    if (mode === 'ndjson') {
      return { maxResultRows, maxResultBytes, statementTimeoutMs, maxRowBytes };
    }
    return {
      maxResultRows: maxResultRows || HTTP_JSON_DEFAULT_LIMITS.maxResultRows,
      maxResultBytes: maxResultBytes || HTTP_JSON_DEFAULT_LIMITS.maxResultBytes,
      statementTimeoutMs,
      maxRowBytes,
    };
  }

  /**
   * A request a guardrail stopped, by kind: the configured (or database) limits as on the
   * wire, `http_result_cap` for the JSON answer's own caps (no row/byte limit set),
   * `http_max_row_bytes` for one row too large to convert.
   */
  private countGuardrail(err: unknown, mode: 'json' | 'ndjson', database: DatabaseRecord): void {
    const guardrail = err instanceof QueryError ? err.fields.guardrail : undefined;
    if (!guardrail) return;
    if (guardrail === 'statement_timeout' || guardrail === 'row') {
      this.metrics.guardrail(
        'http',
        guardrail === 'row' ? 'http_max_row_bytes' : 'statement_timeout',
      );
      return;
    }
    const configured = guardrailsFor(this.config.guardrails, database.limits);
    const limit = guardrail === 'rows' ? configured.maxResultRows : configured.maxResultBytes;
    const cap = mode === 'json' && limit === 0;
    this.metrics.guardrail(
      'http',
      cap ? 'http_result_cap' : guardrail === 'rows' ? 'max_result_rows' : 'max_result_bytes',
    );
  }

  /** SQL errors keep PostgreSQL's text (the tenant's own statement); anything else is logged, not shown. */
  private httpError(err: unknown): Error {
    if (err instanceof QueryError) return sqlErrorException(err);
    if (err instanceof HttpException) return err;
    this.log.error(`HTTP query failed: ${(err as Error)?.stack ?? String(err)}`);
    return new InternalServerErrorException('internal server error');
  }

  private async audit(
    actor: Actor,
    { database, level }: Prepared,
    request: QueryRequest,
    format: 'json' | 'ndjson',
    error: Error | null,
    rowCount: number | null,
  ): Promise<void> {
    const statements = request.kind === 'statement' ? [request.statement] : request.statements;
    const text = statements.map((s) => s.sql).join('; ');
    await this.cluster.control.audit
      .record({
        kind: 'http.query',
        outcome: error ? 'failure' : 'success',
        ...auditActor(actor),
        databaseId: database.id,
        database: `${database.ownerSlug}/${database.name}`,
        detail: {
          statement:
            text.length > AUDITED_STATEMENT_LENGTH
              ? `${text.slice(0, AUDITED_STATEMENT_LENGTH)}…`
              : text,
          statements: statements.length,
          level,
          format,
          rowCount,
          // Only the SQLSTATE: PostgreSQL's messages may quote parameter values.
          sqlstate: error instanceof SqlErrorException ? error.sqlFields.sqlstate : null,
          status: error instanceof HttpException ? error.getStatus() : null,
        },
      })
      .catch((err: Error) => this.log.warn(`audit write failed: ${err.message}`));
  }
}

/** The API's error shape for the last line of a stream. */
function errorBody(error: Error): Record<string, unknown> {
  if (error instanceof SqlErrorException) return error.body();
  const statusCode = error instanceof HttpException ? error.getStatus() : 500;
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message: error.message };
}
