import { Module, RequestMethod, type MiddlewareConsumer, type NestModule } from '@nestjs/common';
import { EngineModule } from '../engine/engine.module';
import { LiveSessionsModule } from '../sessions/live-sessions.module';
import { WireModule } from '../wire/wire.module';
import { EVERY_PATH, HttpRequestLogging } from './http-logging.middleware';
import { MetricsController } from './metrics.controller';
import { MetricsSources } from './metrics-sources.service';

/** `GET /metrics`, the sources of its gauges and counters, and HTTP request lines. */
@Module({
  imports: [EngineModule, LiveSessionsModule, WireModule],
  controllers: [MetricsController],
  providers: [MetricsSources, HttpRequestLogging],
})
export class ObservabilityModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpRequestLogging).forRoutes({ path: EVERY_PATH, method: RequestMethod.ALL });
  }
}
