import type pg from 'pg';
import type { PrismaClient } from './generated/prisma/client';

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

export class AuditRepository {
  private readonly observers = new Set<(event: AuditEventInput) => void>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly pool: pg.Pool,
  ) {}

  /**
   * Calls `observer` with every event as it is recorded, before it is written (metrics count
   * logins and queries from here). Returns its removal.
   */
  observe(observer: (event: AuditEventInput) => void): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** Plain SQL: every login writes one, so this stays off Prisma's costlier path. */
  async record(event: AuditEventInput): Promise<void> {
    for (const observer of this.observers) observer(event);
    await this.pool.query(
      `INSERT INTO audit_event (kind, outcome, actor, actor_id, source, method, database_id, database, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [
        event.kind,
        event.outcome,
        event.actor ?? null,
        event.actorId ?? null,
        event.source ?? null,
        event.method ?? null,
        event.databaseId ?? null,
        event.database ?? null,
        event.detail ? JSON.stringify(event.detail) : null,
      ],
    );
  }

  /** Newest first. */
  async query(query: AuditQuery): Promise<AuditEventRecord[]> {
    const rows = await this.prisma.auditEvent.findMany({
      where: {
        actorId: query.actorId,
        databaseId: query.databaseId,
        kind: query.kind,
        at: { gte: query.since, lte: query.until },
        id: query.before ? { lt: BigInt(query.before) } : undefined,
        AND: [databaseCondition(query.database), visibilityCondition(query.visibleTo)],
      },
      orderBy: { id: 'desc' },
      take: query.limit,
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
