import type { PrismaClient } from './generated/prisma/client';

export interface ScramVerifierRecord {
  readonly storedKey: Buffer;
  readonly serverKey: Buffer;
}

/** What a wire login needs to know about a user, and nothing more. */
export interface UserLogin {
  readonly id: string;
  readonly slug: string;
  readonly disabled: boolean;
  readonly salt: Buffer;
  readonly iterations: number;
  readonly password: ScramVerifierRecord | null;
}

/** A password as stored: SCRAM verifier for the wire, bcrypt for HTTP logins. */
export interface PasswordRecord extends ScramVerifierRecord {
  readonly bcrypt: string;
}

export interface NewUser {
  readonly slug: string;
  readonly isSiteAdmin: boolean;
  readonly salt: Buffer;
  readonly iterations: number;
  readonly password: PasswordRecord | null;
}

export interface EntitySummary {
  readonly id: string;
  readonly slug: string;
  readonly kind: 'user' | 'organization';
  readonly isSiteAdmin: boolean;
}

/** An entity as the admin API shows it. */
export interface EntityRecord extends EntitySummary {
  readonly disabled: boolean;
  readonly createdAt: Date;
}

/** What an HTTP password login needs: the bcrypt hash, and the SCRAM verifier as a backstop. */
export interface UserCredentials extends UserLogin {
  readonly isSiteAdmin: boolean;
  readonly bcrypt: string | null;
}

type EntityRow = Awaited<ReturnType<PrismaClient['entity']['findFirstOrThrow']>>;

export class EntitiesRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async findUserLogin(slug: string): Promise<UserLogin | null> {
    const row = await this.findUserRow(slug);
    return row && toUserLogin(row);
  }

  async findBySlug(slug: string): Promise<EntityRecord | null> {
    const row = await this.prisma.entity.findUnique({ where: { slug } });
    return row && toEntityRecord(row);
  }

  async findById(id: string): Promise<EntityRecord | null> {
    const row = await this.prisma.entity.findUnique({ where: { id } });
    return row && toEntityRecord(row);
  }

  async findUserCredentials(slug: string): Promise<UserCredentials | null> {
    const row = await this.findUserRow(slug);
    return (
      row && {
        ...toUserLogin(row),
        isSiteAdmin: row.isSiteAdmin,
        bcrypt: row.password?.bcrypt ?? null,
      }
    );
  }

  /** Every entity, by slug. */
  async list(): Promise<EntityRecord[]> {
    const rows = await this.prisma.entity.findMany({ orderBy: { slug: 'asc' } });
    return rows.map(toEntityRecord);
  }

  /** A user and the organisations it belongs to, by slug. */
  async listForUser(userId: string): Promise<EntityRecord[]> {
    const rows = await this.prisma.entity.findMany({
      where: { OR: [{ id: userId }, { members: { some: { userId } } }] },
      orderBy: { slug: 'asc' },
    });
    return rows.map(toEntityRecord);
  }

  /** An organisation and its first admin, in one statement (no organisation without an admin). */
  async createOrganization(slug: string, adminUserId: string): Promise<EntityRecord> {
    const row = await this.prisma.entity.create({
      data: {
        kind: 'organization',
        slug,
        members: { create: { userId: adminUserId, role: 'admin' } },
      },
    });
    return toEntityRecord(row);
  }

  /** Replaces a user's password secrets (the salt stays: it is the user's for life). */
  async setPassword(entityId: string, password: PasswordRecord): Promise<void> {
    const data = {
      storedKey: new Uint8Array(password.storedKey),
      serverKey: new Uint8Array(password.serverKey),
      bcrypt: password.bcrypt,
    };
    await this.prisma.passwordSecret.upsert({
      where: { entityId },
      create: { entityId, ...data },
      update: data,
    });
  }

  /** Disables or enables an entity; false when it does not exist. */
  async setDisabled(id: string, disabled: boolean): Promise<boolean> {
    const { count } = await this.prisma.entity.updateMany({ where: { id }, data: { disabled } });
    return count === 1;
  }

  /** Enabled site admins other than `exceptId`: the last one may not go. */
  async countOtherActiveSiteAdmins(exceptId: string): Promise<number> {
    return this.prisma.entity.count({
      where: { isSiteAdmin: true, disabled: false, id: { not: exceptId } },
    });
  }

  /** The databases an entity owns, by name. */
  async ownedDatabases(id: string): Promise<{ id: string; name: string }[]> {
    return this.prisma.database.findMany({
      where: { ownerId: id },
      select: { id: true, name: true },
      orderBy: { name: 'asc' },
    });
  }

  /** Organisations whose only admin is this user (deleting it would leave them without one). */
  async organizationsOnlyAdministeredBy(userId: string): Promise<string[]> {
    const rows = await this.prisma.membership.findMany({
      where: { userId, role: 'admin' },
      select: { organization: { select: { slug: true, members: { where: { role: 'admin' } } } } },
    });
    return rows
      .filter((row) => row.organization.members.length === 1)
      .map((row) => row.organization.slug)
      .sort();
  }

  /**
   * Removes an entity with its password, tokens, memberships, grants and
   * console sessions (foreign keys cascade), after handing the databases it
   * owns to `reassignToId`, in one transaction. Databases never cascade: with
   * owned databases and no one to hand them to, the delete fails.
   */
  async delete(id: string, reassignToId: string | null): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      if (reassignToId !== null) {
        const owned = await tx.database.findMany({ where: { ownerId: id }, select: { id: true } });
        const ids = owned.map((d) => d.id);
        // The new owner's own grants on them would only be noise below ownership.
        await tx.grant.deleteMany({ where: { entityId: reassignToId, databaseId: { in: ids } } });
        await tx.database.updateMany({ where: { ownerId: id }, data: { ownerId: reassignToId } });
      }
      await tx.entity.delete({ where: { id } });
    });
  }

  /** A user with its salt (organisations have none), with its password secrets. */
  private async findUserRow(slug: string) {
    const row = await this.prisma.entity.findUnique({
      where: { slug },
      include: { password: true },
    });
    if (!row || row.kind !== 'user' || !row.scramSalt || !row.scramIterations) return null;
    return { ...row, scramSalt: row.scramSalt, scramIterations: row.scramIterations };
  }

  async createUser(user: NewUser): Promise<EntityRecord> {
    const row = await this.prisma.entity.create({
      data: {
        kind: 'user',
        slug: user.slug,
        isSiteAdmin: user.isSiteAdmin,
        scramSalt: new Uint8Array(user.salt),
        scramIterations: user.iterations,
        password: user.password
          ? {
              create: {
                storedKey: new Uint8Array(user.password.storedKey),
                serverKey: new Uint8Array(user.password.serverKey),
                bcrypt: user.password.bcrypt,
              },
            }
          : undefined,
      },
    });
    return toEntityRecord(row);
  }
}

function toEntityRecord(row: EntityRow): EntityRecord {
  return {
    id: row.id,
    slug: row.slug,
    kind: row.kind,
    isSiteAdmin: row.isSiteAdmin,
    disabled: row.disabled,
    createdAt: row.createdAt,
  };
}

function toUserLogin(row: {
  id: string;
  slug: string;
  disabled: boolean;
  scramSalt: Uint8Array;
  scramIterations: number;
  password: { storedKey: Uint8Array; serverKey: Uint8Array } | null;
}): UserLogin {
  return {
    id: row.id,
    slug: row.slug,
    disabled: row.disabled,
    salt: Buffer.from(row.scramSalt),
    iterations: row.scramIterations,
    password: row.password
      ? {
          storedKey: Buffer.from(row.password.storedKey),
          serverKey: Buffer.from(row.password.serverKey),
        }
      : null,
  };
}
