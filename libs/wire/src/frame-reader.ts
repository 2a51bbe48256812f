import { Buffer } from 'node:buffer';
import { MAX_STARTUP_PACKET_LENGTH } from './message-types.js';
import { PgErrors } from './pg-error.js';

export interface FrameReaderOptions {
  /**
   * Largest accepted value of a typed message's int32 length field. As in PostgreSQL's
   * pq_getmessage(), the length counts itself, so the largest body is maxMessageLength - 4.
   */
  maxMessageLength: number;
}

export interface TypedMessage {
  type: number;
  body: Buffer;
}

/*
 * Chunks shorter than this are copied into an owned tail buffer instead of being kept as
 * separate Buffers: a peer dribbling one byte per TCP segment would otherwise cost a Buffer
 * object (~100 bytes of overhead) per byte of a message still below the length cap.
 */
const COALESCE_BELOW = 512;
const TAIL_CAPACITY = 8192;
/* Consumed entries at the front of the chunk list are dropped in batches, not one shift() each. */
const COMPACT_AFTER = 32;

const EMPTY = Buffer.alloc(0);

/**
 * Splits a byte stream into PostgreSQL frames without doing any I/O.
 *
 * Lengths are validated as soon as the header is present, before the body is buffered, so a
 * peer cannot make us wait for (or allocate) a body we would refuse anyway. A body lying inside
 * one received chunk is returned as a subarray of it; a body spanning chunks is copied once.
 * Returned bodies are never overwritten by later pushes.
 */
export class FrameReader {
  #maxMessageLength: number;
  #chunks: Buffer[] = [];
  /** Index in #chunks of the first chunk holding unconsumed bytes. */
  #first = 0;
  /** Consumed bytes at the start of #chunks[#first]. */
  #head = 0;
  #length = 0;
  #tail: Buffer | null = null;
  #tailStart = 0;
  #tailEnd = 0;
  /** True while the last entry of #chunks is the view tail[#tailStart, #tailEnd). */
  #tailLive = false;

  constructor(options: FrameReaderOptions) {
    const max = options.maxMessageLength;
    if (!Number.isInteger(max) || max < 4 || max > 0x7fffffff) {
      throw new RangeError(`maxMessageLength must be an integer in [4, 2^31-1], got ${max}`);
    }
    this.#maxMessageLength = max;
  }

  /**
   * Changes the length cap for frames read from now on: one upstream
   * connection's reader serves the gateway's own small checks and HTTP
   * statements whose per-row cap is a guardrail (HARD-08).
   */
  set maxMessageLength(max: number) {
    if (!Number.isInteger(max) || max < 4 || max > 0x7fffffff) {
      throw new RangeError(`maxMessageLength must be an integer in [4, 2^31-1], got ${max}`);
    }
    this.#maxMessageLength = max;
  }

  get maxMessageLength(): number {
    return this.#maxMessageLength;
  }

  /** Bytes received but not yet returned in a frame. */
  get bufferedLength(): number {
    return this.#length;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#length += chunk.length;
    if (chunk.length >= COALESCE_BELOW) {
      this.#chunks.push(chunk);
      this.#tailLive = false;
      return;
    }
    if (this.#tail === null || this.#tail.length - this.#tailEnd < chunk.length) {
      this.#tail = Buffer.allocUnsafe(TAIL_CAPACITY);
      this.#tailEnd = 0;
      this.#tailLive = false;
    }
    if (!this.#tailLive) {
      // Start a fresh view after everything already handed out, which must stay intact.
      this.#tailStart = this.#tailEnd;
      this.#chunks.push(EMPTY);
      this.#tailLive = true;
    }
    chunk.copy(this.#tail, this.#tailEnd);
    this.#tailEnd += chunk.length;
    this.#chunks[this.#chunks.length - 1] = this.#tail.subarray(this.#tailStart, this.#tailEnd);
  }

  /**
   * Reads an untyped frame (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest) and
   * returns its body without the length word, or null until it is complete.
   *
   * Unlike PostgreSQL, which caps the body (len - 4) at 10000, this caps the length field
   * itself at MAX_STARTUP_PACKET_LENGTH: four bytes stricter, and no real client comes near.
   */
  readStartupFrame(): Buffer | null {
    if (this.#length < 4) return null;
    const len = this.#peekInt32(0);
    if (len < 8 || len > MAX_STARTUP_PACKET_LENGTH) {
      throw PgErrors.protocolViolation('invalid length of startup packet');
    }
    if (this.#length < len) return null;
    this.#consume(4);
    return this.#take(len - 4);
  }

  /** Reads a typed frame `byte type, int32 len, body`, or null until it is complete. */
  readMessage(): TypedMessage | null {
    if (this.#length < 5) return null;
    const type = this.#peekByte(0);
    const len = this.#peekInt32(1);
    if (len < 4 || len > this.#maxMessageLength) {
      throw PgErrors.protocolViolation('invalid message length');
    }
    if (this.#length < 1 + len) return null;
    this.#consume(5);
    return { type, body: this.#take(len - 4) };
  }

  /** Returns and forgets every unconsumed byte, e.g. to hand the stream to a raw relay. */
  takeBuffered(): Buffer {
    const out = this.#length === 0 ? EMPTY : this.#take(this.#length);
    this.#reset();
    return out;
  }

  #peekByte(offset: number): number {
    let i = this.#first;
    let pos = this.#head + offset;
    while (pos >= this.#chunks[i].length) {
      pos -= this.#chunks[i].length;
      i++;
    }
    return this.#chunks[i][pos];
  }

  #peekInt32(offset: number): number {
    const first = this.#chunks[this.#first];
    if (first.length - this.#head >= offset + 4) return first.readInt32BE(this.#head + offset);
    return (
      (this.#peekByte(offset) << 24) |
      (this.#peekByte(offset + 1) << 16) |
      (this.#peekByte(offset + 2) << 8) |
      this.#peekByte(offset + 3) |
      0
    );
  }

  /** Removes n bytes (n <= #length) from the front and returns them, copying only if split. */
  #take(n: number): Buffer {
    if (n === 0) return EMPTY;
    const first = this.#chunks[this.#first];
    if (first.length - this.#head >= n) {
      const out = first.subarray(this.#head, this.#head + n);
      this.#consume(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    while (copied < n) {
      const chunk = this.#chunks[this.#first];
      const count = Math.min(chunk.length - this.#head, n - copied);
      chunk.copy(out, copied, this.#head, this.#head + count);
      copied += count;
      this.#consume(count);
    }
    return out;
  }

  #consume(n: number): void {
    this.#length -= n;
    if (this.#length === 0) {
      this.#reset();
      return;
    }
    this.#head += n;
    while (this.#head >= this.#chunks[this.#first].length) {
      this.#head -= this.#chunks[this.#first].length;
      this.#first++;
    }
    if (this.#first >= COMPACT_AFTER && this.#first * 2 >= this.#chunks.length) {
      this.#chunks = this.#chunks.slice(this.#first);
      this.#first = 0;
    }
  }

  #reset(): void {
    this.#chunks = [];
    this.#first = 0;
    this.#head = 0;
    this.#length = 0;
    // The tail keeps its spare capacity; the next small chunk opens a new view after #tailEnd.
    this.#tailLive = false;
  }
}
