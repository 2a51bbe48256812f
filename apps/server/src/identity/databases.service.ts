import { Injectable } from '@nestjs/common';
import { assertValidName, type DatabaseRecord } from '#control';
import { dropDatabase, newPhysicalDatabase, provisionDatabase } from '#engine';
import { ClusterService } from '../engine/cluster.service';
import { logSink } from '../logging';

@Injectable()
export class DatabasesService {
  private readonly log = logSink('Databases');

  constructor(private readonly cluster: ClusterService) {}

  /**
   * Records the database first, then provisions it upstream: a crash in
   * between leaves an unprovisioned record that `ensureProvisioned` completes.
   * A provisioning that fails takes everything back (physical database,
   * roles, record) before the error goes on: nothing half-made stays behind
   * (HARD-07).
   */
  async createDatabase(ownerId: string, name: string): Promise<DatabaseRecord> {
    assertValidName('database name', name);
    const record = await this.cluster.control.databases.create({
      ownerId,
      name,
      ...newPhysicalDatabase(),
    });
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
