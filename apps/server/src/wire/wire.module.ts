import { Module } from '@nestjs/common';
import { EngineModule } from '../engine/engine.module';
import { IdentityModule } from '../identity/identity.module';
import { LiveSessionsModule } from '../sessions/live-sessions.module';
import { LoginService } from './session/login.service';
import { TlsService } from './tls.service';
import { WireServer } from './wire.server';

@Module({
  imports: [EngineModule, IdentityModule, LiveSessionsModule],
  providers: [TlsService, LoginService, WireServer],
  exports: [WireServer],
})
export class WireModule {}
