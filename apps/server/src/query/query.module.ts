import { Module } from '@nestjs/common';
import { EngineModule } from '../engine/engine.module';
import { ManagementModule } from '../identity/management.module';
import { HttpQueryService } from './http-query.service';

/** SQL over HTTP: access rules from ManagementModule, upstream sessions from the shared pool. */
@Module({
  imports: [EngineModule, ManagementModule],
  providers: [HttpQueryService],
  exports: [HttpQueryService],
})
export class QueryModule {}
