import { Global, Module } from '@nestjs/common';
import { PosternMetrics } from './metrics';

/**
 * The one metrics registry, global so that any part of the gateway (the wire listener, the
 * relay, the pool, HTTP queries) can inject `PosternMetrics` and record with one call.
 */
@Global()
@Module({
  providers: [{ provide: PosternMetrics, useFactory: () => new PosternMetrics() }],
  exports: [PosternMetrics],
})
export class MetricsModule {}
