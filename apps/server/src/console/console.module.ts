import { Module } from '@nestjs/common';
import { EngineModule } from '../engine/engine.module';
import { LiveSessionsModule } from '../sessions/live-sessions.module';
import { ConsoleController } from './console.controller';
import { OverviewService } from './overview.service';

/** The web console's own API (who am I, the overview); its pages are served by console-assets. */
@Module({
  imports: [EngineModule, LiveSessionsModule],
  controllers: [ConsoleController],
  providers: [OverviewService],
})
export class ConsoleModule {}
