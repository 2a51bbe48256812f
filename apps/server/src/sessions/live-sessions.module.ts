import { Module } from '@nestjs/common';
import { EngineModule } from '../engine/engine.module';
import { LiveSessions } from './live-sessions.service';

/**
 * The registry of established wire sessions, apart from the wire server:
 * the wire registers sessions, identity management ends them, and neither
 * has to import the other.
 */
@Module({
  imports: [EngineModule],
  providers: [LiveSessions],
  exports: [LiveSessions],
})
export class LiveSessionsModule {}
