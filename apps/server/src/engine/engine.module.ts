import { Module } from '@nestjs/common';
import { ClusterService } from './cluster.service';
import { PoolService } from './pool.service';

@Module({ providers: [ClusterService, PoolService], exports: [ClusterService, PoolService] })
export class EngineModule {}
