import { Module } from '@nestjs/common';
import { EngineModule } from '../engine/engine.module';
import { LiveSessionsModule } from '../sessions/live-sessions.module';
import { AccessReviewService } from './access-review.service';
import { AuditLogService } from './audit-log.service';
import { DatabaseCatalogService } from './database-catalog.service';
import { EntitiesService } from './entities.service';
import { EntityLifecycleService } from './entity-lifecycle.service';
import { GrantsService } from './grants.service';
import { IdentityModule } from './identity.module';
import { MembershipsService } from './memberships.service';
import { SessionsService } from './sessions.service';
import { TokensService } from './tokens.service';

/**
 * The rules of managing identities and access on behalf of an actor
 * (IdentityModule holds what the wire's logins need). Ending live sessions
 * needs only LiveSessionsModule, not the wire server.
 */
@Module({
  imports: [EngineModule, IdentityModule, LiveSessionsModule],
  providers: [
    AccessReviewService,
    AuditLogService,
    DatabaseCatalogService,
    EntitiesService,
    EntityLifecycleService,
    GrantsService,
    MembershipsService,
    SessionsService,
    TokensService,
  ],
  exports: [
    AuditLogService,
    DatabaseCatalogService,
    EntitiesService,
    EntityLifecycleService,
    GrantsService,
    MembershipsService,
    SessionsService,
    TokensService,
  ],
})
export class ManagementModule {}
