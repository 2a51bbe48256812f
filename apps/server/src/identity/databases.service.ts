import { Injectable } from '@nestjs/common';
import { assertValidName, type DatabaseRecord } from '#control';
import { newPhysicalDatabase, provisionDatabase } from '#engine';
import { ClusterService } from '../engine/cluster.service';

@Injectable()
export class DatabasesService {
  constructor(private readonly cluster: ClusterService) {}

  /**
   * Records the database first, then provisions it upstream: a crash in
   * between leaves an unprovisioned record that `ensureProvisioned` completes.
   */
  async createDatabase(ownerId: string, name: string): Promise<DatabaseRecord> {
    assertValidName('database name', name);
    const record = await this.cluster.control.databases.create({
      ownerId,
      name,
      ...newPhysicalDatabase(),
    });
    return this.ensureProvisioned(record);
  }

  async ensureProvisioned(record: DatabaseRecord): Promise<DatabaseRecord> {
    if (record.provisioned) return record;
    await provisionDatabase(this.cluster.endpoint, record);
    await this.cluster.control.databases.markProvisioned(record.id);
    return { ...record, provisioned: true };
  }
}
