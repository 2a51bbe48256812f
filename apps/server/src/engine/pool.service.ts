import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { UpstreamPool, type Lease, type UpstreamTarget } from '#engine';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { logSink } from '../logging';

/** Upstream connection pools of the wire server (session pooling per database and role). */
@Injectable()
export class PoolService implements OnApplicationShutdown {
  private readonly pool: UpstreamPool;

  constructor(@Inject(POSTERN_CONFIG) config: PosternConfig) {
    this.pool = new UpstreamPool({
      maxPerKey: config.pool.size,
      idleTimeoutMs: config.pool.idleTimeoutMs,
      acquireTimeoutMs: config.pool.acquireTimeoutMs,
      connectTimeoutMs: 10_000,
      // Within the login budget (POSTERN_AUTH_TIMEOUT covers it).
      connectRetryMs: Math.max(0, config.authTimeoutMs - 2_000),
      log: logSink('Pool'),
    });
  }

  acquire(target: UpstreamTarget, settings: Readonly<Record<string, string>>): Promise<Lease> {
    return this.pool.acquire(target, settings);
  }

  get stats(): { busy: number; idle: number } {
    return this.pool.stats;
  }

  onApplicationShutdown(): void {
    this.pool.close();
  }
}
