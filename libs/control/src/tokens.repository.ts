import type { PrismaClient } from './generated/prisma/client';
import type { ScramVerifierRecord } from './entities.repository';
import { fromStoredLevel, toStoredLevel, type GrantLevel } from './levels';

/** An API token as the control plane keeps it (hashes and verifiers, never the secret). */
export interface TokenRecord {
  readonly id: string;
  readonly entityId: string;
  readonly name: string;
  /** Empty: any database the owner can reach. */
  readonly databaseIds: readonly string[];
  readonly maxLevel: GrantLevel | null;
  readonly expiresAt: Date | null;
  readonly revokedAt: Date | null;
  readonly lastUsedAt: Date | null;
  readonly createdAt: Date;
}

export interface TokenSecrets {
  readonly bcrypt: string;
  readonly verifier: ScramVerifierRecord;
}

export interface NewToken extends TokenSecrets {
  readonly id: string;
  readonly entityId: string;
  readonly name: string;
  readonly databaseIds: readonly string[];
  readonly maxLevel: GrantLevel | null;
  readonly expiresAt: Date | null;
}

type TokenRow = Awaited<ReturnType<PrismaClient['apiToken']['findFirstOrThrow']>>;

export class TokensRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async create(token: NewToken): Promise<TokenRecord> {
    const row = await this.prisma.apiToken.create({
      data: {
        id: token.id,
        entityId: token.entityId,
        name: token.name,
        bcrypt: token.bcrypt,
        storedKey: new Uint8Array(token.verifier.storedKey),
        serverKey: new Uint8Array(token.verifier.serverKey),
        databaseIds: [...token.databaseIds],
        maxLevel: token.maxLevel ? toStoredLevel(token.maxLevel) : null,
        expiresAt: token.expiresAt,
      },
    });
    return toRecord(row);
  }

  async listForEntity(entityId: string): Promise<TokenRecord[]> {
    const rows = await this.prisma.apiToken.findMany({
      where: { entityId },
      orderBy: { createdAt: 'desc' },
    });
    return rows.map(toRecord);
  }

  async findById(id: string): Promise<(TokenRecord & TokenSecrets) | null> {
    const row = await this.prisma.apiToken.findUnique({ where: { id } });
    return row && { ...toRecord(row), ...secretsOf(row) };
  }

  /** Marks a token revoked; false when it was unknown or already revoked. */
  async revoke(id: string, at = new Date()): Promise<boolean> {
    const { count } = await this.prisma.apiToken.updateMany({
      where: { id, revokedAt: null },
      data: { revokedAt: at },
    });
    return count === 1;
  }

  async touch(id: string, at = new Date()): Promise<void> {
    await this.prisma.apiToken.updateMany({ where: { id }, data: { lastUsedAt: at } });
  }
}

function toRecord(row: TokenRow): TokenRecord {
  return {
    id: row.id,
    entityId: row.entityId,
    name: row.name,
    databaseIds: row.databaseIds,
    maxLevel: row.maxLevel ? fromStoredLevel(row.maxLevel) : null,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    lastUsedAt: row.lastUsedAt,
    createdAt: row.createdAt,
  };
}

function secretsOf(row: TokenRow): TokenSecrets {
  return {
    bcrypt: row.bcrypt,
    verifier: { storedKey: Buffer.from(row.storedKey), serverKey: Buffer.from(row.serverKey) },
  };
}
