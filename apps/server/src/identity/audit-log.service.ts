import { Injectable, NotFoundException } from '@nestjs/common';
import { parseDatabaseReference, type AuditEventRecord, type AuditQuery } from '#control';
import { ClusterService } from '../engine/cluster.service';
import type { Actor } from './actor';
import { atLeast } from './database-catalog.service';
import { DatabaseAccessService } from './database-access.service';

export interface AuditFilter {
  /** Slug of the entity that acted. */
  readonly entity?: string;
  /** `owner/name`. */
  readonly database?: string;
  readonly kind?: string;
  readonly since?: Date;
  readonly until?: Date;
  /** The `next` cursor of the previous page. */
  readonly before?: string;
  readonly limit: number;
}

export type AuditEventView = AuditEventRecord;

export interface AuditPage {
  /** Newest first. */
  readonly events: readonly AuditEventView[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  readonly next: string | null;
}

/**
 * The audit log for an actor. Site admins read everything; others the
 * events they caused and those about databases they own or manage (within
 * an API token's scope; a scoped token does not read its user's other
 * events). Filtering by an entity one cannot see answers an empty page, not
 * a 404, so slugs cannot be probed through it.
 */
@Injectable()
export class AuditLogService {
  constructor(
    private readonly cluster: ClusterService,
    private readonly access: DatabaseAccessService,
  ) {}

  async query(actor: Actor, filter: AuditFilter): Promise<AuditPage> {
    const { entities, databases, audit } = this.cluster.control;
    let actorId: string | undefined;
    if (filter.entity !== undefined) {
      const entity = await entities.findBySlug(filter.entity);
      if (!entity && actor.isSiteAdmin)
        throw new NotFoundException(`entity "${filter.entity}" not found`);
      if (!entity) return { events: [], next: null };
      actorId = entity.id;
    }
    let database: AuditQuery['database'];
    if (filter.database !== undefined) {
      const parsed = parseDatabaseReference(filter.database, actor.slug);
      const record = parsed && (await databases.findByName(parsed.owner, parsed.name));
      const reference = parsed ? `${parsed.owner}/${parsed.name}` : filter.database;
      database = { id: record?.id ?? null, reference };
    }
    const rows = await audit.query({
      actorId,
      database,
      kind: filter.kind,
      since: filter.since,
      until: filter.until,
      before: filter.before,
      limit: filter.limit + 1,
      visibleTo: actor.isSiteAdmin ? undefined : await this.scopeOf(actor),
    });
    const events = rows.slice(0, filter.limit);
    return { events, next: rows.length > filter.limit ? events[events.length - 1]!.id : null };
  }

  private async scopeOf(actor: Actor): Promise<AuditQuery['visibleTo']> {
    const candidates = await this.cluster.control.databases.listProvisionedForUser(actor.id);
    const databaseIds: string[] = [];
    for (const database of candidates) {
      const level = await this.access.cappedLevel(actor.id, database, actor.cap);
      if (atLeast(level, 'manager')) databaseIds.push(database.id);
    }
    return { actorId: actor.cap ? null : actor.id, databaseIds };
  }
}
