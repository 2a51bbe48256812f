import { Module } from '@nestjs/common';
import { EngineModule } from '../engine/engine.module';
import { DatabaseAccessService } from './database-access.service';
import { DatabasesService } from './databases.service';
import { UsersService } from './users.service';

@Module({
  imports: [EngineModule],
  providers: [UsersService, DatabasesService, DatabaseAccessService],
  exports: [UsersService, DatabasesService, DatabaseAccessService],
})
export class IdentityModule {}
