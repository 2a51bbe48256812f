import { Module } from '@nestjs/common';
import { AuditModule } from '../audit/audit.module';
import { EngineModule } from '../engine/engine.module';
import { IdentityModule } from '../identity/identity.module';
import { LiveSessionsModule } from '../sessions/live-sessions.module';
import { LoginService } from './session/login.service';
import { TlsService } from './tls.service';
import { WireServer } from './wire.server';

@Module({
  imports: [AuditModule, EngineModule, IdentityModule, LiveSessionsModule],
  providers: [TlsService, LoginService, WireServer],
  exports: [WireServer],
})
export class WireModule {}
