import { ForbiddenException, Injectable, NotFoundException } from '@nestjs/common';
import { levelRank, type AccessLevel, type DatabaseLimits, type DatabaseRecord } from '#control';
import { dropDatabase } from '#engine';
import { ClusterService } from '../engine/cluster.service';
import { LiveSessions } from '../sessions/live-sessions.service';
import { auditActor, requireUnscoped, type Actor } from './actor';
import { unlessTaken } from './conflicts';
import { DatabaseAccessService } from './database-access.service';
import { DatabasesService } from './databases.service';
import { EntitiesService } from './entities.service';

export interface DatabaseView {
  readonly id: string;
  readonly owner: string;
  readonly name: string;
  /** The caller's effective level; null for a site admin without access of their own. */
  readonly level: AccessLevel | null;
  /** Guardrail overrides (absent: the global setting applies). */
  readonly limits: DatabaseLimits;
}

/** A database the actor can see, and the actor's level on it. */
export interface VisibleDatabase {
  readonly database: DatabaseRecord;
  readonly level: AccessLevel | null;
}

/**
 * Databases as the admin API shows them. A database the caller cannot see
 * answers the same 404 as a missing one, as on the wire (3D000).
 */
@Injectable()
export class DatabaseCatalogService {
  constructor(
    private readonly cluster: ClusterService,
    private readonly access: DatabaseAccessService,
    private readonly databases: DatabasesService,
    private readonly entities: EntitiesService,
    private readonly sessions: LiveSessions,
  ) {}

  /**
   * For oneself, for an organisation one administers, or (site admins) for
   * anyone. Posting again after a failed provisioning completes it.
   */
  async create(actor: Actor, ownerSlug: string, name: string): Promise<DatabaseView> {
    requireUnscoped(actor);
    const owner = await this.entities.visible(actor, ownerSlug);
    if (owner.id !== actor.id && !actor.isSiteAdmin) {
      const role = await this.cluster.control.memberships.roleOf(owner.id, actor.id);
      if (role !== 'admin') {
        throw new ForbiddenException(`only admins of "${owner.slug}" create its databases`);
      }
    }
    const reference = `${owner.slug}/${name}`;
    const unfinished = await this.cluster.control.databases.findByName(owner.slug, name);
    const record =
      unfinished?.provisioned === false
        ? await this.databases.ensureProvisioned(unfinished)
        : await unlessTaken(
            this.databases.createDatabase(owner.id, name),
            `database "${reference}" already exists`,
          );
    await this.cluster.control.audit.record({
      kind: 'database.create',
      outcome: 'success',
      ...auditActor(actor),
      databaseId: record.id,
      database: reference,
    });
    return toView(record, await this.access.effectiveLevel(actor.id, record));
  }

  async list(actor: Actor): Promise<DatabaseView[]> {
    const { databases } = this.cluster.control;
    const candidates = actor.isSiteAdmin
      ? await databases.listProvisioned()
      : await databases.listProvisionedForUser(actor.id);
    const views: DatabaseView[] = [];
    for (const database of candidates) {
      const level = await this.access.cappedLevel(actor.id, database, actor.cap);
      if (level !== null || actor.isSiteAdmin) views.push(toView(database, level));
    }
    return views;
  }

  async get(actor: Actor, owner: string, name: string): Promise<DatabaseView> {
    const { database, level } = await this.visible(actor, owner, name);
    return toView(database, level);
  }

  /**
   * Owners (and admins of an owning organisation) and site admins. Live
   * sessions end first; dropping is idempotent, so a failed delete can be
   * repeated, and the record goes last, freeing the name.
   */
  async delete(actor: Actor, owner: string, name: string): Promise<void> {
    const { database, level } = await this.visible(actor, owner, name);
    if (level !== 'owner' && !actor.isSiteAdmin) {
      throw new ForbiddenException('only the owner deletes a database');
    }
    const reference = `${database.ownerSlug}/${database.name}`;
    await this.sessions.terminate((s) => s.databaseId === database.id, `${reference} deleted`);
    await dropDatabase(this.cluster.endpoint, database);
    await this.cluster.control.databases.remove(database.id);
    await this.cluster.control.audit.record({
      kind: 'database.delete',
      outcome: 'success',
      ...auditActor(actor),
      databaseId: database.id,
      database: reference,
    });
  }

  /**
   * Replaces the database's guardrail overrides (managers, owners, site
   * admins). New sessions use them; established ones keep theirs.
   */
  async setLimits(
    actor: Actor,
    owner: string,
    name: string,
    limits: DatabaseLimits,
  ): Promise<DatabaseView> {
    const { database, level } = await this.visible(actor, owner, name);
    if (!atLeast(level, 'manager') && !actor.isSiteAdmin) {
      throw new ForbiddenException('only managers and owners set the limits of a database');
    }
    await this.cluster.control.databases.setLimits(database.id, limits);
    await this.cluster.control.audit.record({
      kind: 'database.limits',
      outcome: 'success',
      ...auditActor(actor),
      databaseId: database.id,
      database: `${database.ownerSlug}/${database.name}`,
      detail: { ...limits },
    });
    return toView({ ...database, limits }, level);
  }

  /** The database `owner/name` if the actor may see it, else 404. */
  async visible(actor: Actor, owner: string, name: string): Promise<VisibleDatabase> {
    const reference = `${owner}/${name}`;
    const database = await this.access.find(reference, actor.slug);
    const level = database && (await this.access.cappedLevel(actor.id, database, actor.cap));
    if (!database || (level === null && !actor.isSiteAdmin)) {
      throw new NotFoundException(`database "${reference}" not found`);
    }
    return { database, level };
  }
}

export function atLeast(level: AccessLevel | null, wanted: AccessLevel): boolean {
  return level !== null && levelRank(level) >= levelRank(wanted);
}

function toView(database: DatabaseRecord, level: AccessLevel | null): DatabaseView {
  return {
    id: database.id,
    owner: database.ownerSlug,
    name: database.name,
    level,
    limits: database.limits,
  };
}
