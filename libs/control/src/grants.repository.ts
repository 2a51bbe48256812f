import type { PrismaClient } from './generated/prisma/client';
import { fromStoredLevel, toStoredLevel, type GrantLevel } from './levels';

export interface GrantRecord {
  readonly databaseId: string;
  readonly entityId: string;
  readonly entitySlug: string;
  readonly level: GrantLevel;
}

export class GrantsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async put(databaseId: string, entityId: string, level: GrantLevel): Promise<void> {
    const stored = toStoredLevel(level);
    await this.prisma.grant.upsert({
      where: { databaseId_entityId: { databaseId, entityId } },
      create: { databaseId, entityId, level: stored },
      update: { level: stored },
    });
  }

  async remove(databaseId: string, entityId: string): Promise<boolean> {
    const { count } = await this.prisma.grant.deleteMany({ where: { databaseId, entityId } });
    return count === 1;
  }

  async listForDatabase(databaseId: string): Promise<GrantRecord[]> {
    const rows = await this.prisma.grant.findMany({
      where: { databaseId },
      include: { entity: { select: { slug: true } } },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((row) => ({
      databaseId: row.databaseId,
      entityId: row.entityId,
      entitySlug: row.entity.slug,
      level: fromStoredLevel(row.level),
    }));
  }

  /**
   * Levels granted on one database to a user directly or to any organisation
   * the user belongs to: the inputs of the effective level.
   */
  async levelsForUser(databaseId: string, userId: string): Promise<GrantLevel[]> {
    const rows = await this.prisma.grant.findMany({
      where: {
        databaseId,
        // A disabled organisation's grants confer nothing while it is disabled.
        OR: [{ entityId: userId }, { entity: { disabled: false, members: { some: { userId } } } }],
      },
      select: { level: true },
    });
    return rows.map((row) => fromStoredLevel(row.level));
  }
}
