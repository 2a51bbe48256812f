import { Module } from '@nestjs/common';
import { EngineModule } from '../engine/engine.module';
import { WireModule } from '../wire/wire.module';
import { HealthController } from './health.controller';

@Module({ imports: [EngineModule, WireModule], controllers: [HealthController] })
export class HealthModule {}
