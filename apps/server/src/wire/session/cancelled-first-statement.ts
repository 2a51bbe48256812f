import { errorResponse, FrontendType as FE, PgError, readyForQuery, SqlState } from '#wire';

/** What the client is told of its first statement, cancelled while it waited for the pool. */
const CANCELLED = errorResponse(
  new PgError(SqlState.QueryCanceled, 'canceling statement due to user request', {
    severity: 'ERROR',
  }),
);

/** Where the cancelled statement's messages end. */
type Unit =
  /** Nothing read of it yet. */
  | { readonly kind: 'undecided' }
  /** A Query or FunctionCall: its one message. */
  | { readonly kind: 'single' }
  /** Extended protocol: every message up to its Sync, as PostgreSQL skips them after an error. */
  | { readonly kind: 'until-sync' };

/** What one chunk of client bytes came to. */
export interface CancelledFeed {
  /** What the client is answered with (nothing, the error, ReadyForQuery). */
  readonly reply: Buffer[];
  /** The bytes after the cancelled statement, once it ended; null while it goes on. */
  readonly rest: Buffer | null;
}

/**
 * The first statement of a session assigned at first use, cancelled while
 * it waited for the pool, answered as PostgreSQL answers a statement
 * cancelled before it produced anything: the cancel applies to the first
 * statement the client sent, a Query (or FunctionCall) fails with 57014
 * then ReadyForQuery; an extended-protocol batch fails at its first
 * message and its messages are skipped up to its Sync, answered with
 * ReadyForQuery. The session never held a connection, so it is idle
 * outside a transaction ('I'). A Sync first ran nothing, so the cancel
 * cancels nothing and it is answered as PostgreSQL would. What the client
 * pipelined after the statement is left (`rest`) to run as if just sent.
 * Reads frame headers only: a large frame is skipped as it streams, never
 * held.
 */
export class CancelledFirstStatement {
  private unit: Unit = { kind: 'undecided' };
  /** Header bytes of the frame being read, while fewer than 5. */
  private header: Buffer = Buffer.alloc(0);
  /** Bytes of the current frame still to skip, and its type. */
  private skipping = 0;
  private frameType = 0;

  feed(chunk: Buffer): CancelledFeed {
    const reply: Buffer[] = [];
    let data = chunk;
    while (data.length > 0) {
      if (this.skipping === 0) {
        const needed = 5 - this.header.length;
        this.header = Buffer.concat([this.header, data.subarray(0, needed)]);
        data = data.subarray(needed);
        if (this.header.length < 5) break;
        this.frameType = this.header[0]!;
        // The length counts itself; a bogus one still ends (at least its 4 bytes).
        this.skipping = Math.max(4, this.header.readInt32BE(1)) - 4;
        this.header = Buffer.alloc(0);
        this.frameStarted(reply);
      }
      const skipped = Math.min(this.skipping, data.length);
      this.skipping -= skipped;
      data = data.subarray(skipped);
      if (this.skipping === 0 && this.header.length === 0 && this.frameEnded(reply)) {
        return { reply, rest: data };
      }
    }
    return { reply, rest: null };
  }

  private frameStarted(reply: Buffer[]): void {
    if (this.unit.kind !== 'undecided' || this.frameType === FE.Sync) return;
    const single = this.frameType === FE.Query || this.frameType === FE.FunctionCall;
    this.unit = { kind: single ? 'single' : 'until-sync' };
    reply.push(CANCELLED);
  }

  /** A frame was skipped whole: whether the statement is over (answered). */
  private frameEnded(reply: Buffer[]): boolean {
    if (this.unit.kind === 'single' || this.frameType === FE.Sync) {
      reply.push(readyForQuery('I'));
      return true;
    }
    return false;
  }
}
