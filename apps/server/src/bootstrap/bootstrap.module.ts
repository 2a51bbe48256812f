import { Module } from '@nestjs/common';
import { EngineModule } from '../engine/engine.module';
import { IdentityModule } from '../identity/identity.module';
import { BootstrapService } from './bootstrap.service';

@Module({
  imports: [EngineModule, IdentityModule],
  providers: [BootstrapService],
  exports: [BootstrapService],
})
export class BootstrapModule {}
