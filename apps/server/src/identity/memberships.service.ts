import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import type { EntityRecord, MemberRole } from '#control';
import { ClusterService } from '../engine/cluster.service';
import { AccessReviewService } from './access-review.service';
import { auditActor, requireUnscoped, type Actor } from './actor';
import { EntitiesService } from './entities.service';

export interface MembershipView {
  readonly organization: string;
  readonly user: string;
  readonly role: MemberRole;
}

/** Organisation membership: managed by the organisation's admins and by site admins. */
@Injectable()
export class MembershipsService {
  constructor(
    private readonly cluster: ClusterService,
    private readonly entities: EntitiesService,
    private readonly review: AccessReviewService,
  ) {}

  async put(
    actor: Actor,
    orgSlug: string,
    userSlug: string,
    role: MemberRole,
  ): Promise<MembershipView> {
    const org = await this.organization(actor, orgSlug);
    await this.requireOrgAdmin(actor, org);
    const user = await this.entities.named(userSlug);
    if (user.kind !== 'user') throw new BadRequestException(`"${userSlug}" is not a user`);
    await this.change(org, user, userSlug, role);
    await this.changed(actor, 'membership.put', org, user, role);
    return { organization: org.slug, user: user.slug, role };
  }

  /** Admins remove anyone; a member may also leave on their own. */
  async remove(actor: Actor, orgSlug: string, userSlug: string): Promise<void> {
    const org = await this.organization(actor, orgSlug);
    const user = await this.entities.named(userSlug).catch(() => null);
    if (user?.id !== actor.id) await this.requireOrgAdmin(actor, org);
    if (!user) throw new NotFoundException(`"${userSlug}" is not a member of "${org.slug}"`);
    await this.change(org, user, userSlug, null);
    await this.changed(actor, 'membership.remove', org, user, null);
  }

  private async organization(actor: Actor, slug: string): Promise<EntityRecord> {
    requireUnscoped(actor);
    const org = await this.entities.visible(actor, slug);
    if (org.kind !== 'organization') {
      throw new BadRequestException(`"${slug}" is not an organization`);
    }
    return org;
  }

  private async requireOrgAdmin(actor: Actor, org: EntityRecord): Promise<void> {
    if (actor.isSiteAdmin) return;
    if ((await this.cluster.control.memberships.roleOf(org.id, actor.id)) !== 'admin') {
      throw new ForbiddenException(`only admins of "${org.slug}" manage its members`);
    }
  }

  /**
   * Sets (or, with null, removes) a membership in one locked transaction:
   * an organisation without admins could never be managed again except by
   * site admins, and concurrent changes must not both take the last but one.
   */
  private async change(
    org: EntityRecord,
    user: EntityRecord,
    userSlug: string,
    role: MemberRole | null,
  ): Promise<void> {
    const outcome = await this.cluster.control.memberships.changeKeepingAnAdmin(
      org.id,
      user.id,
      role,
    );
    if (outcome === 'last-admin') {
      throw new ConflictException(`"${org.slug}" must keep at least one admin`);
    }
    if (outcome === 'not-a-member') {
      throw new NotFoundException(`"${userSlug}" is not a member of "${org.slug}"`);
    }
  }

  private async changed(
    actor: Actor,
    kind: string,
    org: EntityRecord,
    user: EntityRecord,
    role: MemberRole | null,
  ): Promise<void> {
    await this.cluster.control.audit.record({
      kind,
      outcome: 'success',
      ...auditActor(actor),
      detail: { organization: org.slug, user: user.slug, role },
    });
    await this.review.endLoweredSessions(
      (session) => session.userId === user.id,
      `membership of ${user.slug} in ${org.slug} changed`,
    );
  }
}
