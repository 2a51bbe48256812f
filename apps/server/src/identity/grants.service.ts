import {
  BadRequestException,
  ForbiddenException,
  Injectable,
  NotFoundException,
} from '@nestjs/common';
import type { GrantLevel } from '#control';
import { ClusterService } from '../engine/cluster.service';
import { AccessReviewService } from './access-review.service';
import { auditActor, type Actor } from './actor';
import { atLeast, DatabaseCatalogService, type VisibleDatabase } from './database-catalog.service';
import { EntitiesService } from './entities.service';

export interface GrantView {
  readonly entity: string;
  readonly level: GrantLevel;
}

/**
 * Sharing a database: its owner, its managers and site admins grant
 * read-only, read-write or manager to users and organisations. Ownership
 * itself is never a grant and cannot be changed here.
 */
@Injectable()
export class GrantsService {
  constructor(
    private readonly cluster: ClusterService,
    private readonly catalog: DatabaseCatalogService,
    private readonly entities: EntitiesService,
    private readonly review: AccessReviewService,
  ) {}

  async list(actor: Actor, owner: string, name: string): Promise<GrantView[]> {
    const { database } = await this.manageable(actor, owner, name);
    const grants = await this.cluster.control.grants.listForDatabase(database.id);
    return grants.map((g) => ({ entity: g.entitySlug, level: g.level }));
  }

  async put(
    actor: Actor,
    owner: string,
    name: string,
    entitySlug: string,
    level: GrantLevel,
  ): Promise<GrantView> {
    const { database } = await this.manageable(actor, owner, name);
    const entity = await this.entities.named(entitySlug);
    if (entity.id === database.ownerId) {
      throw new BadRequestException(
        `"${entity.slug}" owns this database; ownership is not a grant`,
      );
    }
    await this.cluster.control.grants.put(database.id, entity.id, level);
    await this.changed(actor, 'grant.put', database, entity.slug, level);
    return { entity: entity.slug, level };
  }

  async remove(actor: Actor, owner: string, name: string, entitySlug: string): Promise<void> {
    const { database } = await this.manageable(actor, owner, name);
    const entity = await this.entities.named(entitySlug);
    if (!(await this.cluster.control.grants.remove(database.id, entity.id))) {
      throw new NotFoundException(`"${entity.slug}" has no grant on this database`);
    }
    await this.changed(actor, 'grant.remove', database, entity.slug, null);
  }

  /** Visible (else 404) and at least manager, or a site admin (else 403). */
  private async manageable(actor: Actor, owner: string, name: string): Promise<VisibleDatabase> {
    const visible = await this.catalog.visible(actor, owner, name);
    if (!atLeast(visible.level, 'manager') && !actor.isSiteAdmin) {
      throw new ForbiddenException('only the owner and managers share a database');
    }
    return visible;
  }

  private async changed(
    actor: Actor,
    kind: string,
    database: VisibleDatabase['database'],
    entity: string,
    level: GrantLevel | null,
  ): Promise<void> {
    const reference = `${database.ownerSlug}/${database.name}`;
    await this.cluster.control.audit.record({
      kind,
      outcome: 'success',
      ...auditActor(actor),
      databaseId: database.id,
      database: reference,
      detail: { entity, level },
    });
    await this.review.endLoweredSessions(
      (session) => session.databaseId === database.id,
      `access to ${reference} changed`,
    );
  }
}
