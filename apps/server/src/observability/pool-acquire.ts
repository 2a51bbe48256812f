import { UpstreamUnavailableError } from '#engine';
import type { PoolAcquireOutcome, PoolLevel, PosternMetrics } from './metrics';

/**
 * How an acquire that failed is counted in `postern_pool_acquire_duration_seconds`:
 * a full pool or share (53300), or anything else.
 */
export function acquireFailure(err: unknown): Extract<PoolAcquireOutcome, 'exhausted' | 'failed'> {
  return err instanceof UpstreamUnavailableError && err.sqlstate === '53300'
    ? 'exhausted'
    : 'failed';
}

/**
 * Gets a connection from a pool through `acquire` and records how long that
 * took and how it ended (`reused`, `new`, or why it failed) in
 * `postern_pool_acquire_duration_seconds`: an HTTP query's connection, as a
 * wire login's. A wait given up through `signal` is not counted: nothing
 * was lent, nothing refused.
 */
export async function timedAcquire<Lease extends { readonly reused: boolean }>(
  metrics: PosternMetrics,
  pool: { readonly database: string; readonly level: PoolLevel },
  acquire: () => Promise<Lease>,
  signal?: AbortSignal,
): Promise<Lease> {
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  try {
    const lease = await acquire();
    metrics.poolAcquire(pool.database, pool.level, seconds(), lease.reused ? 'reused' : 'new');
    return lease;
  } catch (err) {
    if (signal?.aborted) throw err;
    metrics.poolAcquire(pool.database, pool.level, seconds(), acquireFailure(err));
    throw err;
  }
}
