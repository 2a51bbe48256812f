import { Module } from '@nestjs/common';
import { EngineModule } from '../engine/engine.module';
import { IdentityModule } from '../identity/identity.module';
import { LiveSessions } from './live-sessions.service';
import { LoginService } from './session/login.service';
import { TlsService } from './tls.service';
import { WireServer } from './wire.server';

@Module({
  imports: [EngineModule, IdentityModule],
  providers: [TlsService, LoginService, LiveSessions, WireServer],
  exports: [WireServer, LiveSessions],
})
export class WireModule {}
