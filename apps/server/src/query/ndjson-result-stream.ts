import { Readable } from 'node:stream';
import type { CommandSummary, JsonValue, ResultField, ResultSink } from '#engine';

/** Lines are gathered into chunks of about this size (one write per row would cost a syscall each). */
const CHUNK_SIZE = 16 * 1024;

/**
 * One statement's result as NDJSON: `{"fields": [...]}`, one JSON array per
 * row, and last `{"command", "rowCount"}` or `{"error": {...}}`.
 *
 * Nothing is sent before the first row (or the end): an error up to then
 * rejects `ready` and becomes an ordinary HTTP error answer. Once the
 * response buffer is full, `row()` returns a promise that settles only when
 * the client has read more, and the runner reads nothing from PostgreSQL
 * meanwhile: memory stays bounded whatever the result's size.
 */
export class NdjsonResultStream extends Readable implements ResultSink {
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private rejectReady!: (error: unknown) => void;
  private header: readonly ResultField[] = [];
  private summary: CommandSummary = { command: null, rowCount: null };
  private pending = '';
  private started = false;
  private finished = false;
  private flushScheduled = false;
  private blocked = false;
  private waiter: (() => void) | null = null;
  /** Rows written to the stream so far (metrics). */
  rows = 0;

  /** `onGone` runs when the client goes away before the result was complete. */
  constructor(private readonly onGone: () => void) {
    super({ highWaterMark: 64 * 1024 });
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Whoever started the query awaits `ready`; a rejection nobody awaits is not a crash.
    this.ready.catch(() => undefined);
  }

  fields(fields: readonly ResultField[]): void {
    this.header = fields;
  }

  row(values: JsonValue[]): void | Promise<void> {
    if (this.destroyed) return;
    this.rows++;
    this.begin();
    this.pending += `${JSON.stringify(values)}\n`;
    if (this.pending.length >= CHUNK_SIZE) this.flush();
    else this.scheduleFlush();
    if (!this.blocked) return;
    return new Promise((resolve) => (this.waiter = resolve));
  }

  complete(summary: CommandSummary): void {
    this.summary = summary;
  }

  /** The statement succeeded: its summary is the last line. */
  succeed(): void {
    this.begin();
    this.finish(this.summary);
  }

  /** Before any line: `ready` rejects with `error`. After: the last line is `{error: body}`. */
  fail(error: unknown, body: Readonly<Record<string, unknown>>): void {
    if (!this.started) {
      this.finished = true;
      this.rejectReady(error);
      this.destroy();
      return;
    }
    this.finish({ error: body });
  }

  override _read(): void {
    this.blocked = false;
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const waiter = this.waiter;
    this.waiter = null;
    waiter?.();
    if (!this.finished) this.onGone();
    callback(error);
  }

  private begin(): void {
    if (this.started) return;
    this.started = true;
    this.pending = `${JSON.stringify({ fields: this.header })}\n${this.pending}`;
    this.resolveReady();
  }

  private finish(last: unknown): void {
    if (this.finished) return;
    this.pending += `${JSON.stringify(last)}\n`;
    this.flush();
    this.finished = true;
    if (!this.destroyed) this.push(null);
  }

  private flush(): void {
    if (this.finished || this.destroyed || this.pending === '') return;
    const chunk = this.pending;
    this.pending = '';
    if (!this.push(chunk)) this.blocked = true;
  }

  /** Rows that arrive slowly still go out promptly: whatever gathered is sent once I/O is idle. */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }
}
