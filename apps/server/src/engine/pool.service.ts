import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import {
  CONTROL_DATABASE,
  clusterOutOfSlots,
  superuserUrl,
  UpstreamPool,
  type ConnectFailure,
  type Lease,
  type PoolKeyStats,
  type TransactionLease,
  type UpstreamBudget,
  type UpstreamTarget,
} from '#engine';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { logSink } from '../logging';
import { ClusterService } from './cluster.service';

type ConnectListener = (seconds: number, failure: ConnectFailure | null) => void;

/**
 * How long PostgreSQL's refusal for lack of slots keeps /readyz at 503,
 * unless a new upstream connection succeeds first.
 */
const REFUSAL_MEMORY_MS = 10_000;

/**
 * Upstream connection pools of the wire server and HTTP queries (session
 * pooling per database and role), within a budget below the cluster's own
 * connection limit (HARD-06).
 */
@Injectable()
export class PoolService implements OnApplicationShutdown {
  private readonly log = logSink('Pool');
  private readonly pool: UpstreamPool;
  private budgetRead: Promise<void> | null = null;
  private lastRefusal = 0;
  private readonly connectListeners = new Set<ConnectListener>();

  constructor(
    @Inject(POSTERN_CONFIG) private readonly config: PosternConfig,
    private readonly cluster: ClusterService,
  ) {
    this.pool = new UpstreamPool({
      maxPerKey: config.pool.size,
      maxPerUserPerKey: config.pool.sizePerUser,
      idleTimeoutMs: config.pool.idleTimeoutMs,
      acquireTimeoutMs: config.pool.acquireTimeoutMs,
      connectTimeoutMs: 10_000,
      // Within the login budget (POSTERN_AUTH_TIMEOUT covers it).
      connectRetryMs: Math.max(0, config.authTimeoutMs - 2_000),
      log: this.log,
      connected: (seconds, failure) => {
        for (const listener of this.connectListeners) listener(seconds, failure);
      },
    });
  }

  /** Each attempt to open an upstream connection (metrics); returns the unsubscribe. */
  observeConnects(listener: ConnectListener): () => void {
    this.connectListeners.add(listener);
    return () => this.connectListeners.delete(listener);
  }

  /** Per database and level: connections in use, idle, and acquires waiting. */
  keyStats(): PoolKeyStats[] {
    return this.pool.keyStats();
  }

  /**
   * A connection for `user`, who counts against the per-user shares; a
   * `shortLived` one (HTTP query) may use the budget's HTTP reserve.
   */
  async acquire(
    target: UpstreamTarget,
    settings: Readonly<Record<string, string>>,
    user?: string,
    shortLived = false,
    signal?: AbortSignal,
  ): Promise<Lease> {
    await (this.budgetRead ??= this.readBudget());
    try {
      const lease = await this.pool.acquire(target, settings, user, shortLived, signal);
      if (!lease.reused) this.lastRefusal = 0; // PostgreSQL has slots again
      return lease;
    } catch (err) {
      if (clusterOutOfSlots(err)) this.lastRefusal = Date.now();
      throw err;
    }
  }

  /** A connection for one transaction of a transaction-pooled session (no reset, no settings). */
  async acquireForTransaction(
    target: UpstreamTarget,
    user?: string,
    signal?: AbortSignal,
  ): Promise<TransactionLease> {
    await (this.budgetRead ??= this.readBudget());
    try {
      return await this.pool.acquireForTransaction(target, user, signal);
    } catch (err) {
      if (clusterOutOfSlots(err)) this.lastRefusal = Date.now();
      throw err;
    }
  }

  knownParameters(target: UpstreamTarget): ReadonlyMap<string, string> | null {
    return this.pool.knownParameters(target);
  }

  get stats(): { busy: number; idle: number } {
    return this.pool.stats;
  }

  /** Why new sessions cannot get an upstream connection now (for /readyz), or null. */
  get unavailable(): string | null {
    const exhausted = this.pool.exhaustedBudget;
    if (exhausted) {
      return `too many connections: the gateway's upstream connection budget (${exhausted.forSessions}) is exhausted`;
    }
    if (Date.now() - this.lastRefusal < REFUSAL_MEMORY_MS) {
      return 'the upstream PostgreSQL refuses connections: it has no connection slots left';
    }
    return null;
  }

  onApplicationShutdown(): void {
    this.pool.close();
  }

  /**
   * The budget: what the cluster lets non-superusers open (max_connections
   * less the reserved slots), less the gateway's own reserve (control plane
   * pools, provisioning, maintenance), capped by POSTERN_UPSTREAM_MAX_CONNECTIONS.
   * Read once, on the first acquire; when the cluster cannot be asked, the
   * next acquire tries again.
   */
  private async readBudget(): Promise<void> {
    const client = new Client({
      connectionString: superuserUrl(this.cluster.endpoint, CONTROL_DATABASE),
      connectionTimeoutMillis: 5_000,
    });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const { rows } = await client.query<{ max: number; reserved: number }>(
        `SELECT current_setting('max_connections')::int AS max,
                current_setting('superuser_reserved_connections')::int
                  + coalesce(current_setting('reserved_connections', true)::int, 0) AS reserved`,
      );
      const { max, reserved } = rows[0]!;
      const { upstream } = this.config;
      const clusterShare = max - reserved - upstream.reserve;
      const total = Math.max(
        1,
        upstream.maxConnections > 0
          ? Math.min(upstream.maxConnections, clusterShare)
          : clusterShare,
      );
      // HTTP queries keep their part unless the budget is too small to split.
      const forSessions = Math.max(1, total - upstream.httpReserve);
      const perUser =
        upstream.maxConnectionsPerUser > 0
          ? Math.min(upstream.maxConnectionsPerUser, total)
          : Math.ceil(forSessions / 2);
      const budget: UpstreamBudget = { total, forSessions, perUser };
      this.pool.setBudget(budget);
      if (clusterShare < 1) {
        this.log.warn(
          `the cluster allows ${max} connections (${reserved} reserved) and the gateway keeps ` +
            `${upstream.reserve}: tenant connections are limited to 1`,
        );
      }
      this.log.info(
        `upstream connection budget: ${total}, ${forSessions} of them for wire sessions ` +
          `(a user may hold ${perUser})`,
      );
    } catch (err) {
      this.budgetRead = null;
      this.log.warn(`could not read the cluster's connection limits: ${(err as Error).message}`);
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}
