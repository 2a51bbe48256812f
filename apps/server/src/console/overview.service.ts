import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { ClusterService } from '../engine/cluster.service';
import { PoolService } from '../engine/pool.service';
import { PosternMetrics } from '../observability/metrics';
import { LiveSessions } from '../sessions/live-sessions.service';
import {
  OverviewHistory,
  SAMPLE_INTERVAL_MS,
  type OverviewPoint,
  type OverviewReading,
} from './overview-history';

/** `GET /api/v1/console/overview`: the console's first page, from the gateway's own numbers. */
export interface OverviewView {
  readonly at: string;
  readonly sampleIntervalSeconds: number;
  readonly connections: { readonly authenticated: number; readonly unauthenticated: number };
  readonly sessionsByDatabase: readonly { readonly database: string; readonly sessions: number }[];
  readonly lastHour: { readonly logins: number; readonly loginFailures: number };
  readonly upstream: {
    /** Null when new sessions can get an upstream connection, else why not (as /readyz says). */
    readonly problem: string | null;
    readonly busy: number;
    readonly idle: number;
  };
  readonly pools: readonly {
    readonly database: string;
    readonly level: string;
    readonly inUse: number;
    readonly idle: number;
  }[];
  readonly history: readonly OverviewPoint[];
}

type MetricsJson = Awaited<ReturnType<PosternMetrics['registry']['getMetricsAsJSON']>>;

/**
 * Samples the metrics registry every 10 s into a one-hour ring, so the console's charts have
 * series without a Prometheus next to the gateway. It reads the same registry /metrics
 * exposes: nothing is counted twice.
 */
@Injectable()
export class OverviewService implements OnModuleInit, OnModuleDestroy {
  private readonly history = new OverviewHistory();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly metrics: PosternMetrics,
    private readonly cluster: ClusterService,
    private readonly pool: PoolService,
    private readonly live: LiveSessions,
  ) {}

  onModuleInit(): void {
    const sample = () => {
      this.read().then(
        (reading) => this.history.add(reading.reading),
        () => undefined, // a failed scrape leaves a gap, the next one fills the chart again
      );
    };
    sample();
    this.timer = setInterval(sample, SAMPLE_INTERVAL_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async overview(): Promise<OverviewView> {
    const { reading, json } = await this.read();
    const sessionsByDatabase = new Map<string, number>();
    for (const session of this.live.infos()) {
      sessionsByDatabase.set(session.database, (sessionsByDatabase.get(session.database) ?? 0) + 1);
    }
    return {
      at: new Date(reading.at).toISOString(),
      sampleIntervalSeconds: SAMPLE_INTERVAL_MS / 1000,
      connections: {
        authenticated: sum(json, 'postern_client_connections', { state: 'authenticated' }),
        unauthenticated: sum(json, 'postern_client_connections', { state: 'unauthenticated' }),
      },
      sessionsByDatabase: [...sessionsByDatabase]
        .map(([database, sessions]) => ({ database, sessions }))
        .sort((a, b) => b.sessions - a.sessions || a.database.localeCompare(b.database)),
      lastHour: this.history.sinceOldest(reading),
      upstream: {
        problem: this.cluster.ready
          ? this.pool.unavailable
          : 'the upstream PostgreSQL is not ready',
        busy: reading.upstreamBusy,
        idle: reading.upstreamIdle,
      },
      pools: poolsOf(json),
      history: this.history.points(reading),
    };
  }

  private async read(): Promise<{ reading: OverviewReading; json: MetricsJson }> {
    const json = await this.metrics.registry.getMetricsAsJSON();
    const reading: OverviewReading = {
      at: Date.now(),
      connections: sum(json, 'postern_client_connections'),
      sessions: sum(json, 'postern_sessions'),
      loginsOk: sum(json, 'postern_logins_total', { outcome: 'success' }),
      loginsFailed:
        sum(json, 'postern_logins_total', { outcome: 'failure' }) +
        sum(json, 'postern_logins_total', { outcome: 'throttled' }),
      statements: sum(json, 'postern_statements_total'),
      statementErrors: sum(json, 'postern_statements_total', { outcome: 'error' }),
      statementSeconds: sum(json, 'postern_statement_duration_seconds_sum'),
      upstreamBusy: sum(json, 'postern_upstream_connections', { state: 'busy' }),
      upstreamIdle: sum(json, 'postern_upstream_connections', { state: 'idle' }),
      upstreamFailures: sum(json, 'postern_upstream_connect_failures_total'),
    };
    return { reading, json };
  }
}

/**
 * The sum of a series' values whose labels include `match`. `name` is a metric's name or, for
 * a histogram's parts, the series name (`..._sum`, `..._count`).
 */
function sum(json: MetricsJson, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const metric of json) {
    for (const value of metric.values as readonly {
      value: number;
      labels: Record<string, string | number>;
      metricName?: string;
    }[]) {
      const series = value.metricName ?? metric.name;
      if (series !== name) continue;
      if (Object.entries(match).every(([label, wanted]) => value.labels[label] === wanted)) {
        total += value.value;
      }
    }
  }
  return total;
}

function poolsOf(json: MetricsJson): OverviewView['pools'] {
  const pools = new Map<string, { database: string; level: string; inUse: number; idle: number }>();
  const metric = json.find((m) => m.name === 'postern_pool_connections');
  for (const value of metric?.values ?? []) {
    const { database, level, state } = value.labels as Record<string, string>;
    const key = `${database} ${level}`;
    const pool = pools.get(key) ?? { database: database!, level: level!, inUse: 0, idle: 0 };
    if (state === 'in_use') pool.inUse += value.value;
    if (state === 'idle') pool.idle += value.value;
    pools.set(key, pool);
  }
  return [...pools.values()].sort((a, b) => a.database.localeCompare(b.database));
}
