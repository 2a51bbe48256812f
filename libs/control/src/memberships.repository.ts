import type { PrismaClient } from './generated/prisma/client';

export type MemberRole = 'member' | 'admin';

export interface MembershipRecord {
  readonly organizationId: string;
  readonly userId: string;
  readonly userSlug: string;
  readonly role: MemberRole;
}

export class MembershipsRepository {
  constructor(private readonly prisma: PrismaClient) {}

  async put(organizationId: string, userId: string, role: MemberRole): Promise<void> {
    await this.prisma.membership.upsert({
      where: { organizationId_userId: { organizationId, userId } },
      create: { organizationId, userId, role },
      update: { role },
    });
  }

  async remove(organizationId: string, userId: string): Promise<boolean> {
    const { count } = await this.prisma.membership.deleteMany({
      where: { organizationId, userId },
    });
    return count === 1;
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

  async countAdmins(organizationId: string): Promise<number> {
    return this.prisma.membership.count({ where: { organizationId, role: 'admin' } });
  }

  async roleOf(organizationId: string, userId: string): Promise<MemberRole | null> {
    const row = await this.prisma.membership.findUnique({
      where: { organizationId_userId: { organizationId, userId } },
    });
    return row?.role ?? null;
  }
}
