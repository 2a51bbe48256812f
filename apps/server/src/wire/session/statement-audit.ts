import { BackendType as BE, FrontendType as FE } from '#wire';

/** One audit row for the wire: a simple Query, or a Parse with its executions. */
export interface AuditedStatement {
  /** The statement's text, at most `STATEMENT_TEXT_LIMIT` bytes of it. */
  readonly text: string;
  /** The text was longer than what is kept (or streamed past the relay unseen). */
  readonly truncated: boolean;
  readonly protocol: 'simple' | 'extended';
  /** The prepared statement's name; null for a simple Query or the unnamed statement. */
  readonly prepared: string | null;
  /** Executions reported by this row (1 for a simple Query; Execute messages otherwise). */
  readonly executions: number;
  /** Rows from the CommandComplete tags (SELECT n, INSERT 0 n, COPY n, ...). */
  readonly rows: number;
  /** Time from each execution's message to its result, summed. */
  readonly durationMs: number;
  /** Executions (or the Parse itself) that failed; `sqlstate` is the last one's. */
  readonly errors: number;
  readonly sqlstate: string | null;
}

/** How much of a statement's text is kept. */
export const STATEMENT_TEXT_LIMIT = 8 * 1024;
/** Named prepared statements (and named portals) followed per session; beyond, one row each. */
export const TRACKED_PREPARED_LIMIT = 256;
/** Messages awaiting a result; beyond, auditing pauses until the session is in step again. */
const PENDING_LIMIT = 10_000;
/** A prepared statement's executions are reported at least this often. */
export const AGGREGATE_REPORT_MS = 60_000;

/** One audited text and its running counts, until reported. */
class Statement {
  executions = 0;
  rows = 0;
  durationMs = 0;
  errors = 0;
  sqlstate: string | null = null;
  /** When its first unreported execution started (performance.now()). */
  since = 0;
  /**
   * Replaced or closed while messages of a pipeline still refer to it: its
   * results are reported as they come (nothing would report them later).
   */
  detached = false;
  constructor(
    readonly text: string,
    readonly truncated: boolean,
    readonly protocol: 'simple' | 'extended',
    readonly prepared: string | null,
  ) {}

  get pending(): boolean {
    return this.executions > 0 || this.errors > 0;
  }
}

/** What the FIFO holds, in the order the client sent it. */
const Pending = {
  Query: 0,
  Parse: 1,
  Bind: 2,
  Execute: 3,
  /** Sync or FunctionCall: answered by a ReadyForQuery. */
  Boundary: 4,
} as const;
type Pending = (typeof Pending)[keyof typeof Pending];

/**
 * Follows one session's statements from the messages the relay already
 * splits, for the audit log: it keeps the text of Query and Parse messages
 * (nothing else is copied), matches results to what was sent with a FIFO of
 * pending messages (pipelining), and reports one `AuditedStatement` per simple
 * Query at its ReadyForQuery, one per unnamed statement at the ReadyForQuery
 * after its executions, and one per named prepared statement with its
 * executions counted: when it is closed or parsed again, when the session ends,
 * and at the first ReadyForQuery `AGGREGATE_REPORT_MS` after its first
 * unreported execution. DataRows never reach it. Bounded: text cut at
 * `STATEMENT_TEXT_LIMIT`, `TRACKED_PREPARED_LIMIT` named statements, and a
 * pending FIFO of `PENDING_LIMIT` (a client pipelining more without reading is
 * not followed until it is in step again; those statements count as `missed`).
 */
export class StatementAudit {
  private readonly named = new Map<string, Statement>();
  private unnamed: Statement | null = null;
  private readonly portals = new Map<string, Statement>();
  private unnamedPortal: Statement | null = null;
  /**
   * Parallel arrays, read from `head`, written at `tail` and reused once
   * empty: no allocation per message (truncating and regrowing them per
   * statement was a tenth of the relay's audit time).
   */
  private readonly kinds: Pending[] = [];
  private readonly refs: Array<Statement | null> = [];
  private readonly started: number[] = [];
  private head = 0;
  private tail = 0;
  /** Sync/Query/FunctionCall sent and ReadyForQuery seen: equal when the session is in step. */
  private boundariesSent = 0;
  private boundariesSeen = 0;
  private following = true;
  /** Statements not followed while the pending FIFO was full. */
  missed = 0;

  constructor(private readonly report: (statement: AuditedStatement) => void) {}

  /** A frontend message the relay holds whole (`frame` from its type byte on). */
  client(type: number, frame: Buffer): void {
    switch (type) {
      case FE.Query: {
        const statement = this.text(frame, 5, 'simple', null);
        this.boundariesSent++;
        this.push(Pending.Query, statement);
        return;
      }
      case FE.Parse: {
        const nameEnd = frame.indexOf(0, 5);
        if (nameEnd < 0) return;
        const name = nameEnd === 5 ? null : frame.toString('utf8', 5, nameEnd);
        this.push(
          Pending.Parse,
          this.parsed(name, this.text(frame, nameEnd + 1, 'extended', name)),
        );
        return;
      }
      case FE.Bind: {
        const portalEnd = frame.indexOf(0, 5);
        const nameEnd = portalEnd < 0 ? -1 : frame.indexOf(0, portalEnd + 1);
        if (nameEnd < 0) return;
        const statement =
          nameEnd === portalEnd + 1
            ? this.unnamed
            : this.namedStatement(frame.toString('utf8', portalEnd + 1, nameEnd));
        if (portalEnd === 5) this.unnamedPortal = statement;
        else if (statement) {
          if (this.portals.size >= TRACKED_PREPARED_LIMIT) this.portals.clear();
          this.portals.set(frame.toString('utf8', 5, portalEnd), statement);
        }
        this.push(Pending.Bind, statement);
        return;
      }
      case FE.Execute: {
        const portalEnd = frame.indexOf(0, 5);
        const statement =
          portalEnd === 5
            ? this.unnamedPortal
            : (this.portals.get(frame.toString('utf8', 5, Math.max(5, portalEnd))) ?? null);
        this.push(Pending.Execute, statement);
        return;
      }
      case FE.Close: {
        const nameEnd = frame.indexOf(0, 6);
        if (nameEnd < 0) return;
        const name = frame.toString('utf8', 6, nameEnd);
        if (frame[5] === 0x53 /* S */) this.closeStatement(name);
        else if (name === '') this.unnamedPortal = null;
        else this.portals.delete(name);
        return;
      }
      case FE.Sync:
      case FE.FunctionCall:
        this.boundariesSent++;
        this.push(Pending.Boundary, null);
        return;
    }
  }

  /**
   * A Query or Parse too large for the relay to hold (over 64 KiB): its text
   * streams through unseen and is recorded as such.
   */
  clientLarge(type: number): void {
    if (type === FE.Query) {
      this.boundariesSent++;
      this.push(Pending.Query, new Statement('', true, 'simple', null));
    } else if (type === FE.Parse) {
      this.unnamed = null; // which name it had is unknown; its Binds find nothing
      this.push(Pending.Parse, new Statement('', true, 'extended', null));
    } else if (type === FE.Sync || type === FE.FunctionCall) {
      this.boundariesSent++;
      this.push(Pending.Boundary, null);
    }
  }

  /** A backend message: only CommandComplete, EmptyQueryResponse, PortalSuspended, ParseComplete, BindComplete, ErrorResponse, ReadyForQuery matter. */
  upstream(type: number, frame: Buffer): void {
    if (!this.following && type !== BE.ReadyForQuery) return;
    switch (type) {
      case BE.CommandComplete:
        this.completed(rowsOfTag(frame));
        return;
      case BE.EmptyQueryResponse:
      case BE.PortalSuspended:
        this.completed(0);
        return;
      case BE.ParseComplete:
        if (this.peek() === Pending.Parse) this.shift();
        return;
      case BE.BindComplete:
        if (this.peek() === Pending.Bind) this.shift();
        return;
      case BE.ErrorResponse:
        this.failed(sqlstateOf(frame));
        return;
      case BE.ReadyForQuery:
        this.ready();
        return;
    }
  }

  /** The session ended: every statement with something to report is reported. */
  end(): void {
    this.flushQueryAtHead();
    for (const statement of this.named.values()) this.flush(statement);
    if (this.unnamed) this.flush(this.unnamed);
    this.named.clear();
    this.portals.clear();
    this.unnamed = null;
  }

  // ---- the FIFO ----

  private push(kind: Pending, statement: Statement | null): void {
    if (!this.following) {
      if (kind === Pending.Query || kind === Pending.Execute) this.missed++;
      return;
    }
    if (this.tail - this.head >= PENDING_LIMIT) {
      // A client far ahead of its results: stop following until in step again.
      this.following = false;
      this.clearPending();
      if (kind === Pending.Query || kind === Pending.Execute) this.missed++;
      return;
    }
    this.kinds[this.tail] = kind;
    this.refs[this.tail] = statement;
    this.started[this.tail] =
      kind === Pending.Query || kind === Pending.Execute ? performance.now() : 0;
    this.tail++;
  }

  /** Nothing pending: the arrays stay for the next messages, unless a long pipeline grew them. */
  private clearPending(): void {
    if (this.tail > 64) this.kinds.length = this.refs.length = this.started.length = 0;
    else this.refs.fill(null, 0, this.tail);
    this.head = this.tail = 0;
  }

  private peek(): Pending | undefined {
    return this.head < this.tail ? this.kinds[this.head] : undefined;
  }

  private shift(): void {
    this.head++;
    if (this.head === this.tail) this.clearPending();
  }

  /** CommandComplete and friends: a simple Query adds up; an Execute is done. */
  private completed(rows: number): void {
    const kind = this.peek();
    const statement = this.refs[this.head];
    if (kind === Pending.Query) {
      if (statement) statement.rows += rows;
    } else if (kind === Pending.Execute) {
      if (statement) this.executed(statement, rows, null);
      this.shift();
    }
  }

  /**
   * An ErrorResponse belongs to the first message still awaiting its answer;
   * in the extended protocol the rest of the batch is then skipped up to the
   * Sync (ReadyForQuery drops them). An error with nothing pending (a FATAL
   * between statements) belongs to no statement.
   */
  private failed(sqlstate: string | null): void {
    const kind = this.peek();
    const statement = this.refs[this.head] ?? null;
    switch (kind) {
      case Pending.Query:
        if (statement) {
          statement.errors++;
          statement.sqlstate = sqlstate;
        }
        return;
      case Pending.Execute:
        if (statement) this.executed(statement, 0, sqlstate);
        this.skipToBoundary();
        return;
      case Pending.Parse:
      case Pending.Bind:
        if (statement) {
          statement.errors++;
          statement.sqlstate = sqlstate;
          if (statement.since === 0) statement.since = performance.now();
          if (statement.detached) this.flush(statement);
        }
        this.skipToBoundary();
        return;
    }
  }

  private skipToBoundary(): void {
    while (this.head < this.tail && this.kinds[this.head] !== Pending.Boundary) this.head++;
  }

  /** ReadyForQuery: the first Query or Sync pending is answered, with whatever it skipped. */
  private ready(): void {
    this.boundariesSeen++;
    if (!this.following) {
      if (this.boundariesSeen >= this.boundariesSent) this.following = true;
      return;
    }
    while (this.head < this.tail) {
      const kind = this.kinds[this.head]!;
      if (kind === Pending.Query) {
        this.flushQueryAtHead();
        break;
      }
      this.head++;
      if (kind === Pending.Boundary) break;
    }
    if (this.head === this.tail) this.clearPending();
    if (this.unnamed?.pending) this.flush(this.unnamed);
    this.reportLongRunning();
  }

  private flushQueryAtHead(): void {
    if (this.peek() !== Pending.Query) return;
    const statement = this.refs[this.head];
    if (statement) {
      statement.executions = 1;
      statement.durationMs = performance.now() - this.started[this.head]!;
      this.flush(statement);
    }
    this.shift();
  }

  // ---- statements ----

  private text(
    frame: Buffer,
    start: number,
    protocol: 'simple' | 'extended',
    prepared: string | null,
  ): Statement {
    const nul = frame.indexOf(0, start);
    const end = nul < 0 ? frame.length : nul;
    const kept = Math.min(end, start + STATEMENT_TEXT_LIMIT);
    return new Statement(frame.toString('utf8', start, kept), kept < end, protocol, prepared);
  }

  /** A Parse: the statement it replaces is reported first, so nothing is lost. */
  private parsed(name: string | null, statement: Statement): Statement {
    if (name === null) {
      if (this.unnamed) this.detach(this.unnamed);
      this.unnamed = statement;
      return statement;
    }
    const previous = this.named.get(name);
    if (previous) this.detach(previous);
    this.named.delete(name);
    this.track(name, statement);
    return statement;
  }

  /**
   * A named statement bound: the one parsed in this session, or (evicted past
   * the limit) a stand-in without text that counts its executions from now on.
   */
  private namedStatement(name: string): Statement {
    return this.named.get(name) ?? this.track(name, new Statement('', true, 'extended', name));
  }

  /** Past the limit, the oldest statement is reported and forgotten. */
  private track(name: string, statement: Statement): Statement {
    if (this.named.size >= TRACKED_PREPARED_LIMIT) {
      const [oldestName, oldest] = this.named.entries().next().value!;
      this.detach(oldest);
      this.named.delete(oldestName);
    }
    this.named.set(name, statement);
    return statement;
  }

  private closeStatement(name: string): void {
    if (name === '') {
      if (this.unnamed) this.detach(this.unnamed);
      this.unnamed = null;
      return;
    }
    const statement = this.named.get(name);
    if (!statement) return;
    this.detach(statement);
    this.named.delete(name);
  }

  /** No longer reachable by name: reported now, and again for results still on their way. */
  private detach(statement: Statement): void {
    this.flush(statement);
    statement.detached = true;
  }

  private executed(statement: Statement, rows: number, sqlstate: string | null): void {
    const now = performance.now();
    if (statement.since === 0) statement.since = now;
    statement.executions++;
    statement.rows += rows;
    statement.durationMs += now - this.started[this.head]!;
    if (sqlstate !== null) {
      statement.errors++;
      statement.sqlstate = sqlstate;
    }
    if (statement.detached) this.flush(statement);
  }

  /** Named statements executed for a while are reported without waiting for their end. */
  private reportLongRunning(): void {
    if (this.named.size === 0) return;
    const due = performance.now() - AGGREGATE_REPORT_MS;
    for (const statement of this.named.values()) {
      if (statement.pending && statement.since <= due) this.flush(statement);
    }
  }

  private flush(statement: Statement): void {
    if (!statement.pending) return;
    this.report({
      text: statement.text,
      truncated: statement.truncated,
      protocol: statement.protocol,
      prepared: statement.prepared,
      executions: statement.executions,
      rows: statement.rows,
      durationMs: Math.round(statement.durationMs * 1000) / 1000,
      errors: statement.errors,
      sqlstate: statement.sqlstate,
    });
    statement.executions = statement.rows = statement.durationMs = statement.errors = 0;
    statement.sqlstate = null;
    statement.since = 0;
  }
}

/** The row count at the end of a CommandComplete tag (`SELECT 5`, `INSERT 0 5`, `COPY 5`), else 0. */
function rowsOfTag(frame: Buffer): number {
  let end = frame.length - 1; // the tag's NUL
  let rows = 0;
  let scale = 1;
  let i = end - 1;
  for (; i > 5; i--) {
    const digit = frame[i]! - 0x30;
    if (digit < 0 || digit > 9) break;
    rows += digit * scale;
    scale *= 10;
  }
  end = i;
  return end < frame.length - 2 && frame[end] === 0x20 ? rows : 0;
}

/** The SQLSTATE field (`C`) of an ErrorResponse, without parsing the others. */
function sqlstateOf(frame: Buffer): string | null {
  for (let i = 5; i < frame.length && frame[i] !== 0;) {
    const end = frame.indexOf(0, i + 1);
    if (end < 0) return null;
    if (frame[i] === 0x43 /* C */) return frame.toString('latin1', i + 1, end);
    i = end + 1;
  }
  return null;
}
