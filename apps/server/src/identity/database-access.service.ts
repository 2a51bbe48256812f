import { Injectable } from '@nestjs/common';
import { parseDatabaseReference, type DatabaseRecord } from '#control';
import { ClusterService } from '../engine/cluster.service';

export type AccessLevel = 'read-only' | 'read-write' | 'manager' | 'owner';

export interface DatabaseAccess {
  readonly database: DatabaseRecord;
  readonly level: AccessLevel;
}

@Injectable()
export class DatabaseAccessService {
  constructor(private readonly cluster: ClusterService) {}

  /**
   * The database a login may use under `reference` (`owner/name`, or `name`
   * of its own), or null when it does not exist *or* is not visible to it:
   * the caller answers both with the same 3D000, so private names do not leak.
   */
  async resolve(
    login: { id: string; slug: string },
    reference: string,
  ): Promise<DatabaseAccess | null> {
    const parsed = parseDatabaseReference(reference, login.slug);
    if (!parsed) return null;
    const database = await this.cluster.control.databases.findByName(parsed.owner, parsed.name);
    if (!database || !database.provisioned) return null;
    if (database.ownerId === login.id) return { database, level: 'owner' };
    return null;
  }
}
