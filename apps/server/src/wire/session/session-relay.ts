import type { Duplex } from 'node:stream';
import {
  errorResponse,
  MessageSplitter,
  parseErrorFields,
  PgError,
  SqlState,
  type TransactionStatus,
  type Verdict,
} from '#wire';
import { frontendLengthLimit, HOLD_UP_TO, type RelayLimits } from './relay-limits';

const t = (c: string) => c.charCodeAt(0);
const FE = {
  Query: t('Q'),
  Parse: t('P'),
  Bind: t('B'),
  Describe: t('D'),
  Close: t('C'),
  Flush: t('H'),
  Execute: t('E'),
  Sync: t('S'),
  Terminate: t('X'),
  FunctionCall: t('F'),
  CopyDone: t('c'),
  CopyFail: t('f'),
};
const BE = {
  Notification: t('A'),
  DataRow: t('D'),
  CopyData: t('d'),
  CommandComplete: t('C'),
  Error: t('E'),
  Ready: t('Z'),
  CopyIn: t('G'),
  CopyOut: t('H'),
  CopyBoth: t('W'),
  CopyDone: t('c'),
};

export interface RelayHooks {
  /** Sends a CancelRequest for the upstream backend; resolves once PostgreSQL took it. */
  cancelUpstream(): Promise<void>;
  /** The session is over; `reusable` when the upstream connection is cleanly idle. */
  ended(reusable: boolean): void;
  /** A statement the client sent (for GET /sessions). */
  statement?(text: string): void;
  /** The session started a statement, or went idle after one (pg_stat_activity's `state`). */
  state?(state: SessionState): void;
  /**
   * The gateway process id clients know for an upstream backend, so that a
   * notification names the sender as `BackendKeyData` did.
   */
  gatewayPid?(upstreamPid: number): number | undefined;
}

/** How long a client told to go may take to read its last message before the socket is closed. */
const CLIENT_CLOSE_GRACE_MS = 1000;

export type SessionState =
  'idle' | 'active' | 'idle in transaction' | 'idle in transaction (aborted)';
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
 * Backpressure both ways: a side that cannot keep up pauses the other.
 */
export class SessionRelay {
  private readonly fromClient: MessageSplitter;
  private readonly fromUpstream: MessageSplitter;
  private status: TransactionStatus = 'I';
  /** Query/Sync/FunctionCall messages sent that still await their ReadyForQuery. */
  private awaitingReady = 0;
  /**
   * Extended-query messages sent since the last Sync: the upstream is inside
   * an implicit transaction, or skipping to the next Sync after an error, and
   * would swallow the pool's DISCARD ALL (FUZZ-02).
   */
  private unsynced = false;
  private copyIn = false;
  private copyOut = false;
  private copyBoth = false;
  private terminated = false;
  private finished = false;
  private upstreamFatal = false;
  /** A cancel was ever sent: the connection is never handed to another client (PgBouncer #717). */
  private cancelled = false;
  private cancelInFlight: Promise<void> | null = null;
  private readonly held: Buffer[] = [];
  private rows = 0;
  private bytes = 0;
  private truncating: 'rows' | 'bytes' | null = null;
  private statementTimedOut = false;
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
    private readonly upstream: Duplex,
    private readonly limits: RelayLimits,
    private readonly hooks: RelayHooks,
  ) {
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
    this.client.on('data', (chunk: Buffer) => this.onClientData(chunk));
    this.client.on('drain', () => this.upstream.resume());
    for (const event of ['end', 'close', 'error'] as const)
      this.client.on(event, () => this.clientGone());
    for (const [event, listener] of this.upstreamListeners) this.upstream.on(event, listener);
    this.armIdleTimer();
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
    if (this.finished) return;
    this.client.end(errorResponse(error));
    this.finish(this.isIdle());
  }

  /** Idle between statements, outside a transaction and COPY, no partial message either way. */
  isIdle(): boolean {
    return (
      this.awaitingReady === 0 &&
      !this.unsynced &&
      this.status === 'I' &&
      !this.copyIn &&
      !this.copyOut &&
      !this.copyBoth &&
      this.fromClient.atBoundary &&
      this.fromUpstream.atBoundary
    );
  }

  // ---- client -> upstream ----

  private onClientData(chunk: Buffer): void {
    if (this.finished) return;
    if (this.cancelInFlight) {
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
        this.copyIn = false;
        break;
    }
    return 'forward';
  }

  private clientLarge(type: number): 'forward' {
    this.clearIdleTimer();
    if (type === FE.Query || type === FE.FunctionCall) this.expectReady();
    if (type === FE.Parse || type === FE.Bind) this.unsynced = true;
    return 'forward';
  }

  private expectReady(): void {
    this.awaitingReady++;
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
    if (this.finished) return;
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
        return this.copyOut ? this.countRow(frame.length) : 'forward';
      case BE.CommandComplete:
        return this.statementResult(null);
      case BE.Error:
        return this.statementResult(frame);
      case BE.Ready:
        this.status = String.fromCharCode(frame[5]!) as TransactionStatus;
        this.awaitingReady = Math.max(0, this.awaitingReady - 1);
        this.copyIn = this.copyOut = false;
        if (this.awaitingReady === 0) {
          this.stopStatementTimer();
          this.armIdleTimer();
          this.hooks.state?.(IDLE_STATES[this.status]);
        }
        break;
      case BE.CopyIn:
        this.copyIn = true;
        break;
      case BE.CopyOut:
        this.copyOut = true;
        break;
      case BE.CopyBoth:
        this.copyBoth = true;
        break;
      case BE.CopyDone:
        this.copyOut = false;
        break;
      case BE.Notification:
        return this.notification(frame);
    }
    return 'forward';
  }

  /** NotificationResponse carries the sender's pid: upstream pids are translated. */
  private notification(frame: Buffer): Verdict {
    const upstreamPid = frame.readUInt32BE(5);
    const gatewayPid = this.hooks.gatewayPid?.(upstreamPid);
    if (gatewayPid === undefined || gatewayPid === upstreamPid) return 'forward';
    const rewritten = Buffer.from(frame);
    rewritten.writeUInt32BE(gatewayPid, 5);
    return rewritten;
  }

  private upstreamLarge(type: number, length: number): 'forward' | 'drop' {
    if (type !== BE.DataRow && !(type === BE.CopyData && this.copyOut)) return 'forward';
    return this.countRow(length + 1) === 'drop' ? 'drop' : 'forward';
  }

  /** Row and byte guardrails: past a limit, rows are dropped and the statement cancelled. */
  private countRow(size: number): Verdict {
    this.rows++;
    this.bytes += size;
    if (this.truncating) return 'drop';
    const { maxResultRows, maxResultBytes } = this.limits;
    if (maxResultRows > 0 && this.rows > maxResultRows) this.truncating = 'rows';
    else if (maxResultBytes > 0 && this.bytes > maxResultBytes) this.truncating = 'bytes';
    else return 'forward';
    this.cancel();
    return 'drop';
  }

  /**
   * The end of one statement's result: counters reset, and a result cut by
   * a guardrail ends in the gateway's error instead of the upstream's
   * cancellation (or completion, if the cancel came too late).
   */
  private statementResult(errorFrame: Buffer | null): Verdict {
    const truncated = this.truncating;
    this.rows = this.bytes = 0;
    this.truncating = null;
    if (errorFrame) {
      const fields = parseErrorFields(errorFrame.subarray(5));
      if (fields.S === 'FATAL' || fields.S === 'PANIC') this.upstreamFatal = true;
      if (fields.C === SqlState.QueryCanceled && this.statementTimedOut && !truncated) {
        this.statementTimedOut = false;
        return errorResponse(
          new PgError(SqlState.QueryCanceled, 'canceling statement due to statement timeout', {
            severity: 'ERROR',
          }),
        );
      }
    }
    if (!truncated) return 'forward';
    const limit =
      truncated === 'rows'
        ? `${this.limits.maxResultRows} rows`
        : `${this.limits.maxResultBytes} bytes`;
    return errorResponse(
      new PgError(SqlState.ProgramLimitExceeded, `result exceeds the limit of ${limit}`, {
        severity: 'ERROR',
        hint: 'Add a LIMIT, or fetch the result in parts with a cursor.',
      }),
    );
  }

  // ---- guardrail timers ----

  private startStatementTimer(): void {
    if (this.statementTimer || this.limits.statementTimeoutMs <= 0) return;
    this.statementTimer = setTimeout(() => {
      this.statementTimedOut = true;
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
    if (this.finished) return;
    const inTransaction = this.status !== 'I';
    const ms = inTransaction
      ? this.limits.idleInTransactionTimeoutMs
      : this.limits.idleSessionTimeoutMs;
    if (ms <= 0) return;
    this.idleTimer = setTimeout(() => {
      if (this.awaitingReady > 0) return;
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

  private cancel(): void {
    if (this.cancelInFlight) return;
    this.cancelled = true;
    this.cancelInFlight = this.hooks
      .cancelUpstream()
      .catch(() => undefined)
      .then(() => {
        this.cancelInFlight = null;
        const held = this.held.splice(0);
        for (const chunk of held) this.onClientData(chunk);
        if (!this.cancelInFlight) this.client.resume();
      });
  }

  // ---- plumbing ----

  private send(to: Duplex, from: Duplex, chunks: Buffer[]): void {
    let flowing = true;
    for (const chunk of chunks) flowing = to.write(chunk) && flowing;
    if (!flowing) from.pause();
  }

  private protocolError(err: unknown): void {
    const error =
      err instanceof PgError ? err : new PgError(SqlState.ProtocolViolation, 'protocol violation');
    this.client.end(errorResponse(error));
    this.upstream.destroy();
    this.finish(false);
  }

  private clientGone(): void {
    if (this.finished) return;
    const reusable = this.isIdle() && !this.cancelled;
    if (!reusable && this.awaitingReady > 0 && !this.copyIn) {
      // PostgreSQL would keep running a statement for a client that is gone (FAULT-03).
      void this.hooks.cancelUpstream().catch(() => undefined);
    }
    if (!reusable) this.upstream.destroy(); // mid-COPY: PostgreSQL rolls the COPY back on EOF
    this.client.destroy();
    this.finish(reusable);
  }

  private upstreamGone(): void {
    if (this.finished) return;
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
    this.upstream.destroy();
    this.finish(false);
  }

  private finish(reusable: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.stopStatementTimer();
    this.clearIdleTimer();
    if (!this.client.destroyed) {
      // The client was told to go (end) but may be paused for backpressure
      // towards an upstream that is gone, so that its FIN is never read and
      // the socket is held forever (FUZZ-03): drop what it still sends, and
      // close after a grace for the last message to reach it.
      this.client.resume();
      setTimeout(() => this.client.destroy(), CLIENT_CLOSE_GRACE_MS).unref();
    }
    if (!reusable && !this.upstream.destroyed) this.upstream.destroy();
    if (reusable) {
      this.upstream.pause();
      for (const [event, listener] of this.upstreamListeners) this.upstream.off(event, listener);
    }
    this.hooks.ended(reusable && !this.cancelled);
  }
}
