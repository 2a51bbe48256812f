import {
  BadRequestException,
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import { assertValidName, isValidName, type EntityRecord, type MemberRole } from '#control';
import { ADMIN_SLUG } from '../bootstrap/bootstrap.service';
import { forgetInitialAdminPassword } from '../bootstrap/initial-admin-password';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { ClusterService } from '../engine/cluster.service';
import { auditActor, requireUnscoped, type Actor } from './actor';
import { unlessTaken } from './conflicts';
import { UsersService } from './users.service';

export interface EntityView {
  readonly id: string;
  readonly slug: string;
  readonly kind: 'user' | 'organization';
  readonly isSiteAdmin: boolean;
  readonly disabled: boolean;
  readonly createdAt: Date;
}

export interface EntityDetailView extends EntityView {
  /** Organisations only. */
  readonly members?: readonly { readonly user: string; readonly role: MemberRole }[];
}

export interface NewEntityRequest {
  readonly kind: 'user' | 'organization';
  readonly slug: string;
  readonly password: string | null;
}

/**
 * Users and organisations. Who sees what: site admins see everyone; others
 * see themselves and the organisations they belong to. Anything else answers
 * 404 exactly like a missing entity.
 */
@Injectable()
export class EntitiesService {
  constructor(
    @Inject(POSTERN_CONFIG) private readonly config: PosternConfig,
    private readonly cluster: ClusterService,
    private readonly users: UsersService,
  ) {}

  async create(actor: Actor, request: NewEntityRequest): Promise<EntityView> {
    requireUnscoped(actor);
    assertValidName('slug', request.slug);
    const taken = `the slug "${request.slug}" is already taken`;
    let entity: EntityRecord;
    if (request.kind === 'user') {
      if (!actor.isSiteAdmin) throw new ForbiddenException('only site admins create users');
      entity = await unlessTaken(
        this.users.createUser(request.slug, request.password, false),
        taken,
      );
    } else {
      if (request.password !== null) {
        throw new BadRequestException('an organization has no password');
      }
      // The creator becomes its first admin.
      entity = await unlessTaken(
        this.cluster.control.entities.createOrganization(request.slug, actor.id),
        taken,
      );
    }
    await this.cluster.control.audit.record({
      kind: 'entity.create',
      outcome: 'success',
      ...auditActor(actor),
      detail: { entity: entity.slug, entityKind: entity.kind },
    });
    return toEntityView(entity);
  }

  async list(actor: Actor): Promise<EntityView[]> {
    requireUnscoped(actor);
    const { entities } = this.cluster.control;
    const rows = actor.isSiteAdmin ? await entities.list() : await entities.listForUser(actor.id);
    return rows.map(toEntityView);
  }

  async get(actor: Actor, slug: string): Promise<EntityDetailView> {
    requireUnscoped(actor);
    const entity = await this.visible(actor, slug);
    if (entity.kind !== 'organization') return toEntityView(entity);
    const members = await this.cluster.control.memberships.listMembers(entity.id);
    return {
      ...toEntityView(entity),
      members: members.map((m) => ({ user: m.userSlug, role: m.role })),
    };
  }

  /**
   * Self or a site admin; the new secrets stay under the user's lifelong
   * salt. The user's other console sessions end (API tokens stay valid).
   */
  async setPassword(actor: Actor, slug: string, password: string): Promise<void> {
    requireUnscoped(actor);
    const entity = await this.visible(actor, slug);
    if (entity.kind !== 'user') throw new BadRequestException(`"${slug}" is not a user`);
    if (entity.id !== actor.id && !actor.isSiteAdmin) {
      throw new ForbiddenException("only site admins change another user's password");
    }
    await this.users.setPassword(entity.slug, password);
    // The generated first-start password is void now; it should not linger on disk.
    if (entity.slug === ADMIN_SLUG) await forgetInitialAdminPassword(this.config.dataDir);
    // Whoever knew the old password loses the console sessions it opened.
    const keep = entity.id === actor.id ? actor.sessionId : null;
    await this.cluster.control.httpSessions.removeForEntity(entity.id, keep);
    await this.cluster.control.audit.record({
      kind: 'password.change',
      outcome: 'success',
      ...auditActor(actor),
      detail: { entity: entity.slug },
    });
  }

  /** The entity `slug` if the actor may see it; otherwise the same 404 as a missing one. */
  async visible(actor: Actor, slug: string): Promise<EntityRecord> {
    const entity = isValidName(slug) ? await this.cluster.control.entities.findBySlug(slug) : null;
    if (
      entity &&
      (actor.isSiteAdmin || entity.id === actor.id || (await this.isMember(actor, entity)))
    ) {
      return entity;
    }
    throw entityNotFound(slug);
  }

  /**
   * Any entity by slug, visible or not: granting access or adding a member
   * has to name people the caller cannot list.
   */
  async named(slug: string): Promise<EntityRecord> {
    const entity = isValidName(slug) ? await this.cluster.control.entities.findBySlug(slug) : null;
    if (!entity) throw entityNotFound(slug);
    return entity;
  }

  private async isMember(actor: Actor, entity: EntityRecord): Promise<boolean> {
    if (entity.kind !== 'organization') return false;
    return (await this.cluster.control.memberships.roleOf(entity.id, actor.id)) !== null;
  }
}

export function entityNotFound(slug: string): NotFoundException {
  return new NotFoundException(`entity "${slug}" not found`);
}

export function toEntityView(entity: EntityRecord): EntityView {
  return {
    id: entity.id,
    slug: entity.slug,
    kind: entity.kind,
    isSiteAdmin: entity.isSiteAdmin,
    disabled: entity.disabled,
    createdAt: entity.createdAt,
  };
}
