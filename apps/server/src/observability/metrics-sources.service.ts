import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ClusterService } from '../engine/cluster.service';
import { PoolService } from '../engine/pool.service';
import { LiveSessions } from '../sessions/live-sessions.service';
import { WireServer } from '../wire/wire.server';
import { recordAuditEvent } from './audit-metrics';
import { PosternMetrics } from './metrics';

/**
 * Connects the metrics to what already knows the numbers: the gauges read the live state
 * at each scrape (nothing is counted twice; the pools report per database and level), the
 * login and HTTP query counters follow the audit events, upstream connects the pool's
 * attempts.
 */
@Injectable()
export class MetricsSources implements OnModuleInit, OnModuleDestroy {
  private readonly unsubscribe: Array<() => void> = [];

  constructor(
    private readonly metrics: PosternMetrics,
    private readonly cluster: ClusterService,
    private readonly live: LiveSessions,
    private readonly pool: PoolService,
    private readonly wire: WireServer,
  ) {}

  onModuleInit(): void {
    this.metrics.setSources({
      unauthenticated: () => this.wire.unauthenticatedCount,
      sessions: () => this.live.infos(),
      upstream: () => this.pool.stats,
      poolKeys: () => this.pool.keyStats(),
    });
    this.unsubscribe.push(
      this.cluster.control.audit.observe((event) => recordAuditEvent(this.metrics, event)),
      this.pool.observeConnects((seconds, failure) =>
        this.metrics.upstreamConnect(seconds, failure),
      ),
    );
  }

  onModuleDestroy(): void {
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
  }
}
