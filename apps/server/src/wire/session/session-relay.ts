import type { Duplex } from 'node:stream';
import {
  resultLimitMessage,
  ResultMeter,
  STATEMENT_TIMEOUT_MESSAGE,
  type RelayUpstream,
} from '#engine';
import {
  BackendType as BE,
  errorResponse,
  FrontendType as FE,
  MessageSplitter,
  parseErrorFields,
  PgError,
  SqlState,
  type TransactionStatus,
  type Verdict,
} from '#wire';
import type { SessionState } from '../../sessions/live-sessions.service';
import { frontendLengthLimit, HOLD_UP_TO, type RelayLimits } from './relay-limits';
import type { StatementAudit } from './statement-audit';

/** How a relayed session ended (the session-end log line). */
export type RelayEnding =
  | 'client_terminate'
  | 'client_disconnect'
  | 'upstream_closed'
  | 'timeout'
  | 'shutdown'
  | 'protocol_error';

/** What a session did, for its end line: counted as it went, never its statements' text. */
export interface RelaySummary {
  readonly statements: number;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly rows: number;
  readonly ending: RelayEnding;
  /** The SQLSTATE the client was sent with the end (a FATAL), if any. */
  readonly sqlstate: string | null;
}

export type RelayGuardrail =
  | 'statement_timeout'
  | 'max_result_rows'
  | 'max_result_bytes'
  | 'idle_in_transaction_timeout'
  | 'idle_session_timeout';

/** Where the relay reports traffic as it passes (Prometheus); each call is a few counter adds. */
export interface RelayObserver {
  relayed(
    direction: 'client_to_upstream' | 'upstream_to_client',
    bytes: number,
    rows: number,
  ): void;
  /** A statement (up to its ReadyForQuery, pipelined ones together) took `seconds`. */
  statementEnded(seconds: number, ok: boolean): void;
  guardrail(kind: RelayGuardrail): void;
}

export interface RelayHooks {
  /**
   * The session is over. The upstream connection was discarded unless it
   * was left idle; whether it may serve another client is its own call
   * (`UpstreamConnection.reusable`).
   */
  ended(summary: RelaySummary): void;
  observer?: RelayObserver;
  /** A statement the client sent (for GET /sessions). */
  statement?(text: string): void;
  /** The session started a statement, or went idle after one (pg_stat_activity's `state`). */
  state?(state: SessionState): void;
  /** Follows statements for the audit log; fed the messages around them, never DataRows. */
  audit?: Pick<StatementAudit, 'client' | 'clientLarge' | 'upstream' | 'end'>;
  /**
   * A NotificationResponse on its way (its sender pid, for a client told a
   * pid of the gateway's); absent, it passes unchanged: a client told its
   * backend's own pid knows it.
   */
  notification?(frame: Buffer): Verdict;
}

/**
 * `relaying`; `holding`: a guardrail's cancel is on its way and client
 * bytes are held back, so that it cannot hit the next statement; `ended`.
 */
type RelayPhase = 'relaying' | 'holding' | 'ended';

/** How long a client told to go may take to read its last message before the socket is closed. */
const CLIENT_CLOSE_GRACE_MS = 1000;

const IDLE_STATES: Record<TransactionStatus, SessionState> = {
  I: 'idle',
  T: 'idle in transaction',
  E: 'idle in transaction (aborted)',
};

/**
 * Relays one authenticated session message by message. Bytes pass through
 * unchanged except where a guardrail acts; what it watches: ReadyForQuery
 * (transaction state, statement end), DataRow and COPY OUT's CopyData (row
 * and byte limits), COPY state, ErrorResponse (guardrail errors, FATAL), Terminate (pool return).
 * The protocol state (idle, busy, in a transaction, COPY) is the upstream
 * connection's; the relay reports what passes and counts pipelined
 * statements. Backpressure both ways: a side that cannot keep up pauses the other.
 */
export class SessionRelay {
  private readonly fromClient: MessageSplitter;
  private readonly fromUpstream: MessageSplitter;
  private readonly upstream: Duplex;
  private phase: RelayPhase = 'relaying';
  /** Query/Sync/FunctionCall messages sent that still await their ReadyForQuery. */
  private awaitingReady = 0;
  /**
   * Extended-query messages sent since the last Sync: the upstream is inside
   * an implicit transaction, or skipping to the next Sync after an error, and
   * would swallow the pool's reset (FUZZ-02). Counted in the order the client
   * sent them, not from ReadyForQuery, which may answer an earlier Sync.
   */
  private unsynced = false;
  /** The client sent Terminate: the session ends once what came before it is forwarded. */
  private terminated = false;
  /** The upstream sent a FATAL (or PANIC): its close is expected. */
  private upstreamFatal = false;
  private readonly held: Buffer[] = [];
  private readonly meter: ResultMeter;
  private statementTimedOut = false;
  /** When the statements now awaiting their ReadyForQuery started, and whether one failed. */
  private statementStartedAt = 0;
  private statementFailed = false;
  private readonly tally = { statements: 0, bytesFromClient: 0, bytesToClient: 0, rows: 0 };
  /** Rows forwarded in the chunks not yet written to the client. */
  private rowsUnsent = 0;
  private ending: RelayEnding = 'client_disconnect';
  private endingSqlstate: string | null = null;
  private statementTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  /** Ours, so that a reusable upstream connection goes back to the pool without them. */
  private readonly upstreamListeners: Array<[string, (value?: unknown) => void]> = [
    ['data', (chunk) => this.onUpstreamData(chunk as Buffer)],
    ['drain', () => this.client.resume()],
    ['end', () => this.upstreamGone()],
    ['close', () => this.upstreamGone()],
    ['error', () => this.upstreamGone()],
  ];

  constructor(
    private readonly client: Duplex,
    private readonly connection: RelayUpstream,
    private readonly limits: RelayLimits,
    private readonly hooks: RelayHooks,
  ) {
    this.upstream = connection.socket;
    this.meter = new ResultMeter(limits);
    this.fromClient = new MessageSplitter(
      {
        message: (type, frame) => this.clientMessage(type, frame),
        largeMessage: (type) => this.clientLarge(type),
      },
      { holdUpTo: HOLD_UP_TO, maxLength: frontendLengthLimit(limits) },
    );
    this.fromUpstream = new MessageSplitter(
      {
        message: (type, frame) => this.upstreamMessage(type, frame),
        largeMessage: (type, length) => this.upstreamLarge(type, length),
      },
      { holdUpTo: HOLD_UP_TO, maxLength: () => 0x7fffffff },
    );
  }

  /** Starts relaying; `pipelined` are client bytes that arrived with its last login message. */
  start(pipelined: Buffer): void {
    const readAhead = this.connection.takeStream();
    this.client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    this.client.on('drain', () => this.upstream.resume());
    for (const event of ['end', 'close', 'error'] as const)
      this.client.on(event, () => this.clientGone());
    for (const [event, listener] of this.upstreamListeners) this.upstream.on(event, listener);
    this.armIdleTimer();
    if (readAhead.length > 0) this.onUpstreamData(readAhead);
    if (pipelined.length > 0) this.onClientData(pipelined);
    // A client that hung up while it was logging in sent its EOF before these
    // listeners: without this its upstream connection would be held forever (FUZZ-04).
    if (this.client.readableEnded || this.client.destroyed) {
      this.clientGone();
      return;
    }
    this.client.resume();
    this.upstream.resume();
  }

  /**
   * Ends the session from the gateway's side with a FATAL, between messages
   * (idle timeouts, shutdown): only called while no query is in flight.
   */
  endWith(error: PgError): void {
    if (this.phase === 'ended') return;
    this.ending =
      error.sqlstate === SqlState.IdleInTransactionSessionTimeout ||
      error.sqlstate === SqlState.IdleSessionTimeout
        ? 'timeout'
        : 'shutdown';
    this.endingSqlstate = error.sqlstate;
    this.client.end(errorResponse(error));
    this.finish(this.isIdle());
  }

  /** Idle between statements, outside a transaction and COPY, no partial message either way. */
  isIdle(): boolean {
    return (
      this.awaitingReady === 0 &&
      !this.unsynced &&
      this.connection.state === 'idle' &&
      this.fromClient.atBoundary &&
      this.fromUpstream.atBoundary
    );
  }

  // ---- client -> upstream ----

  private onClientData(chunk: Buffer): void {
    if (this.phase === 'ended') return;
    if (this.phase === 'holding') {
      // A guardrail's cancel must not hit the next statement: hold it back.
      this.held.push(chunk);
      this.client.pause();
      return;
    }
    let out: Buffer[];
    try {
      out = this.fromClient.push(chunk);
    } catch (err) {
      this.protocolError(err);
      return;
    }
    this.send(this.upstream, this.client, out);
    if (this.terminated) this.clientGone();
  }

  private clientMessage(type: number, frame: Buffer): Verdict {
    this.clearIdleTimer();
    this.hooks.audit?.client(type, frame);
    switch (type) {
      case FE.Terminate:
        this.terminated = true;
        return 'drop'; // the upstream connection outlives this client
      case FE.Query:
        this.statementText(frame);
        this.expectReady();
        break;
      case FE.Parse:
        this.statementText(frame);
        this.unsynced = true;
        break;
      case FE.Bind:
      case FE.Describe:
      case FE.Close:
      case FE.Flush:
        this.unsynced = true;
        break;
      case FE.Sync:
        this.unsynced = false;
        this.expectReady();
        break;
      case FE.FunctionCall:
        this.expectReady();
        break;
      case FE.Execute:
        this.unsynced = true;
        this.startStatementTimer();
        break;
      case FE.CopyDone:
      case FE.CopyFail:
        this.connection.copyEnded('copy-in');
        break;
    }
    return 'forward';
  }

  private clientLarge(type: number): 'forward' {
    this.clearIdleTimer();
    this.hooks.audit?.clientLarge(type);
    if (type === FE.Query || type === FE.FunctionCall) this.expectReady();
    if (type === FE.Parse || type === FE.Bind) this.unsynced = true;
    return 'forward';
  }

  private expectReady(): void {
    if (this.awaitingReady === 0) {
      this.statementStartedAt = performance.now();
      this.statementFailed = false;
    }
    this.awaitingReady++;
    this.tally.statements++;
    this.connection.sent();
    this.startStatementTimer();
    this.hooks.state?.('active');
  }

  private statementText(frame: Buffer): void {
    if (!this.hooks.statement) return;
    // Query: text right after the header; Parse: after the statement name.
    const start = frame[0] === FE.Parse ? frame.indexOf(0, 5) + 1 : 5;
    const end = frame.indexOf(0, start);
    this.hooks.statement(
      frame.toString(
        'utf8',
        start,
        end < 0 ? Math.min(frame.length, start + 1024) : Math.min(end, start + 1024),
      ),
    );
  }

  // ---- upstream -> client ----

  private onUpstreamData(chunk: Buffer): void {
    if (this.phase === 'ended') return;
    let out: Buffer[];
    try {
      out = this.fromUpstream.push(chunk);
    } catch {
      this.client.destroy();
      this.finish(false);
      return;
    }
    this.send(this.client, this.upstream, out);
  }

  private upstreamMessage(type: number, frame: Buffer): Verdict {
    switch (type) {
      case BE.DataRow:
        return this.countRow(frame.length);
      case BE.CopyData:
        // COPY TO STDOUT is a result too: each CopyData counts as a row (HARD-12).
        return this.connection.state === 'copy-out' ? this.countRow(frame.length) : 'forward';
      case BE.CommandComplete:
        return this.audited(frame, this.statementResult(null));
      case BE.ErrorResponse:
        return this.audited(frame, this.statementResult(frame));
      case BE.ParseComplete:
      case BE.BindComplete:
      case BE.EmptyQueryResponse:
      case BE.PortalSuspended:
        this.hooks.audit?.upstream(type, frame);
        break;
      case BE.NotificationResponse:
        return this.hooks.notification?.(frame) ?? 'forward';
      case BE.ReadyForQuery: {
        this.hooks.audit?.upstream(type, frame);
        const status = String.fromCharCode(frame[5]!) as TransactionStatus;
        this.connection.ready(status);
        this.awaitingReady = Math.max(0, this.awaitingReady - 1);
        if (this.awaitingReady > 0) {
          this.connection.sent(); // pipelined statements are still on their way
        } else {
          this.stopStatementTimer();
          this.armIdleTimer();
          this.hooks.state?.(IDLE_STATES[status]);
          this.hooks.observer?.statementEnded(
            (performance.now() - this.statementStartedAt) / 1000,
            !this.statementFailed,
          );
        }
        break;
      }
      case BE.CopyInResponse:
        this.connection.copy('copy-in');
        break;
      case BE.CopyOutResponse:
        this.connection.copy('copy-out');
        break;
      case BE.CopyBothResponse:
        this.connection.copy('copy-both');
        break;
      case BE.CopyDone:
        this.connection.copyEnded('copy-out');
        break;
    }
    return 'forward';
  }

  private upstreamLarge(type: number, length: number): 'forward' | 'drop' {
    const isRow =
      type === BE.DataRow || (type === BE.CopyData && this.connection.state === 'copy-out');
    if (!isRow) return 'forward';
    return this.countRow(length + 1) === 'drop' ? 'drop' : 'forward';
  }

  /** Row and byte guardrails: past a limit, rows are dropped and the statement cancelled. */
  private countRow(size: number): Verdict {
    if (this.meter.count(size)) {
      this.tally.rows++;
      this.rowsUnsent++;
      return 'forward';
    }
    if (this.phase === 'relaying') {
      this.hooks.observer?.guardrail(
        this.meter.exceeded === 'rows' ? 'max_result_rows' : 'max_result_bytes',
      );
    }
    this.cancel(); // once per statement: the meter stays exceeded until its end
    return 'drop';
  }

  /**
   * The end of one statement's result: counters reset, and a result cut by
   * a guardrail ends in the gateway's error instead of the upstream's
   * cancellation (or completion, if the cancel came too late).
   */
  private statementResult(errorFrame: Buffer | null): Verdict {
    const truncated = this.meter.exceeded;
    this.meter.reset();
    if (errorFrame) {
      this.statementFailed = true;
      const fields = parseErrorFields(errorFrame.subarray(5));
      if (fields.S === 'FATAL' || fields.S === 'PANIC') {
        this.upstreamFatal = true;
        this.endingSqlstate = fields.C ?? null;
      }
      if (fields.C === SqlState.QueryCanceled && this.statementTimedOut && !truncated) {
        this.statementTimedOut = false;
        return errorResponse(
          new PgError(SqlState.QueryCanceled, STATEMENT_TIMEOUT_MESSAGE, { severity: 'ERROR' }),
        );
      }
    }
    if (!truncated) return 'forward';
    this.statementFailed = true; // the client gets 54000, whatever PostgreSQL answered
    return errorResponse(
      new PgError(SqlState.ProgramLimitExceeded, resultLimitMessage(truncated, this.limits), {
        severity: 'ERROR',
        hint: 'Add a LIMIT, or fetch the result in parts with a cursor.',
      }),
    );
  }

  /** The audit sees the result the client gets: a guardrail's error rather than PostgreSQL's. */
  private audited(frame: Buffer, verdict: Verdict): Verdict {
    const audit = this.hooks.audit;
    if (audit) {
      const seen = typeof verdict === 'string' ? frame : verdict;
      audit.upstream(seen[0]!, seen);
    }
    return verdict;
  }

  // ---- guardrail timers ----

  private startStatementTimer(): void {
    if (this.statementTimer || this.limits.statementTimeoutMs <= 0) return;
    this.statementTimer = setTimeout(() => {
      this.statementTimedOut = true;
      this.hooks.observer?.guardrail('statement_timeout');
      this.cancel();
    }, this.limits.statementTimeoutMs);
  }

  private stopStatementTimer(): void {
    if (this.statementTimer) clearTimeout(this.statementTimer);
    this.statementTimer = null;
    this.statementTimedOut = false;
  }

  private armIdleTimer(): void {
    this.clearIdleTimer();
    if (this.phase === 'ended') return;
    const inTransaction = this.connection.transactionStatus !== 'I';
    const ms = inTransaction
      ? this.limits.idleInTransactionTimeoutMs
      : this.limits.idleSessionTimeoutMs;
    if (ms <= 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.awaitingReady > 0) return;
      this.hooks.observer?.guardrail(
        inTransaction ? 'idle_in_transaction_timeout' : 'idle_session_timeout',
      );
      this.endWith(
        inTransaction
          ? new PgError(
              SqlState.IdleInTransactionSessionTimeout,
              'terminating connection due to idle-in-transaction timeout',
            )
          : new PgError(
              SqlState.IdleSessionTimeout,
              'terminating connection due to idle-session timeout',
            ),
      );
    }, ms);
  }

  private clearIdleTimer(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  /**
   * A guardrail's cancel: client bytes are held back until PostgreSQL took
   * it, so that it cannot hit the next statement.
   */
  private cancel(): void {
    if (this.phase !== 'relaying') return;
    this.phase = 'holding';
    void this.connection.cancel().then(() => {
      if (this.phase !== 'holding') return;
      this.phase = 'relaying';
      const held = this.held.splice(0);
      for (const chunk of held) this.onClientData(chunk);
      if (this.phase === 'relaying') this.client.resume();
    });
  }

  // ---- plumbing ----

  private send(to: Duplex, from: Duplex, chunks: Buffer[]): void {
    let flowing = true;
    let bytes = 0;
    for (const chunk of chunks) {
      bytes += chunk.length;
      flowing = to.write(chunk) && flowing;
    }
    if (!flowing) from.pause();
    if (to === this.upstream) {
      this.tally.bytesFromClient += bytes;
      this.hooks.observer?.relayed('client_to_upstream', bytes, 0);
    } else {
      this.tally.bytesToClient += bytes;
      this.hooks.observer?.relayed('upstream_to_client', bytes, this.rowsUnsent);
      this.rowsUnsent = 0;
    }
  }

  private protocolError(err: unknown): void {
    const error =
      err instanceof PgError ? err : new PgError(SqlState.ProtocolViolation, 'protocol violation');
    this.ending = 'protocol_error';
    this.endingSqlstate = error.sqlstate;
    this.client.end(errorResponse(error));
    this.finish(false);
  }

  private clientGone(): void {
    if (this.phase === 'ended') return;
    this.ending = this.terminated ? 'client_terminate' : 'client_disconnect';
    const idle = this.isIdle();
    if (!idle && this.awaitingReady > 0 && this.connection.state !== 'copy-in') {
      // PostgreSQL would keep running a statement for a client that is gone (FAULT-03).
      void this.connection.cancel();
    }
    this.client.destroy();
    this.finish(idle); // mid-COPY: PostgreSQL rolls the COPY back on EOF
  }

  private upstreamGone(): void {
    if (this.phase === 'ended') return;
    this.ending = 'upstream_closed';
    if (!this.upstreamFatal) this.endingSqlstate = SqlState.ConnectionFailure;
    if (!this.upstreamFatal && this.fromUpstream.atBoundary && this.client.writable) {
      this.client.end(
        errorResponse(
          new PgError(SqlState.ConnectionFailure, 'server closed the connection unexpectedly'),
        ),
      );
    } else if (!this.upstreamFatal) {
      this.client.destroy(); // a partial frame cannot be completed
    } else {
      this.client.end();
    }
    this.finish(false);
  }

  /**
   * Ends the relay. `idle`: the upstream connection was left between
   * statements and goes back (the pool still asks it whether it is
   * reusable: a cancelled one is not); otherwise it is discarded.
   */
  private finish(idle: boolean): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.stopStatementTimer();
    this.clearIdleTimer();
    if (!this.client.destroyed) {
      // The client was told to go (end) but may be paused for backpressure
      // towards an upstream that is gone, so that its FIN is never read and
      // the socket would be held forever (FUZZ-03): close it after a grace
      // for the last message to reach it. Nothing more is read meanwhile, as
      // PostgreSQL reads nothing after its FATAL: a client that goes on
      // sending (a huge message) fills its own send buffer, not our reads.
      this.client.pause();
      setTimeout(() => this.client.destroy(), CLIENT_CLOSE_GRACE_MS).unref();
    }
    this.upstream.pause();
    for (const [event, listener] of this.upstreamListeners) this.upstream.off(event, listener);
    if (!idle) this.connection.discard();
    this.hooks.audit?.end();
    this.hooks.ended({ ...this.tally, ending: this.ending, sqlstate: this.endingSqlstate });
  }
}
