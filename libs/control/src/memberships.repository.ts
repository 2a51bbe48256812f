import type { PrismaClient } from './generated/prisma/client';

export type MemberRole = 'member' | 'admin';

export interface MembershipRecord {
  readonly organizationId: string;
  readonly userId: string;
  readonly userSlug: string;
  readonly role: MemberRole;
}

/** What a membership change that may take an admin away did. */
export type AdminSafeOutcome = 'done' | 'not-a-member' | 'last-admin';

export class MembershipsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  /**
   * Sets a member's role (adding it when missing) or, with `null`, removes
   * it, refusing when that would leave the organisation without an admin.
   * The organisation's row is locked first (`FOR UPDATE`), so every such
   * change of one organisation runs one after the other and each sees the
   * admins the previous one left: two admins demoting each other, or leaving
   * together, cannot both pass the check (HARD-16).
   */
  async changeKeepingAnAdmin(
    organizationId: string,
    userId: string,
    role: MemberRole | null,
  ): Promise<AdminSafeOutcome> {
    return this.prisma.$transaction(async (tx) => {
      await tx.$queryRaw`SELECT id FROM entity WHERE id = ${organizationId}::uuid FOR UPDATE`;
      const where = { organizationId_userId: { organizationId, userId } };
      const current = (await tx.membership.findUnique({ where }))?.role ?? null;
      if (role === null && current === null) return 'not-a-member';
      if (current === 'admin' && role !== 'admin') {
        const admins = await tx.membership.count({ where: { organizationId, role: 'admin' } });
        if (admins <= 1) return 'last-admin';
      }
      if (role === null) {
        await tx.membership.delete({ where });
      } else {
        await tx.membership.upsert({
          where,
          create: { organizationId, userId, role },
          update: { role },
        });
      }
      return 'done';
    });
  }

  async listMembers(organizationId: string): Promise<MembershipRecord[]> {
    const rows = await this.prisma.membership.findMany({
      where: { organizationId },
      include: { user: { select: { slug: true } } },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((row) => ({
      organizationId: row.organizationId,
      userId: row.userId,
      userSlug: row.user.slug,
      role: row.role,
    }));
  }

  async roleOf(organizationId: string, userId: string): Promise<MemberRole | null> {
    const row = await this.prisma.membership.findUnique({
      where: { organizationId_userId: { organizationId, userId } },
    });
    return row?.role ?? null;
  }
}
