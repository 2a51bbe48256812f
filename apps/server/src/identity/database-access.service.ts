import { Injectable } from '@nestjs/common';
import {
  maxLevel,
  minLevel,
  parseDatabaseReference,
  type AccessLevel,
  type DatabaseRecord,
  type GrantLevel,
} from '#control';
import { ClusterService } from '../engine/cluster.service';

export type { AccessLevel };

/** How provisioning names a tenant's physical database. */
const PHYSICAL_NAME = /^pdb_[0-9a-f]{16}$/;

export interface DatabaseAccess {
  readonly database: DatabaseRecord;
  readonly level: AccessLevel;
}

/** Optional limits of the credential used (an API token's scope). */
export interface AccessCap {
  readonly databaseIds: readonly string[];
  readonly maxLevel: GrantLevel | null;
}

@Injectable()
export class DatabaseAccessService {
  constructor(private readonly cluster: ClusterService) {}

  /**
   * The database a login may use under `reference` (`owner/name`, or `name`
   * of its own) and the level it has there, or null when the database does
   * not exist *or* is not visible to it: the caller answers both with the
   * same 3D000, so private names do not leak.
   */
  async resolve(
    login: { id: string; slug: string },
    reference: string,
    cap: AccessCap | null = null,
  ): Promise<DatabaseAccess | null> {
    const database = await this.find(reference, login.slug);
    if (!database) return null;
    const level = await this.cappedLevel(login.id, database, cap);
    return level ? { database, level } : null;
  }

  /** The effective level narrowed by a credential's scope; null outside the scope. */
  async cappedLevel(
    userId: string,
    database: DatabaseRecord,
    cap: AccessCap | null,
  ): Promise<AccessLevel | null> {
    if (cap && cap.databaseIds.length > 0 && !cap.databaseIds.includes(database.id)) return null;
    const level = await this.effectiveLevel(userId, database);
    return level && cap?.maxLevel ? minLevel(level, cap.maxLevel) : level;
  }

  /**
   * A provisioned database by its `owner/name`, `name` of `loginSlug`, or
   * physical name (`pdb_<16 hex>`, what `current_database()` shows and some
   * tools reconnect with). A database of the login's own with that very name
   * comes first.
   */
  async find(reference: string, loginSlug: string): Promise<DatabaseRecord | null> {
    const { logins } = this.cluster.control;
    const parsed = parseDatabaseReference(reference, loginSlug);
    let database = parsed ? await logins.databaseByName(parsed.owner, parsed.name) : null;
    if (!database && PHYSICAL_NAME.test(reference)) {
      database = await logins.databaseByPhysicalName(reference);
    }
    return database?.provisioned ? database : null;
  }

  /**
   * Highest of: ownership; for a database owned by an organisation, `owner`
   * for its admins and `read-write` for its members; direct grants; grants to
   * the user's organisations. Nothing while the owner is disabled: a
   * disabled user's or organisation's databases are suspended. (A login as
   * the owner itself never gets here: disabled users cannot log in.)
   */
  async effectiveLevel(userId: string, database: DatabaseRecord): Promise<AccessLevel | null> {
    if (database.ownerId === userId) return 'owner';
    const { grants, memberships, entities } = this.cluster.control;
    if ((await entities.findById(database.ownerId))?.disabled !== false) return null;
    const levels: AccessLevel[] = await grants.levelsForUser(database.id, userId);
    const role = await memberships.roleOf(database.ownerId, userId);
    if (role === 'admin') levels.push('owner');
    else if (role === 'member') levels.push('read-write');
    return maxLevel(levels);
  }
}
