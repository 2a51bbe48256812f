import { Injectable } from '@nestjs/common';
import {
  effectiveLevelOf,
  minLevel,
  parseDatabaseReference,
  type AccessLevel,
  type DatabaseRecord,
  type GrantLevel,
  type IdentityData,
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
   * The database a wire login may use under `reference` (`owner/name`, or
   * `name` of its own) and the level it has there, or null when the database
   * does not exist *or* is not visible to it: the caller answers both with
   * the same 3D000, so private names do not leak. Answered from the identity
   * snapshot (no control-plane query on a login), which is current once a
   * change's notification has arrived; `resolveNow` reads the tables.
   */
  async resolve(
    login: { id: string; slug: string },
    reference: string,
    cap: AccessCap | null = null,
  ): Promise<DatabaseAccess | null> {
    const data = await this.cluster.control.identity.current();
    const database = findIn(data, reference, login.slug);
    if (!database || outsideCap(database, cap)) return null;
    const level = capped(data.effectiveLevel(login.id, database), cap);
    return level ? { database, level } : null;
  }

  /** As `resolve`, read from the control plane's tables now. */
  async resolveNow(
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
    if (outsideCap(database, cap)) return null;
    return capped(await this.effectiveLevel(userId, database), cap);
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
   * `effectiveLevelOf` over the tables now: direct grants and grants to the
   * user's enabled organisations, the role in an owning organisation.
   * Nothing while the owner is disabled: a disabled user's or organisation's
   * databases are suspended. (A login as the owner itself never gets here:
   * disabled users cannot log in.)
   */
  async effectiveLevel(userId: string, database: DatabaseRecord): Promise<AccessLevel | null> {
    if (database.ownerId === userId) return 'owner';
    const { grants, memberships, entities } = this.cluster.control;
    const ownerEnabled = (await entities.findById(database.ownerId))?.disabled === false;
    if (!ownerEnabled) return null;
    return effectiveLevelOf({
      isOwner: false,
      ownerEnabled,
      grantLevels: await grants.levelsForUser(database.id, userId),
      roleInOwner: await memberships.roleOf(database.ownerId, userId),
    });
  }
}

/** The snapshot's answer to `find`. */
export function findIn(
  data: IdentityData,
  reference: string,
  loginSlug: string,
): DatabaseRecord | null {
  const parsed = parseDatabaseReference(reference, loginSlug);
  let database = parsed ? data.databaseByName(parsed.owner, parsed.name) : null;
  if (!database && PHYSICAL_NAME.test(reference)) database = data.databaseByPhysicalName(reference);
  return database?.provisioned ? database : null;
}

function outsideCap(database: DatabaseRecord, cap: AccessCap | null): boolean {
  return !!cap && cap.databaseIds.length > 0 && !cap.databaseIds.includes(database.id);
}

function capped(level: AccessLevel | null, cap: AccessCap | null): AccessLevel | null {
  return level && cap?.maxLevel ? minLevel(level, cap.maxLevel) : level;
}
