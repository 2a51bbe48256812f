import type pg from 'pg';
import type { Prisma, PrismaClient } from './generated/prisma/client';
import { STATEMENT_KIND, StatementLog } from './statement-log';

/** One audit event. `detail` must never carry a secret. */
export interface AuditEventInput {
  readonly kind: string;
  readonly outcome: 'success' | 'failure';
  readonly actor?: string | null;
  readonly actorId?: string | null;
  readonly source?: string | null;
  readonly method?: string | null;
  readonly databaseId?: string | null;
  readonly database?: string | null;
  readonly detail?: Readonly<Record<string, string | number | boolean | null>>;
}

export interface AuditEventRecord extends AuditEventInput {
  readonly id: string;
  readonly at: Date;
}

export interface AuditQuery {
  readonly actorId?: string;
  readonly databaseId?: string;
  /**
   * Events about the database `owner/name`: by its id, or by the name they
   * recorded (events outliving a deleted database, events without an id).
   */
  readonly database?: { readonly id: string | null; readonly reference: string };
  readonly kind?: string;
  readonly since?: Date;
  readonly until?: Date;
  /** Keyset paging: events older than this id. */
  readonly before?: string;
  readonly limit: number;
  /**
   * Only events this actor caused or that concern one of these databases;
   * absent: every event (site admins).
   */
  readonly visibleTo?: { readonly actorId: string | null; readonly databaseIds: readonly string[] };
}

/** How long an event may wait for others to share its INSERT. */
const BATCH_DELAY_MS = 20;
/** Events per INSERT. */
const BATCH_ROWS = 200;
/** Events waiting at most; beyond, `record` fails (memory stays bounded when the database stalls). */
const MAX_QUEUED = 10_000;

const IGNORED = { resolve: () => undefined, reject: () => undefined };

interface QueuedEvent {
  readonly event: AuditEventInput;
  readonly written: { resolve: () => void; reject: (err: Error) => void };
}

export class AuditRepository {
  private readonly observers = new Set<(event: AuditEventInput) => void>();
  /** Applied to each event as its batch is written, off the path that recorded it. */
  private beforeWrite: ((event: AuditEventInput) => AuditEventInput) | null = null;
  private queue: QueuedEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  /** The wire's statements (`wire.query`), in a table of their own; read here with the rest. */
  readonly statements: StatementLog;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly pool: pg.Pool,
  ) {
    this.statements = new StatementLog(prisma, pool, (write) => this.inOrder(write));
  }

  /**
   * Calls `observer` with every event as it is recorded, before it is written (metrics count
   * logins and queries from here). Returns its removal.
   */
  observe(observer: (event: AuditEventInput) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /**
   * Resolves once the event is stored. Events are written in batches (one
   * INSERT per up to 200 events, at most 20 ms after the first), in plain
   * SQL: every login records one, and one round trip and statement per
   * login was most of what a pooled login cost PostgreSQL.
   */
  record(event: AuditEventInput): Promise<void> {
    for (const observer of this.observers) observer(event);
    if (this.queue.length >= MAX_QUEUED) {
      return Promise.reject(new Error('audit queue full: the control plane is not keeping up'));
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ event, written: { resolve, reject } });
      if (this.queue.length >= BATCH_ROWS) this.writeBatch();
      else this.timer ??= setTimeout(() => this.writeBatch(), BATCH_DELAY_MS);
    });
  }

  /**
   * Queues an event without waiting for it: for the wire relay, which records a
   * statement per ReadyForQuery and must never wait on the control plane. False
   * when the queue is full (the event is dropped; the caller counts it).
   */
  enqueue(event: AuditEventInput): boolean {
    for (const observer of this.observers) observer(event);
    if (this.queue.length >= MAX_QUEUED) return false;
    this.queue.push({ event, written: IGNORED });
    if (this.queue.length >= BATCH_ROWS) this.writeBatch();
    else this.timer ??= setTimeout(() => this.writeBatch(), BATCH_DELAY_MS);
    return true;
  }

  /** `transform` rewrites each event when its batch is written (literal redaction). */
  transformBeforeWrite(transform: ((event: AuditEventInput) => AuditEventInput) | null): void {
    this.beforeWrite = transform;
  }

  /**
   * Deletes events (statements included) recorded before `cutoff`, at most
   * `batch` rows per statement so that a long backlog never holds one huge
   * transaction; returns how many.
   */
  async deleteOlderThan(cutoff: Date, batch = 10_000): Promise<number> {
    let deleted = await this.statements.deleteOlderThan(cutoff, batch);
    for (;;) {
      const result = await this.pool.query(
        `DELETE FROM audit_event WHERE id IN
           (SELECT id FROM audit_event WHERE at < $1 ORDER BY at LIMIT $2)`,
        [cutoff, batch],
      );
      deleted += result.rowCount ?? 0;
      if ((result.rowCount ?? 0) < batch) return deleted;
    }
  }

  /** Writes whatever is queued (shutdown). */
  async flush(): Promise<void> {
    while (this.queue.length > 0) this.writeBatch();
    await this.statements.flush();
    await this.writing;
  }

  private writeBatch(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.queue.splice(0, BATCH_ROWS);
    if (batch.length === 0) return;
    if (this.queue.length > 0) this.timer = setTimeout(() => this.writeBatch(), 0);
    void this.inOrder(() =>
      this.insert(batch.map((queued) => this.prepared(queued.event))).then(
        () => batch.forEach((queued) => queued.written.resolve()),
        (err: Error) => batch.forEach((queued) => queued.written.reject(err)),
      ),
    );
  }

  /**
   * One write at a time, events and statements alike, in the order they were
   * handed over: `write` must not reject.
   */
  private inOrder(write: () => Promise<void>): Promise<void> {
    this.writing = this.writing.then(write);
    return this.writing;
  }

  /**
   * A transform that throws must neither lose the batch nor let through what it
   * was to remove: the event is written without its detail.
   */
  private prepared(event: AuditEventInput): AuditEventInput {
    if (!this.beforeWrite) return event;
    try {
      return this.beforeWrite(event);
    } catch {
      return { ...event, detail: { transformFailed: true } };
    }
  }

  /**
   * One statement per batch, its rows as one JSON document: a single native
   * JSON.stringify instead of nine parameter arrays escaped element by element
   * (the wire's statement events make this the busiest write of the gateway).
   * The record's column names are the event's own keys; a missing one is NULL.
   */
  private async insert(events: readonly AuditEventInput[]): Promise<void> {
    await this.pool.query(
      `INSERT INTO audit_event (kind, outcome, actor, actor_id, source, method, database_id, database, detail)
       SELECT kind, outcome, actor, "actorId", source, method, "databaseId", database, detail
         FROM jsonb_to_recordset($1::jsonb) AS e(kind text, outcome text, actor text, "actorId" uuid,
              source text, method text, "databaseId" uuid, database text, detail jsonb)`,
      [JSON.stringify(events)],
    );
  }

  /**
   * Newest first: audit_event's events and the statement log's, merged by id
   * (one sequence numbers both, so `before` pages both at once).
   */
  async query(query: AuditQuery): Promise<AuditEventRecord[]> {
    const where: Where = {
      actorId: query.actorId,
      databaseId: query.databaseId,
      at: { gte: query.since, lte: query.until },
      id: query.before ? { lt: BigInt(query.before) } : undefined,
      AND: [databaseCondition(query.database), visibilityCondition(query.visibleTo)],
    };
    const [events, statements] = await Promise.all([
      query.kind === STATEMENT_KIND ? [] : this.events({ ...where, kind: query.kind }, query.limit),
      query.kind === undefined || query.kind === STATEMENT_KIND
        ? this.statements.query(where as unknown as Prisma.StatementEventWhereInput, query.limit)
        : [],
    ]);
    return newestFirst(events, statements, query.limit);
  }

  private async events(where: Where, limit: number): Promise<AuditEventRecord[]> {
    const rows = await this.prisma.auditEvent.findMany({
      where,
      orderBy: { id: 'desc' },
      take: limit,
    });
    return rows.map((row) => ({
      id: row.id.toString(),
      at: row.at,
      kind: row.kind,
      outcome: row.outcome as 'success' | 'failure',
      actor: row.actor,
      actorId: row.actorId,
      source: row.source,
      method: row.method,
      databaseId: row.databaseId,
      database: row.database,
      detail: (row.detail ?? undefined) as AuditEventRecord['detail'],
    }));
  }
}

/** The first `limit` of two lists each sorted newest first, merged. */
function newestFirst(
  a: readonly AuditEventRecord[],
  b: readonly AuditEventRecord[],
  limit: number,
): AuditEventRecord[] {
  if (b.length === 0) return a.slice(0, limit);
  if (a.length === 0) return b.slice(0, limit);
  const merged: AuditEventRecord[] = [];
  let i = 0;
  let j = 0;
  while (merged.length < limit && (i < a.length || j < b.length)) {
    const takeA = j >= b.length || (i < a.length && BigInt(a[i]!.id) > BigInt(b[j]!.id));
    merged.push(takeA ? a[i++]! : b[j++]!);
  }
  return merged;
}

type Where = NonNullable<
  NonNullable<Parameters<PrismaClient['auditEvent']['findMany']>[0]>['where']
>;

function databaseCondition(database: AuditQuery['database']): Where {
  if (!database) return {};
  const byName = { database: database.reference };
  return database.id ? { OR: [{ databaseId: database.id }, byName] } : byName;
}

function visibilityCondition(visibleTo: AuditQuery['visibleTo']): Where {
  if (!visibleTo) return {};
  const own = visibleTo.actorId ? [{ actorId: visibleTo.actorId }] : [];
  return { OR: [...own, { databaseId: { in: [...visibleTo.databaseIds] } }] };
}
