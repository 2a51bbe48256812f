import { Module, type DynamicModule } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { ADMIN_API_PREFIX, AdminModule } from './admin/admin.module';
import { BootstrapModule } from './bootstrap/bootstrap.module';
import type { PosternConfig } from './config/config';
import { ConsoleModule } from './console/console.module';
import { ConfigModule } from './config/config.module';
import { EngineModule } from './engine/engine.module';
import { HealthModule } from './health/health.module';
import { IdentityModule } from './identity/identity.module';
import { MetricsModule } from './observability/metrics.module';
import { ObservabilityModule } from './observability/observability.module';
import { WireModule } from './wire/wire.module';

@Module({})
export class AppModule {
  static forConfig(config: PosternConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        MetricsModule,
        EngineModule,
        IdentityModule,
        BootstrapModule,
        WireModule,
        HealthModule,
        AdminModule,
        ObservabilityModule,
        ConsoleModule,
        RouterModule.register([{ path: ADMIN_API_PREFIX, module: AdminModule }]),
      ],
    };
  }
}
