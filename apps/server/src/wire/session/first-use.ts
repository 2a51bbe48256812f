import type { Duplex } from 'node:stream';
import { errorResponse, FrontendType as FE, PgError, SqlState } from '#wire';
import type { CancelledFirstStatement } from './cancelled-first-statement';

/** How a session that never took an upstream connection ended (its end line). */
export type UnassignedEnding = 'client_terminate' | 'client_disconnect' | 'timeout' | 'shutdown';

export interface FirstUseHooks {
  /** The client sent something that needs the backend: `bytes`, all it sent so far. */
  firstUse(bytes: Buffer): void;
  /** The session ended before that; `sqlstate`: the FATAL its client was sent, if any. */
  ended(ending: UnassignedEnding, sqlstate: string | null): void;
  /** The idle-session timeout is about to end it (for metrics). */
  idleTimeout(): void;
}

/** How long a client told to go may take to read its last message before the socket is closed. */
const CLIENT_CLOSE_GRACE_MS = 1000;

/** Client errors while nobody else listens: a client error destroys the socket, which whoever comes next finds. */
const ignoreError = () => undefined;

/**
 * A logged-in session holding no upstream connection yet (session pooling
 * assigned at first use): waits for its client's first bytes and hands
 * them over unread, since every message but Terminate needs the backend (a
 * Sync or Flush alone too: answering those here would mean tracking the
 * protocol for a case no driver starts with). Until then it ends the
 * session as the relay ends an idle one: Terminate or EOF, the
 * idle-session timeout (FATAL 57P05), shutdown or an ending from the API
 * (FATAL 57P01). After a cancel of the first statement it first answers
 * that statement (CancelledFirstStatement) and waits for what comes next.
 */
export class AwaitingFirstUse {
  private waiting = true;
  private cancelled: CancelledFirstStatement | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly listeners: Array<[string, (value?: unknown) => void]> = [
    ['data', (chunk) => this.received(chunk as Buffer)],
    ['end', () => this.gone()],
    ['close', () => this.gone()],
    ['error', () => this.gone()],
  ];

  constructor(
    private readonly client: Duplex,
    private readonly idleSessionTimeoutMs: number,
    private readonly hooks: FirstUseHooks,
  ) {}

  /**
   * `pipelined`: client bytes that arrived with its last login message (or
   * with the cancelled statement); `cancelled`: the first statement was
   * cancelled while it waited for the pool, and is answered first.
   */
  start(pipelined: Buffer, cancelled: CancelledFirstStatement | null = null): void {
    this.cancelled = cancelled;
    if (!this.client.listeners('error').includes(ignoreError)) this.client.on('error', ignoreError);
    for (const [event, listener] of this.listeners) this.client.on(event, listener);
    if (pipelined.length > 0) this.received(pipelined);
    if (!this.waiting) return;
    // A client that hung up while logging in sent its EOF before these listeners (FUZZ-04).
    if (this.client.readableEnded || this.client.destroyed) {
      this.gone();
      return;
    }
    if (this.idleSessionTimeoutMs > 0) {
      this.idleTimer = setTimeout(() => {
        this.hooks.idleTimeout();
        this.endWith(
          new PgError(
            SqlState.IdleSessionTimeout,
            'terminating connection due to idle-session timeout',
          ),
        );
      }, this.idleSessionTimeoutMs);
    }
    this.client.resume();
  }

  /** Whether it still waits (nothing sent, nothing ended). */
  get idle(): boolean {
    return this.waiting;
  }

  /** Ends the session from the gateway's side with a FATAL (timeout, shutdown, the API). */
  endWith(error: PgError): void {
    if (!this.stop()) return;
    this.client.end(errorResponse(error));
    setTimeout(() => this.client.destroy(), CLIENT_CLOSE_GRACE_MS).unref();
    const timeout = error.sqlstate === SqlState.IdleSessionTimeout;
    this.hooks.ended(timeout ? 'timeout' : 'shutdown', error.sqlstate);
  }

  private received(bytes: Buffer): void {
    if (!this.waiting) return;
    let chunk = bytes;
    if (this.cancelled) {
      const { reply, rest } = this.cancelled.feed(chunk);
      if (reply.length > 0) this.client.write(Buffer.concat(reply));
      if (rest === null) return;
      this.cancelled = null;
      if (rest.length === 0) return;
      chunk = rest;
    }
    if (!this.stop()) return;
    if (chunk[0] === FE.Terminate) {
      this.client.destroy();
      this.hooks.ended('client_terminate', null);
      return;
    }
    this.hooks.firstUse(chunk);
  }

  private gone(): void {
    if (!this.stop()) return;
    this.client.destroy();
    this.hooks.ended('client_disconnect', null);
  }

  /** Stops waiting (false if it already had): the client stays paused for whoever comes next. */
  private stop(): boolean {
    if (!this.waiting) return false;
    this.waiting = false;
    this.client.pause();
    for (const [event, listener] of this.listeners) this.client.off(event, listener);
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    return true;
  }
}

/** Bytes kept of a client while its session waits for the pool; beyond, it is paused (TCP pushes back). */
const KEPT_WHILE_ASSIGNING = 64 * 1024;

/**
 * The client of a session waiting for the pool at first use is read
 * meanwhile: what it pipelines is kept for the relay (`stop`), and its
 * leaving is seen at once (`gone`), so that the wait is given up rather
 * than holding a place in the pool's queue.
 */
export class WatchedWhileAssigning {
  private readonly kept: Buffer[] = [];
  private keptLength = 0;
  private readonly listeners: Array<[string, (value?: unknown) => void]> = [
    ['data', (chunk) => this.keep(chunk as Buffer)],
    ['end', () => this.gone()],
    ['close', () => this.gone()],
    ['error', () => this.gone()],
  ];

  constructor(
    private readonly client: Duplex,
    private readonly gone: () => void,
  ) {}

  start(): void {
    for (const [event, listener] of this.listeners) this.client.on(event, listener);
    if (this.client.readableEnded || this.client.destroyed) {
      this.gone();
      return;
    }
    this.client.resume();
  }

  /** Stops reading: what the client sent meanwhile. */
  stop(): Buffer {
    this.client.pause();
    for (const [event, listener] of this.listeners) this.client.off(event, listener);
    return Buffer.concat(this.kept, this.keptLength);
  }

  private keep(chunk: Buffer): void {
    this.kept.push(chunk);
    this.keptLength += chunk.length;
    if (this.keptLength >= KEPT_WHILE_ASSIGNING) this.client.pause();
  }
}
