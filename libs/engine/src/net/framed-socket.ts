import type { Duplex } from 'node:stream';
import { FrameReader } from '#wire';

/** The peer went away (or the socket failed) while a frame was awaited. */
export class ConnectionClosedError extends Error {
  constructor(cause?: Error) {
    super(cause ? `connection closed: ${cause.message}` : 'connection closed', { cause });
  }
}

interface Waiter<T> {
  tryRead(): T | null;
  resolve(value: T): void;
  reject(error: Error): void;
}

/**
 * Reads PostgreSQL frames from a socket on demand. The socket is paused
 * whenever nobody awaits a frame, so bytes a peer sends early stay in the
 * kernel (backpressure, and the TLS-01 rule: what was read ahead is visible
 * in `bufferedLength`, nothing else is consumed).
 */
export class FramedSocket {
  private waiter: Waiter<unknown> | null = null;
  private failure: Error | null = null;
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onEnd = () => this.fail(new ConnectionClosedError());
  private readonly onError = (err: Error) => this.fail(new ConnectionClosedError(err));

  private attached = false;

  constructor(
    readonly socket: Duplex,
    private readonly reader: FrameReader,
  ) {
    this.attach();
  }

  /** Frames the socket (again, after `detach`); the socket stays paused until a frame is awaited. */
  attach(): void {
    if (this.attached) return;
    this.attached = true;
    this.socket.pause();
    this.socket.on('data', this.onData);
    this.socket.on('end', this.onEnd);
    this.socket.on('close', this.onEnd);
    this.socket.on('error', this.onError);
    if (this.socket.destroyed) this.failure ??= new ConnectionClosedError();
  }

  /**
   * Reads with nobody awaiting a frame (an idle pooled connection): what
   * arrives is kept (`bufferedLength`) and the socket pauses again; an EOF
   * shows as the socket's end.
   */
  resumeIdle(): void {
    if (this.attached && !this.waiter) this.socket.resume();
  }

  /** The length cap of frames read from now on (the reader's). */
  set maxMessageLength(max: number) {
    this.reader.maxMessageLength = max;
  }

  /** An untyped startup-phase frame body (SSLRequest, StartupMessage, CancelRequest). */
  nextStartupFrame(): Promise<Buffer> {
    return this.await(() => this.reader.readStartupFrame());
  }

  nextMessage(): Promise<{ type: number; body: Buffer }> {
    return this.await(() => this.reader.readMessage());
  }

  /**
   * The first byte received, without consuming it: a TLS ClientHello (0x16)
   * instead of a startup packet means direct TLS.
   */
  async peekFirstByte(): Promise<number> {
    await this.await(() => (this.reader.bufferedLength > 0 ? true : null));
    const buffered = this.reader.takeBuffered();
    this.reader.push(buffered);
    return buffered[0]!;
  }

  /** Bytes received but not yet framed (must be 0 when switching to TLS). */
  get bufferedLength(): number {
    return this.reader.bufferedLength;
  }

  write(data: Buffer): void {
    this.socket.write(data);
  }

  /**
   * Stops framing and hands the socket over (paused) with whatever was read
   * ahead, for a TLS upgrade or a raw relay.
   */
  detach(): Buffer {
    this.attached = false;
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('close', this.onEnd);
    this.socket.off('error', this.onError);
    this.socket.pause();
    return this.reader.takeBuffered();
  }

  private await<T>(tryRead: () => T | null): Promise<T> {
    if (this.waiter) return Promise.reject(new Error('concurrent reads on one FramedSocket'));
    try {
      const ready = tryRead();
      if (ready !== null) return Promise.resolve(ready);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.waiter = { tryRead, resolve, reject } as Waiter<unknown>;
      this.socket.resume();
    });
  }

  private receive(chunk: Buffer): void {
    this.reader.push(chunk);
    const waiter = this.waiter;
    if (!waiter) {
      this.socket.pause();
      return;
    }
    let frame: unknown;
    try {
      frame = waiter.tryRead();
    } catch (err) {
      this.waiter = null;
      this.socket.pause();
      waiter.reject(err as Error);
      return;
    }
    if (frame === null) return;
    this.waiter = null;
    this.socket.pause();
    waiter.resolve(frame);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.reject(this.failure);
  }
}
