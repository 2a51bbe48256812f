import { ForbiddenException, Inject, Injectable } from '@nestjs/common';
import { assertValidName, type DatabaseRecord } from '#control';
import { dropDatabase, newPhysicalDatabase, provisionDatabase } from '#engine';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { ClusterService } from '../engine/cluster.service';
import { logSink } from '../logging';

@Injectable()
export class DatabasesService {
  private readonly log = logSink('Databases');

  constructor(
    private readonly cluster: ClusterService,
    @Inject(POSTERN_CONFIG) private readonly config: PosternConfig,
  ) {}

  /**
   * Records the database first, then provisions it upstream: a crash in
   * between leaves an unprovisioned record that `ensureProvisioned` completes.
   * A provisioning that fails takes everything back (physical database,
   * roles, record) before the error goes on: nothing half-made stays behind
   * (HARD-07). Each owner, user or organisation, may have at most
   * `POSTERN_MAX_DATABASES_PER_USER` databases: 403 beyond (HARD-06).
   */
  async createDatabase(ownerId: string, name: string): Promise<DatabaseRecord> {
    assertValidName('database name', name);
    const max = this.config.maxDatabasesPerOwner;
    const record = await this.cluster.control.databases.createWithinQuota(
      { ownerId, name, ...newPhysicalDatabase() },
      max,
    );
    if (!record) {
      throw new ForbiddenException(
        `database quota reached: an owner may have at most ${max} databases ` +
          '(POSTERN_MAX_DATABASES_PER_USER); delete one first',
      );
    }
    try {
      return await this.ensureProvisioned(record);
    } catch (err) {
      await this.discard(record);
      throw err;
    }
  }

  private async discard(record: DatabaseRecord): Promise<void> {
    try {
      await dropDatabase(this.cluster.endpoint, record);
      await this.cluster.control.databases.remove(record.id);
    } catch (err) {
      // Left as an unprovisioned record, invisible to logins; a retry completes or removes it.
      this.log.error(`could not take back failed database ${record.physicalName}: ${String(err)}`);
    }
  }

  async ensureProvisioned(record: DatabaseRecord): Promise<DatabaseRecord> {
    if (record.provisioned) return record;
    await provisionDatabase(this.cluster.endpoint, record);
    await this.cluster.control.databases.markProvisioned(record.id);
    return { ...record, provisioned: true };
  }
}
