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

export class EntitiesRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async findUserLogin(slug: string): Promise<UserLogin | null> {
    const row = await this.prisma.entity.findUnique({
      where: { slug },
      include: { password: true },
    });
    if (!row || row.kind !== 'user' || !row.scramSalt || !row.scramIterations) return null;
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

  async findBySlug(slug: string): Promise<EntitySummary | null> {
    const row = await this.prisma.entity.findUnique({ where: { slug } });
    return row && { id: row.id, slug: row.slug, kind: row.kind, isSiteAdmin: row.isSiteAdmin };
  }

  async createUser(user: NewUser): Promise<EntitySummary> {
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
    return { id: row.id, slug: row.slug, kind: row.kind, isSiteAdmin: row.isSiteAdmin };
  }
}
