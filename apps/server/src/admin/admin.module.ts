import { Module, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EngineModule } from '../engine/engine.module';
import { IdentityModule } from '../identity/identity.module';
import { ManagementModule } from '../identity/management.module';
import { QueryModule } from '../query/query.module';
import { AccessGuard } from './auth/access.guard';
import { AuthController } from './auth/auth.controller';
import { AuthService } from './auth/auth.service';
import { AuditController } from './audit/audit.controller';
import { ErrorsFilter } from './common/errors.filter';
import { DatabasesController } from './databases/databases.controller';
import { GrantsController } from './databases/grants.controller';
import { EntitiesController } from './entities/entities.controller';
import { MembershipsController } from './entities/memberships.controller';
import { QueryController } from './query/query.controller';
import { SessionsController } from './sessions/sessions.controller';
import { TokensController } from './tokens/tokens.controller';

/** Mounted under this prefix by AppModule (RouterModule); /healthz stays at the root. */
export const ADMIN_API_PREFIX = 'api/v1';

const CONTROLLERS = [
  AuthController,
  EntitiesController,
  MembershipsController,
  TokensController,
  DatabasesController,
  GrantsController,
  QueryController,
  SessionsController,
  AuditController,
];

/**
 * The admin HTTP API (README, "HTTP API"). Its guard and error filter are global:
 * they cover every route of the process, /healthz included.
 */
@Module({
  imports: [EngineModule, IdentityModule, ManagementModule, QueryModule],
  controllers: CONTROLLERS,
  providers: [
    AuthService,
    { provide: APP_GUARD, useClass: AccessGuard },
    { provide: APP_FILTER, useClass: ErrorsFilter },
  ],
})
export class AdminModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(noStore).forRoutes(...CONTROLLERS);
  }
}

/** Answers about people and credentials are never cached by browsers or proxies. */
function noStore(_request: IncomingMessage, response: ServerResponse, next: () => void): void {
  response.setHeader('Cache-Control', 'no-store');
  next();
}
