import { Buffer } from 'node:buffer';
import { PgErrors } from './pg-error.js';

/**
 * What to do with one message passing through the relay: pass it on
 * unchanged, drop it, or send other bytes in its place.
 */
export type Verdict = 'forward' | 'drop' | Buffer;

export interface MessageInspector {
  /**
   * A complete message. `frame` is the whole message, type byte and length
   * included; it may be a view of the received chunk, valid during the call.
   */
  message(type: number, frame: Buffer): Verdict;
  /**
   * The start of a message longer than the splitter holds (large DataRow,
   * CopyData, Query): its bytes are streamed as they arrive, all with this
   * verdict ('forward' or 'drop').
   */
  largeMessage(type: number, length: number): 'forward' | 'drop';
}

export interface MessageSplitterOptions {
  /** Messages up to this size are held until complete, so they can be inspected whole. */
  readonly holdUpTo: number;
  /** Largest acceptable length field for a message of `type`. */
  readonly maxLength: (type: number) => number;
}

/**
 * Walks message boundaries in a relayed byte stream without copying it:
 * runs of forwarded messages inside one chunk leave as one view of that
 * chunk. Only a message split across chunks is assembled (if small) or
 * streamed (if large), so memory stays bounded by `holdUpTo` per direction.
 * A relay that stops between messages never sends a partial frame of a
 * small message (FAULT-01c).
 */
export class MessageSplitter {
  /** Bytes of a small message (or of a header) still incomplete. */
  private pending: Buffer | null = null;
  /** Bytes still to stream of a large message, and its verdict. */
  private streamRemaining = 0;
  private streamForward = true;

  constructor(
    private readonly inspector: MessageInspector,
    private readonly options: MessageSplitterOptions,
  ) {}

  /** True when no message is partly received. */
  get atBoundary(): boolean {
    return this.pending === null && this.streamRemaining === 0;
  }

  /** The bytes to send for `chunk`, in order. Throws PgError 08P01 on a bad length. */
  push(chunk: Buffer): Buffer[] {
    const out: Buffer[] = [];
    let data = chunk;
    if (this.streamRemaining > 0) {
      const n = Math.min(this.streamRemaining, data.length);
      if (this.streamForward) out.push(data.subarray(0, n));
      this.streamRemaining -= n;
      data = data.subarray(n);
    }
    if (this.pending) {
      data = Buffer.concat([this.pending, data]);
      this.pending = null;
    }
    // Forwarded messages since runStart leave as one view of `data` (one write).
    let runStart = 0;
    let offset = 0;
    while (offset < data.length) {
      if (data.length - offset < 5) {
        if (offset > runStart) out.push(data.subarray(runStart, offset));
        this.pending = Buffer.from(data.subarray(offset));
        return out;
      }
      const type = data[offset]!;
      const length = data.readInt32BE(offset + 1);
      if (length < 4 || length > this.options.maxLength(type)) {
        throw PgErrors.protocolViolation('invalid message length');
      }
      const total = 1 + length;
      const available = data.length - offset;
      if (total <= available) {
        const verdict = this.inspector.message(type, data.subarray(offset, offset + total));
        if (verdict !== 'forward') {
          if (offset > runStart) out.push(data.subarray(runStart, offset));
          if (verdict !== 'drop') out.push(verdict);
          runStart = offset + total;
        }
        offset += total;
        continue;
      }
      if (offset > runStart) out.push(data.subarray(runStart, offset));
      if (total <= this.options.holdUpTo) {
        this.pending = Buffer.from(data.subarray(offset));
        return out;
      }
      // Too large to hold: stream it, deciding once for the whole message.
      this.streamForward = this.inspector.largeMessage(type, length) === 'forward';
      if (this.streamForward) out.push(data.subarray(offset));
      this.streamRemaining = total - available;
      return out;
    }
    if (offset > runStart) out.push(data.subarray(runStart, offset));
    return out;
  }
}
