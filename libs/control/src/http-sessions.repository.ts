import type { PrismaClient } from './generated/prisma/client';

/** A console/API login session. The bearer token itself is never stored, only its SHA-256. */
export interface HttpSessionRecord {
  readonly id: string;
  readonly entityId: string;
  readonly expiresAt: Date;
}

export class HttpSessionsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async create(tokenHash: Buffer, entityId: string, expiresAt: Date): Promise<HttpSessionRecord> {
    const row = await this.prisma.httpSession.create({
      data: { tokenHash: new Uint8Array(tokenHash), entityId, expiresAt },
    });
    return { id: row.id, entityId: row.entityId, expiresAt: row.expiresAt };
  }

  /** The session whose token hashes to `tokenHash`, unless it has expired. */
  async findLive(tokenHash: Buffer, now = new Date()): Promise<HttpSessionRecord | null> {
    const row = await this.prisma.httpSession.findFirst({
      where: { tokenHash: new Uint8Array(tokenHash), expiresAt: { gt: now } },
    });
    return row && { id: row.id, entityId: row.entityId, expiresAt: row.expiresAt };
  }

  async remove(id: string): Promise<void> {
    await this.prisma.httpSession.deleteMany({ where: { id } });
  }

  /** Every session of an entity but `keepId` (a password change ends the others). */
  async removeForEntity(entityId: string, keepId: string | null = null): Promise<void> {
    await this.prisma.httpSession.deleteMany({
      where: { entityId, ...(keepId ? { id: { not: keepId } } : {}) },
    });
  }

  /** Expired sessions of one entity; called at login so the table does not grow forever. */
  async removeExpired(entityId: string, now = new Date()): Promise<void> {
    await this.prisma.httpSession.deleteMany({ where: { entityId, expiresAt: { lte: now } } });
  }
}
