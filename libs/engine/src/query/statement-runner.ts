import { serialize } from 'pg-protocol';
import {
  BackendType,
  parseErrorFields,
  parseParameterStatus,
  parseReadyForQuery,
  PgError,
  SqlState,
  type TransactionStatus,
} from '#wire';
import {
  resultLimitMessage,
  ResultMeter,
  STATEMENT_TIMEOUT_MESSAGE,
  type Guardrails,
  type ResultLimit,
} from '../guardrails';
import type { FramedSocket } from '../net/framed-socket';
import type { UpstreamConnection } from '../upstream/upstream-connection';
import { parameterText, type Statement } from './parameters';
import { QueryError } from './query-error';
import {
  parseCommandComplete,
  parseDataRow,
  parseRowDescription,
  type CommandSummary,
  type ResultField,
} from './result-messages';
import { decoderFor, type JsonValue, type ValueDecoder } from './value-decoders';

/**
 * The guardrails of one request (the wire's, plus a per-row cap); 0 turns
 * one off. Rows and bytes count over the whole request.
 */
export interface QueryLimits extends Pick<
  Guardrails,
  'statementTimeoutMs' | 'maxResultRows' | 'maxResultBytes'
> {
  /**
   * Largest single DataRow (or CopyData) accepted, checked from the message
   * length before anything is buffered (HARD-08); 0 or absent: none.
   */
  readonly maxRowBytes?: number;
}

/**
 * Where results go. A promise from `row` means "wait": the runner reads
 * nothing more from PostgreSQL until it settles, so a slow consumer holds
 * PostgreSQL back instead of filling the gateway's memory.
 */
export interface ResultSink {
  fields(fields: readonly ResultField[]): void;
  row(values: JsonValue[]): void | Promise<void>;
  complete(summary: CommandSummary): void;
}

export interface RunnerOptions {
  readonly limits: QueryLimits;
  /** Aborted when the HTTP client went away: the statement is cancelled, the session closed. */
  readonly signal?: AbortSignal;
}

/** Largest frame read while a byte limit applies: one DataRow may not exceed the limit either. */
const MAX_FRAME = 1 << 30;

/** Discards a result (BEGIN, COMMIT, ROLLBACK). */
export const DISCARD: ResultSink = { fields() {}, row() {}, complete() {} };

/**
 * Runs statements on one upstream connection with the extended protocol:
 * Parse (unnamed), Bind (text parameters, text results), Describe, Execute,
 * Sync; then reads up to ReadyForQuery. One Parse holds one statement:
 * PostgreSQL itself refuses several (42601). Guardrails as on the wire:
 * statement timeout and row/byte limits cancel the statement through the
 * connection, which is then never reused (a late cancel could hit someone
 * else's statement). The connection keeps the protocol state; the runner
 * only reports what it saw.
 */
export class StatementRunner {
  private readonly framed: FramedSocket;
  /** The frame reader's length cap, and which guardrail it stands for. */
  private readonly frameCap: FrameCap;
  /** The command tag of the last statement that completed (COMMIT, INSERT, ...). */
  private command: string | null = null;
  private readonly meter: ResultMeter;
  private aborted = false;
  private readonly onAbort = () => this.abort();
  /** Protocol bytes written to PostgreSQL and read from it (`postern_relayed_bytes_total`). */
  bytesSent = 0;
  bytesReceived = 0;

  constructor(
    private readonly connection: UpstreamConnection,
    private readonly options: RunnerOptions,
  ) {
    this.frameCap = frameCapOf(options.limits);
    this.meter = new ResultMeter(options.limits);
    this.framed = connection.framed(this.frameCap.length);
    if (options.signal?.aborted) this.abort();
    else options.signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  get transactionStatus(): TransactionStatus {
    return this.connection.transactionStatus;
  }

  private get broken(): boolean {
    return this.connection.state === 'broken';
  }

  /**
   * The last statement's command tag: `COMMIT AND CHAIN` leaves the session
   * in a (new) transaction, so only the tag tells that it ended one.
   */
  get lastCommand(): string | null {
    return this.command;
  }

  /** Runs one statement; throws a QueryError after ReadyForQuery (or when the session is gone). */
  async run(statement: Statement, sink: ResultSink): Promise<void> {
    // A guardrail's cancel must have reached PostgreSQL before the next statement starts.
    await this.connection.pendingCancel;
    if (this.broken) throw this.stoppedError();
    if (statement.sql.includes('\0')) {
      throw new QueryError(
        SqlState.CharacterNotInRepertoire,
        'the statement contains a NUL character',
      );
    }
    this.send(
      Buffer.concat([
        serialize.parse({ text: statement.sql }),
        serialize.bind({ values: statement.params.map(parameterText) }),
        serialize.describe({ type: 'P' }),
        serialize.execute(),
        serialize.sync(),
      ]),
    );
    this.connection.sent();
    const execution = new Execution();
    this.command = null;
    const { statementTimeoutMs } = this.options.limits;
    const timer =
      statementTimeoutMs > 0
        ? setTimeout(() => {
            execution.timedOut = true;
            this.cancel();
          }, statementTimeoutMs)
        : null;
    try {
      await this.readResult(execution, sink);
    } catch (err) {
      // Stopped mid-answer (a malformed message, a failing sink): the session's state is unknown.
      this.connection.discard();
      if (err instanceof PgError) throw new QueryError(err.sqlstate, err.message);
      throw err;
    } finally {
      if (timer) clearTimeout(timer);
    }
    if (execution.error) throw execution.error;
  }

  /** Ends an open transaction; a broken or cancelled session is closed instead, which ends it too. */
  async rollback(): Promise<void> {
    const { connection } = this;
    if (connection.transactionStatus === 'I' || this.broken || connection.everCancelled) return;
    await this.run({ sql: 'ROLLBACK', params: [] }, DISCARD).catch(() => undefined);
  }

  /** Stops watching the request; the connection itself says whether it may be reused. */
  finish(): void {
    this.options.signal?.removeEventListener('abort', this.onAbort);
  }

  private async readResult(execution: Execution, sink: ResultSink): Promise<void> {
    let decoders: ValueDecoder[] = [];
    for (;;) {
      const { type, body } = await this.nextMessage(execution);
      switch (type) {
        case BackendType.RowDescription: {
          const fields = parseRowDescription(body);
          decoders = fields.map((field) => decoderFor(field.dataTypeID));
          sink.fields(fields);
          break;
        }
        case BackendType.DataRow: {
          if (!this.withinLimits(execution, body.length + 5)) break;
          const pending = sink.row(decodeRow(parseDataRow(body), decoders));
          if (pending) await pending;
          break;
        }
        case BackendType.CommandComplete: {
          const summary = parseCommandComplete(body);
          this.command = summary.command;
          if (!execution.truncated) sink.complete(summary);
          break;
        }
        case BackendType.EmptyQueryResponse:
          sink.complete({ command: null, rowCount: null });
          break;
        case BackendType.ErrorResponse:
          execution.fail(QueryError.fromFields(parseErrorFields(body)), this.options.limits);
          break;
        case BackendType.ParameterStatus:
          this.parameterChanged(execution, parseParameterStatus(body));
          break;
        case BackendType.CopyInResponse:
          // Sync is ignored during COPY IN; after CopyFail PostgreSQL waits for another.
          execution.refuse('COPY FROM STDIN is not available over HTTP');
          this.connection.copy('copy-in');
          this.send(
            Buffer.concat([serialize.copyFail('not available over HTTP'), serialize.sync()]),
          );
          break;
        case BackendType.CopyOutResponse:
          execution.refuse('COPY TO STDOUT is not available over HTTP; use SELECT');
          this.connection.copy('copy-out');
          this.cancel();
          break;
        case BackendType.ReadyForQuery:
          this.connection.ready(parseReadyForQuery(body));
          return;
        case BackendType.ParseComplete:
        case BackendType.BindComplete:
        case BackendType.CloseComplete:
        case BackendType.NoData:
        case BackendType.PortalSuspended:
        case BackendType.CopyData:
        case BackendType.CopyDone:
        case BackendType.NoticeResponse:
        case BackendType.NotificationResponse:
          break;
        default:
          this.connection.discard();
          throw new QueryError(
            SqlState.ProtocolViolation,
            `unexpected message "${String.fromCharCode(type)}" from the database server`,
          );
      }
    }
  }

  private send(messages: Buffer): void {
    this.bytesSent += messages.length;
    this.framed.write(messages);
  }

  private async nextMessage(execution: Execution): Promise<{ type: number; body: Buffer }> {
    try {
      const message = await this.framed.nextMessage();
      this.bytesReceived += message.body.length + 5;
      return message;
    } catch (err) {
      this.connection.discard();
      if (this.aborted) throw this.stoppedError();
      if (err instanceof PgError && this.frameCap.kind) {
        // A single message above the frame cap: only a row (or COPY data) gets that large.
        this.cancel();
        throw execution.limitError(this.frameCap.kind, this.options.limits);
      }
      throw execution.error ?? this.stoppedError();
    }
  }

  /** Counts a row; past a limit the statement is cancelled and further rows are dropped. */
  private withinLimits(execution: Execution, size: number): boolean {
    if (this.meter.count(size)) return true;
    if (execution.truncated) return false;
    execution.truncated = this.meter.exceeded;
    execution.error = execution.limitError(execution.truncated!, this.options.limits);
    this.cancel();
    return false;
  }

  /** Values are decoded as UTF-8: a statement must not switch the session to another encoding. */
  private parameterChanged(execution: Execution, [name, value]: [string, string]): void {
    if (name === 'client_encoding' && value.toUpperCase() !== 'UTF8') {
      // Not worth a reset: the connection is closed when given back.
      this.connection.discard();
      execution.error ??= new QueryError(
        SqlState.FeatureNotSupported,
        'client_encoding must stay UTF8 over HTTP',
      );
    }
  }

  private cancel(): void {
    void this.connection.cancel();
  }

  /** The HTTP client is gone: stop PostgreSQL's work and close the session. */
  private abort(): void {
    this.aborted = true;
    // The cancel goes out first; closing right away also ends a statement stuck waiting to send.
    void this.connection.cancel().then(() => this.connection.discard());
  }

  private stoppedError(): QueryError {
    return this.aborted
      ? new QueryError(SqlState.QueryCanceled, 'canceling statement: the HTTP client went away')
      : new QueryError(SqlState.ConnectionFailure, 'the database server closed the connection');
  }
}

/** What one statement's answer has brought so far. */
class Execution {
  error: QueryError | null = null;
  truncated: ResultLimit | null = null;
  timedOut = false;

  /** The first error counts; a guardrail's own cancellation is reported as the guardrail. */
  fail(error: QueryError, limits: QueryLimits): void {
    if (this.truncated || this.error) return;
    if (error.sqlstate === SqlState.QueryCanceled && this.timedOut) {
      this.error = new QueryError(SqlState.QueryCanceled, STATEMENT_TIMEOUT_MESSAGE, {
        hint: `Statements may run for ${limits.statementTimeoutMs} ms.`,
        guardrail: 'statement_timeout',
      });
      return;
    }
    this.error = error;
  }

  refuse(message: string): void {
    this.error ??= new QueryError(SqlState.FeatureNotSupported, message);
  }

  limitError(kind: ResultLimit | 'row', limits: QueryLimits): QueryError {
    if (kind === 'row') {
      return new QueryError(
        SqlState.ProgramLimitExceeded,
        `a row exceeds the limit of ${limits.maxRowBytes} bytes per row over HTTP`,
        {
          hint: 'Select less of the value (e.g. substring), or read it over the wire protocol.',
          guardrail: 'row',
        },
      );
    }
    return new QueryError(SqlState.ProgramLimitExceeded, resultLimitMessage(kind, limits), {
      hint: 'Add a LIMIT, or fetch the result in parts.',
      guardrail: kind,
    });
  }
}

interface FrameCap {
  readonly length: number;
  /** The guardrail a longer message breaks; null: only the protocol's own maximum. */
  readonly kind: 'row' | 'bytes' | null;
}

/**
 * The frame reader refuses a message longer than this before buffering it:
 * the per-row cap, or the byte limit (one DataRow may not exceed it either),
 * whichever is smaller.
 */
function frameCapOf({ maxResultBytes: maxBytes, maxRowBytes = 0 }: QueryLimits): FrameCap {
  const row: FrameCap | null =
    maxRowBytes > 0 ? { length: Math.min(MAX_FRAME, maxRowBytes + 4), kind: 'row' } : null;
  const bytes: FrameCap | null =
    maxBytes > 0
      ? { length: Math.min(MAX_FRAME, Math.max(maxBytes + 64, 1 << 20)), kind: 'bytes' }
      : null;
  if (row && (!bytes || row.length <= bytes.length)) return row;
  return bytes ?? { length: MAX_FRAME, kind: null };
}

function decodeRow(values: Array<string | null>, decoders: readonly ValueDecoder[]): JsonValue[] {
  const row: JsonValue[] = new Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const text = values[i];
    row[i] = text === null || text === undefined ? null : (decoders[i] ?? String)(text);
  }
  return row;
}
