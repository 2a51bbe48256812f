import type { Duplex } from 'node:stream';
import { errorResponse, FrontendType as FE, PgError, SqlState } from '#wire';

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

/**
 * A logged-in session holding no upstream connection yet (session pooling
 * assigned at first use): waits for its client's first bytes and hands
 * them over unread, since every message but Terminate needs the backend (a
 * Sync or Flush alone too: answering those here would mean tracking the
 * protocol for a case no driver starts with). Until then it ends the
 * session as the relay ends an idle one: Terminate or EOF, the
 * idle-session timeout (FATAL 57P05), shutdown or an ending from the API
 * (FATAL 57P01).
 */
export class AwaitingFirstUse {
  private waiting = true;
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

  /** `pipelined`: client bytes that arrived with its last login message. */
  start(pipelined: Buffer): void {
    // While the connection is being taken nobody else listens; a client error then
    // destroys the socket, which the relay finds when it starts.
    this.client.on('error', () => undefined);
    if (pipelined.length > 0) {
      this.received(pipelined);
      return;
    }
    for (const [event, listener] of this.listeners) this.client.on(event, listener);
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

  private received(chunk: Buffer): void {
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
