import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { AuditEventRecord } from './audit.repository';
import type { Prisma, PrismaClient } from './generated/prisma/client';

/** The audit kind of a statement row. */
export const STATEMENT_KIND = 'wire.query';

/** Who ran a session's statements: the same on each of its rows. */
export interface StatementSessionInput {
  readonly sessionId: number;
  readonly actor: string;
  readonly actorId: string;
  readonly tokenId: string | null;
  /** The login's method, `... (token)` for an API token. */
  readonly method: string;
  readonly databaseId: string;
  readonly database: string;
  readonly level: string;
  readonly source: string;
  readonly applicationName: string;
}

/** One statement's row: a simple Query, or a Parse with its executions. */
export interface StatementRecord {
  readonly text: string;
  readonly truncated: boolean;
  readonly protocol: 'simple' | 'extended';
  readonly prepared: string | null;
  readonly executions: number;
  readonly rows: number;
  readonly durationMs: number;
  readonly errors: number;
  readonly sqlstate: string | null;
}

/** A session's columns, escaped for COPY once, not per statement. */
export class StatementSession {
  private constructor(readonly copyColumns: string) {}

  static of(input: StatementSessionInput): StatementSession {
    return new StatementSession(
      [
        copyText(input.actor),
        input.actorId,
        copyText(input.source),
        copyText(input.method),
        input.databaseId,
        copyText(input.database),
        copyText(input.level),
        String(input.sessionId),
        input.tokenId === null ? NULL : copyText(input.tokenId),
        copyText(input.applicationName),
      ].join('\t') + '\t',
    );
  }
}

/** How long a statement may wait for others to share its COPY. */
const BATCH_DELAY_MS = 100;
/** Rows per COPY at most. */
const BATCH_ROWS = 1000;
/** Characters of statement text per COPY at most (texts are up to 8 KiB each). */
const BATCH_CHARS = 1 << 20;
/** Rows waiting at most; beyond, `enqueue` refuses (memory stays bounded when the database stalls). */
const MAX_QUEUED = 10_000;
/** Characters per CopyData message. */
const CHUNK_CHARS = 64 * 1024;

const COPY_SQL =
  'COPY statement_event (actor, actor_id, source, method, database_id, database, level, ' +
  'session_id, token_id, application_name, protocol, prepared, statement, truncated, redacted, ' +
  'executions, errors, row_count, duration_ms, sqlstate) FROM STDIN';

/**
 * The wire's statement rows (`wire.query`): queued without waiting, written
 * with one COPY per up to 1000 rows (at most 100 ms after the first) into
 * `statement_event`, a table of typed columns with no index but its id and a
 * BRIN on the time. An INSERT of a JSON document per row into audit_event
 * (three b-tree indexes) cost PostgreSQL four times as much per statement, and
 * the gateway its JSON; here a row is one line of COPY text, the session's
 * part of it escaped once per session.
 */
export class StatementLog {
  /** Parallel arrays: no object per queued row beyond the statement itself. */
  private sessions: StatementSession[] = [];
  private statements: StatementRecord[] = [];
  private queuedChars = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The last batch handed to `inOrder`, settled once it is written (or failed). */
  private written: Promise<void> = Promise.resolve();
  private redact: ((text: string) => string | null) | null = null;
  private onWriteFailed: ((rows: number, err: Error) => void) | null = null;

  /**
   * `inOrder` runs each write after every write handed to it before, the
   * audit events' included (AuditRepository shares its own): one sequence
   * numbers both tables, so ids commit in order and a reader that follows the
   * newest id (`postern audit tail --follow`) misses none.
   */
  constructor(
    private readonly prisma: PrismaClient,
    private readonly pool: pg.Pool,
    private readonly inOrder: (write: () => Promise<void>) => Promise<void>,
  ) {}

  /**
   * Queues a statement without waiting: the wire relay must never wait on the
   * control plane. False when the queue is full (the row is dropped; the
   * caller counts it).
   */
  enqueue(session: StatementSession, statement: StatementRecord): boolean {
    if (this.statements.length >= MAX_QUEUED) return false;
    this.sessions.push(session);
    this.statements.push(statement);
    this.queuedChars += statement.text.length;
    if (this.statements.length >= BATCH_ROWS || this.queuedChars >= BATCH_CHARS) this.writeBatch();
    else this.timer ??= setTimeout(() => this.writeBatch(), BATCH_DELAY_MS);
    return true;
  }

  /**
   * `redact` rewrites each statement's text as its batch is written (literal
   * redaction), or returns null to keep it. If it throws, the text is not kept.
   */
  redactBeforeWrite(redact: ((text: string) => string | null) | null): void {
    this.redact = redact;
  }

  /** Called with the rows of a batch that could not be written. */
  whenWriteFails(report: ((rows: number, err: Error) => void) | null): void {
    this.onWriteFailed = report;
  }

  /** Writes whatever is queued (shutdown). */
  async flush(): Promise<void> {
    while (this.statements.length > 0) this.writeBatch();
    await this.written;
  }

  /**
   * Deletes rows recorded before `cutoff`, at most `batch` per statement; any
   * old rows, in no order (the BRIN finds them), so no sort of a backlog.
   */
  async deleteOlderThan(cutoff: Date, batch: number): Promise<number> {
    let deleted = 0;
    for (;;) {
      const result = await this.pool.query(
        `DELETE FROM statement_event WHERE ctid = ANY (ARRAY(
           SELECT ctid FROM statement_event WHERE at < $1 LIMIT $2))`,
        [cutoff, batch],
      );
      deleted += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < batch) return deleted;
    }
  }

  /** Newest first, as `wire.query` audit events; `where` is the audit query's, without kind. */
  async query(where: Prisma.StatementEventWhereInput, limit: number): Promise<AuditEventRecord[]> {
    const rows = await this.prisma.statementEvent.findMany({
      where,
      orderBy: { id: 'desc' },
      take: limit,
    });
    return rows.map((row) => ({
      id: row.id.toString(),
      at: row.at,
      kind: STATEMENT_KIND,
      outcome: row.errors > 0 ? 'failure' : 'success',
      actor: row.actor,
      actorId: row.actorId,
      source: row.source,
      method: row.method,
      databaseId: row.databaseId,
      database: row.database,
      detail: {
        // The same names as http.query's where they mean the same.
        statement: row.statement,
        truncated: row.truncated,
        level: row.level,
        rowCount: Number(row.rowCount),
        sqlstate: row.sqlstate,
        protocol: row.protocol,
        prepared: row.prepared,
        executions: row.executions,
        errors: row.errors,
        durationMs: row.durationMs,
        sessionId: row.sessionId,
        tokenId: row.tokenId,
        applicationName: row.applicationName,
        ...(row.redacted ? { redacted: true } : {}),
      },
    }));
  }

  private writeBatch(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    let count = 0;
    let chars = 0;
    while (count < this.statements.length && count < BATCH_ROWS && chars < BATCH_CHARS) {
      chars += this.statements[count]!.text.length;
      count++;
    }
    if (count === 0) return;
    const sessions = this.sessions.splice(0, count);
    const statements = this.statements.splice(0, count);
    this.queuedChars -= chars;
    if (this.statements.length > 0) this.timer = setTimeout(() => this.writeBatch(), 0);
    this.written = this.inOrder(() =>
      this.copy(copyChunks(sessions, statements, this.redact)).catch((err: Error) =>
        this.onWriteFailed?.(count, err),
      ),
    );
  }

  private async copy(chunks: string[]): Promise<void> {
    const client = await this.pool.connect();
    try {
      await pipeline(Readable.from(chunks), client.query(copyFrom(COPY_SQL)));
      client.release();
    } catch (err) {
      // A COPY that failed half way leaves the connection in no known state.
      client.release(err as Error);
      throw err;
    }
  }
}

/**
 * A batch as COPY text, in messages of about 64 KiB: per row the session's
 * columns (escaped once per session) and the statement's own. `redact`
 * rewrites the text, or returns null to keep it.
 */
export function copyChunks(
  sessions: readonly StatementSession[],
  statements: readonly StatementRecord[],
  redact: ((text: string) => string | null) | null,
): string[] {
  const chunks: string[] = [];
  let chunk = '';
  for (let i = 0; i < statements.length; i++) {
    chunk += sessions[i]!.copyColumns + statementColumns(statements[i]!, redact);
    if (chunk.length >= CHUNK_CHARS) {
      chunks.push(chunk);
      chunk = '';
    }
  }
  if (chunk) chunks.push(chunk);
  return chunks;
}

/** The statement's own columns and the line's end. */
function statementColumns(
  statement: StatementRecord,
  redact: ((text: string) => string | null) | null,
): string {
  let text = statement.text;
  let redacted = false;
  if (redact) {
    try {
      const replaced = redact(text);
      if (replaced !== null) [text, redacted] = [replaced, true];
    } catch {
      // What redaction was to remove must not get through: nothing of the text is kept.
      [text, redacted] = ['', true];
    }
  }
  return (
    `${statement.protocol}\t${statement.prepared === null ? NULL : copyText(statement.prepared)}\t` +
    `${copyText(text)}\t${statement.truncated ? 't' : 'f'}\t${redacted ? 't' : 'f'}\t` +
    `${statement.executions}\t${statement.errors}\t${statement.rows}\t${statement.durationMs}\t` +
    `${statement.sqlstate === null ? NULL : copyText(statement.sqlstate)}\n`
  );
}

/** COPY's text format: NULL. */
const NULL = '\\N';
const SPECIAL = /[\\\t\n\r]/;
const SPECIALS = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/** A value in COPY's text format: backslash, tab, newline and carriage return escaped. */
function copyText(value: string): string {
  return SPECIAL.test(value) ? value.replace(SPECIALS, (c) => ESCAPES[c]!) : value;
}
