import {
  BadRequestException,
  ConflictException,
  ForbiddenException,
  Injectable,
} from '@nestjs/common';
import type { EntityRecord } from '#control';
import { ADMIN_SLUG } from '../bootstrap/bootstrap.service';
import { ClusterService } from '../engine/cluster.service';
import { LiveSessions } from '../sessions/live-sessions.service';
import { AccessReviewService } from './access-review.service';
import { auditActor, requireUnscoped, type Actor } from './actor';
import { unlessTaken } from './conflicts';
import { EntitiesService, toEntityView, type EntityView } from './entities.service';

/**
 * Disabling, enabling and deleting users and organisations; site admins
 * only (a suspension an organisation's own admins could lift would not be
 * one). A disabled user cannot log in on the wire or over HTTP, its tokens
 * stop working, and its open sessions end. A disabled entity's databases are
 * suspended too: nobody reaches them until it is enabled again (that is what
 * disabling an organisation means). The last enabled site admin can be
 * neither disabled nor deleted, and `admin` is never deleted: every start
 * would create it again.
 */
@Injectable()
export class EntityLifecycleService {
  constructor(
    private readonly cluster: ClusterService,
    private readonly entities: EntitiesService,
    private readonly sessions: LiveSessions,
    private readonly review: AccessReviewService,
  ) {}

  async setDisabled(actor: Actor, slug: string, disabled: boolean): Promise<EntityView> {
    const entity = await this.manageable(actor, slug);
    if (disabled) await this.assertNotLastSiteAdmin(entity, 'disabled');
    if (entity.disabled !== disabled) {
      await this.cluster.control.entities.setDisabled(entity.id, disabled);
      await this.cluster.control.audit.record({
        kind: disabled ? 'entity.disable' : 'entity.enable',
        outcome: 'success',
        ...auditActor(actor),
        detail: { entity: entity.slug, entityKind: entity.kind },
      });
    }
    // Also when it was disabled already: what a concurrent login slipped in ends too.
    if (disabled) await this.endSessionsOf(entity, 'entity disabled');
    return toEntityView({ ...entity, disabled });
  }

  /**
   * Refuses (409) while the entity owns databases, unless `reassignTo` names
   * who takes them over; then removes it with its tokens, memberships,
   * grants and sessions.
   */
  async delete(actor: Actor, slug: string, reassignTo: string | null): Promise<void> {
    const entity = await this.manageable(actor, slug);
    if (entity.slug === ADMIN_SLUG) {
      throw new ConflictException(
        `"${ADMIN_SLUG}" cannot be deleted: every start would create it again`,
      );
    }
    await this.assertNotLastSiteAdmin(entity, 'deleted');
    const { entities } = this.cluster.control;
    const orphaned =
      entity.kind === 'user' ? await entities.organizationsOnlyAdministeredBy(entity.id) : [];
    if (orphaned.length > 0) {
      throw new ConflictException(
        `"${slug}" is the only admin of ${orphaned.map((o) => `"${o}"`).join(', ')}; make someone else admin first`,
      );
    }
    const owned = await entities.ownedDatabases(entity.id);
    const heir = reassignTo === null ? null : await this.heir(entity, reassignTo);
    if (owned.length > 0 && heir === null) {
      throw new ConflictException(
        `"${slug}" owns ${owned.length} database(s) (${owned.map((d) => d.name).join(', ')}); ` +
          'delete them or pass ?reassignTo=<user or organization>',
      );
    }
    await unlessTaken(
      entities.delete(entity.id, heir?.id ?? null),
      `"${heir?.slug}" already has a database named like one of "${slug}"'s`,
    );
    await this.cluster.control.audit.record({
      kind: 'entity.delete',
      outcome: 'success',
      ...auditActor(actor),
      detail: {
        entity: entity.slug,
        entityKind: entity.kind,
        reassignedTo: heir && owned.length > 0 ? heir.slug : null,
        databases: owned.length,
      },
    });
    await this.endSessionsOf(entity, 'entity deleted');
  }

  /**
   * Its console sessions (gone for good: enabling does not bring them back),
   * its wire sessions, then every wire session whose access went with it.
   */
  private async endSessionsOf(entity: EntityRecord, reason: string): Promise<void> {
    await this.cluster.control.httpSessions.removeForEntity(entity.id);
    await this.sessions.terminate((session) => session.userId === entity.id, reason);
    await this.review.endLoweredSessions(() => true, reason);
  }

  private async manageable(actor: Actor, slug: string): Promise<EntityRecord> {
    requireUnscoped(actor);
    const entity = await this.entities.visible(actor, slug);
    if (!actor.isSiteAdmin) {
      throw new ForbiddenException(
        'only site admins disable, enable or delete users and organizations',
      );
    }
    return entity;
  }

  private async assertNotLastSiteAdmin(entity: EntityRecord, what: string): Promise<void> {
    if (!entity.isSiteAdmin || entity.disabled) return;
    if ((await this.cluster.control.entities.countOtherActiveSiteAdmins(entity.id)) === 0) {
      throw new ConflictException(
        `"${entity.slug}" is the last enabled site admin and cannot be ${what}`,
      );
    }
  }

  private async heir(entity: EntityRecord, slug: string): Promise<EntityRecord> {
    const heir = await this.entities.named(slug);
    if (heir.id === entity.id) throw new BadRequestException('"reassignTo" must name someone else');
    if (heir.disabled) throw new BadRequestException(`"reassignTo": "${slug}" is disabled`);
    return heir;
  }
}
