import type { PrismaClient } from './generated/prisma/client';
import type { RolePasswords } from './role-passwords';

/** Credentials of one upstream login role of a tenant database (the password derived, never stored). */
export interface RoleCredentials {
  readonly role: string;
  readonly password: string;
}

export interface DatabaseRecord {
  readonly id: string;
  readonly ownerId: string;
  readonly ownerSlug: string;
  readonly name: string;
  readonly physicalName: string;
  readonly writer: RoleCredentials;
  readonly reader: RoleCredentials;
  readonly provisioned: boolean;
  /** Guardrail overrides; an absent key means the global setting. */
  readonly limits: DatabaseLimits;
  /**
   * When `limits` were read, in this process's order of reads: a later read
   * knows every change an earlier one knew (the pool keeps the newest
   * `poolSize` of sessions that read theirs at different times).
   */
  readonly limitsReadAt: number;
}

let limitsReads = 0;

/** The next DatabaseRecord.limitsReadAt, for a record whose limits were just read. */
export function nextLimitsRead(): number {
  return ++limitsReads;
}

/**
 * How a database's sessions hold upstream connections: `session`, to
 * their end; `transaction`, only for each transaction (or statement
 * outside one).
 */
export type PoolMode = 'session' | 'transaction';
export const POOL_MODES = ['session', 'transaction'] as const satisfies readonly PoolMode[];

/**
 * When a session-mode session takes its upstream connection: `login`
 * (BackendKeyData carries the backend's own pid), or `first-use`, when
 * the client first sends something (idle clients hold none; the client is
 * told a pid of the gateway's). Transaction mode is always first-use.
 */
export type UpstreamAssignment = 'login' | 'first-use';
export const UPSTREAM_ASSIGNMENTS = [
  'login',
  'first-use',
] as const satisfies readonly UpstreamAssignment[];

/** Per-database guardrails (0 switches one off for this database), pool mode and assignment. */
export interface DatabaseLimits {
  /** Absent: session pooling. */
  readonly poolMode?: PoolMode;
  /** Absent: at login. */
  readonly upstreamAssignment?: UpstreamAssignment;
  /**
   * Upstream connections per level (1 up to the gateway's pool size, which
   * bounds it still); absent: the gateway's pool size.
   */
  readonly poolSize?: number;
  readonly statementTimeoutMs?: number;
  readonly idleInTransactionTimeoutMs?: number;
  readonly idleSessionTimeoutMs?: number;
  readonly maxResultRows?: number;
  readonly maxResultBytes?: number;
  /** Established sessions on this database, all logins together. */
  readonly maxConnections?: number;
}

export const DATABASE_LIMIT_KEYS = [
  'statementTimeoutMs',
  'idleInTransactionTimeoutMs',
  'idleSessionTimeoutMs',
  'maxResultRows',
  'maxResultBytes',
  'maxConnections',
] as const satisfies ReadonlyArray<keyof DatabaseLimits>;

export interface NewDatabase {
  readonly ownerId: string;
  readonly name: string;
  readonly physicalName: string;
  readonly writer: { readonly role: string };
  readonly reader: { readonly role: string };
}

const OWNER_SLUG = { owner: { select: { slug: true } } } as const;

type DatabaseRow = Awaited<ReturnType<PrismaClient['database']['findFirstOrThrow']>> & {
  owner: { slug: string };
};

export class DatabasesRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly passwords: RolePasswords,
  ) {}

  async findByName(ownerSlug: string, name: string): Promise<DatabaseRecord | null> {
    const row = await this.prisma.database.findFirst({
      where: { name, owner: { slug: ownerSlug } },
      include: { owner: { select: { slug: true } } },
    });
    return row && this.toRecord(row);
  }

  async findById(id: string): Promise<DatabaseRecord | null> {
    const row = await this.prisma.database.findUnique({ where: { id }, include: OWNER_SLUG });
    return row && this.toRecord(row);
  }

  async findByIds(ids: readonly string[]): Promise<DatabaseRecord[]> {
    const rows = await this.prisma.database.findMany({
      where: { id: { in: [...ids] } },
      include: OWNER_SLUG,
    });
    return rows.map((row) => this.toRecord(row));
  }

  /** Every provisioned database, by owner and name. */
  async listProvisioned(): Promise<DatabaseRecord[]> {
    const rows = await this.prisma.database.findMany({
      where: { provisionedAt: { not: null } },
      include: OWNER_SLUG,
      orderBy: [{ owner: { slug: 'asc' } }, { name: 'asc' }],
    });
    return rows.map((row) => this.toRecord(row));
  }

  /**
   * Provisioned databases a user may have some access to: its own, its
   * organisations', and those granted to it or to its organisations. The
   * caller still computes the effective level of each.
   */
  async listProvisionedForUser(userId: string): Promise<DatabaseRecord[]> {
    const member = { members: { some: { userId } } };
    const rows = await this.prisma.database.findMany({
      where: {
        provisionedAt: { not: null },
        OR: [
          { ownerId: userId },
          { owner: member },
          { grants: { some: { OR: [{ entityId: userId }, { entity: member }] } } },
        ],
      },
      include: OWNER_SLUG,
      orderBy: [{ owner: { slug: 'asc' } }, { name: 'asc' }],
    });
    return rows.map((row) => this.toRecord(row));
  }

  /**
   * Records a new database unless its owner already has `maxPerOwner`
   * (records being provisioned included); null then. The owner's row is
   * locked for the count and the insert, so concurrent creations cannot
   * pass the quota together (HARD-06).
   */
  async createWithinQuota(
    database: NewDatabase,
    maxPerOwner: number,
  ): Promise<DatabaseRecord | null> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM entity WHERE id = ${database.ownerId}::uuid FOR UPDATE`;
      const owned = await tx.database.count({ where: { ownerId: database.ownerId } });
      if (owned >= maxPerOwner) return null;
      const row = await tx.database.create({
        data: {
          ownerId: database.ownerId,
          name: database.name,
          physicalName: database.physicalName,
          writerRole: database.writer.role,
          readerRole: database.reader.role,
        },
        include: OWNER_SLUG,
      });
      return this.toRecord(row);
    });
  }

  async remove(id: string): Promise<void> {
    await this.prisma.database.deleteMany({ where: { id } });
  }

  async setLimits(id: string, limits: DatabaseLimits): Promise<void> {
    await this.prisma.database.update({ where: { id }, data: { limits: { ...limits } } });
  }

  async markProvisioned(id: string): Promise<void> {
    await this.prisma.database.update({ where: { id }, data: { provisionedAt: new Date() } });
  }

  private toRecord(row: DatabaseRow): DatabaseRecord {
    return {
      id: row.id,
      ownerId: row.ownerId,
      ownerSlug: row.owner.slug,
      name: row.name,
      physicalName: row.physicalName,
      writer: { role: row.writerRole, password: this.passwords.of(row.writerRole) },
      reader: { role: row.readerRole, password: this.passwords.of(row.readerRole) },
      provisioned: row.provisionedAt !== null,
      limits: databaseLimitsOf(row.limits),
      limitsReadAt: nextLimitsRead(),
    };
  }
}

/**
 * Only known keys with non-negative integer values (and a known pool mode
 * and upstream assignment, and a positive pool size) survive a read.
 */
export function databaseLimitsOf(value: unknown): DatabaseLimits {
  if (typeof value !== 'object' || value === null) return {};
  const limits: Record<string, number | string> = {};
  for (const key of DATABASE_LIMIT_KEYS) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) limits[key] = v;
  }
  const poolMode = (value as Record<string, unknown>).poolMode;
  if (POOL_MODES.includes(poolMode as PoolMode)) limits.poolMode = poolMode as PoolMode;
  const assignment = (value as Record<string, unknown>).upstreamAssignment;
  if (UPSTREAM_ASSIGNMENTS.includes(assignment as UpstreamAssignment)) {
    limits.upstreamAssignment = assignment as UpstreamAssignment;
  }
  const poolSize = (value as Record<string, unknown>).poolSize;
  if (typeof poolSize === 'number' && Number.isSafeInteger(poolSize) && poolSize >= 1) {
    limits.poolSize = poolSize;
  }
  return limits;
}
