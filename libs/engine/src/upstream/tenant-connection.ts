import type { ClusterEndpoint } from '../cluster';
import type { LogSink } from '../log';
import type { PhysicalDatabase } from '../provisioning';
import type { Lease, TransactionLease } from './pool';
import { tenantTarget } from './tenant-target';
import type { UpstreamTarget } from './upstream-connect';
import { upstreamFailure } from './upstream-failure';

/**
 * The upstream pool (UpstreamPool, or the server's PoolService in front of
 * it): `user` counts against the per-user shares, and a `shortLived` lease
 * (an HTTP request) may use the budget's HTTP reserve.
 */
export interface LeaseSource {
  acquire(
    target: UpstreamTarget,
    settings: Readonly<Record<string, string>>,
    user?: string,
    shortLived?: boolean,
    signal?: AbortSignal,
  ): Promise<Lease>;
}

/** What a transaction-pooled session draws its connections from (UpstreamPool, or PoolService). */
export interface TransactionLeaseSource {
  acquireForTransaction(
    target: UpstreamTarget,
    user?: string,
    signal?: AbortSignal,
  ): Promise<TransactionLease>;
  knownParameters(target: UpstreamTarget): ReadonlyMap<string, string> | null;
}

/** An upstream connection for a login at a level on a tenant database. */
export interface TenantConnectionRequest {
  readonly endpoint: ClusterEndpoint;
  readonly database: PhysicalDatabase;
  /** The read-only level logs in as the database's reader role, every other as its writer. */
  readonly readOnly: boolean;
  /** `owner/name`, for messages. */
  readonly databaseName: string;
  /** Who counts against the per-user shares, and is named when one refuses. */
  readonly user: { readonly id: string; readonly slug: string };
  /** The client's settings, applied with set_config and reset when the lease ends. */
  readonly settings: Readonly<Record<string, string>>;
  /** An HTTP request's connection, given back at its end. */
  readonly shortLived: boolean;
  /** The database's own pool size per level (its `poolSize` limit); absent: the pool's. */
  readonly poolSize?: number;
  /** When `poolSize` was read (see UpstreamTarget.poolSizeReadAt). */
  readonly poolSizeReadAt?: number;
}

/** No upstream connection: what the client is told (a wire ErrorResponse, an HTTP error). */
export class UpstreamUnavailableError extends Error {
  constructor(
    readonly sqlstate: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The one way the wire and SQL over HTTP get an upstream connection for
 * (database, level): the same role and fixed startup settings
 * (`tenantTarget`), the same pool with its check for planted settings and
 * role repair, the same limits, and the same failure mapping
 * (`upstreamFailure`), thrown as UpstreamUnavailableError.
 */
export async function acquireTenantConnection(
  pool: LeaseSource,
  request: TenantConnectionRequest,
  log: LogSink,
  signal?: AbortSignal,
): Promise<Lease> {
  const target = labelled(request);
  try {
    return await pool.acquire(
      target,
      request.settings,
      request.user.id,
      request.shortLived,
      signal,
    );
  } catch (err) {
    if (signal?.aborted) throw err; // given up: nothing to tell anyone
    const failure = upstreamFailure(err, request.databaseName, request.user.slug, log);
    if (!failure) throw err;
    throw new UpstreamUnavailableError(failure.sqlstate, failure.message);
  }
}

/**
 * Where a transaction-pooled session on (database, level) gets a connection
 * for each transaction: the same role, pool and failure mapping as
 * acquireTenantConnection, and the parameters its login is told (from the
 * pool, or from one connection taken and given back at once).
 */
export async function tenantTransactionLeases(
  pool: TransactionLeaseSource,
  request: Omit<TenantConnectionRequest, 'settings' | 'shortLived'>,
  log: LogSink,
): Promise<{
  /** `signal`: the session gave up waiting (see UpstreamPool.acquire). */
  readonly acquire: (signal?: AbortSignal) => Promise<TransactionLease>;
  readonly parameters: ReadonlyMap<string, string>;
}> {
  const target = labelled(request);
  // One per transaction: the pool's promise itself, with a handler only for a failure.
  const acquire = (signal?: AbortSignal) =>
    pool.acquireForTransaction(target, request.user.id, signal).catch((err: unknown) => {
      if (signal?.aborted) throw err; // given up: nothing to tell anyone
      const failure = upstreamFailure(err, request.databaseName, request.user.slug, log);
      if (!failure) throw err;
      throw new UpstreamUnavailableError(failure.sqlstate, failure.message);
    });
  let parameters = pool.knownParameters(target);
  if (!parameters) {
    const first = await acquire();
    parameters = first.connection.parameters;
    first.release(true);
  }
  return { acquire, parameters };
}

/**
 * What a login to (database, level) that takes no connection at login
 * (transaction pooling, or session pooling assigned at first use) is told
 * in ParameterStatus: the pool's, or one connection's, taken and given back.
 */
export async function tenantLoginParameters(
  pool: TransactionLeaseSource,
  request: Omit<TenantConnectionRequest, 'settings' | 'shortLived'>,
  log: LogSink,
): Promise<ReadonlyMap<string, string>> {
  return (await tenantTransactionLeases(pool, request, log)).parameters;
}

/** The tenant target, named for the pool's metrics (`owner/name`, the level its role serves). */
function labelled(
  request: Omit<TenantConnectionRequest, 'settings' | 'shortLived'>,
): UpstreamTarget {
  return {
    ...tenantTarget(request.endpoint, request.database, request.readOnly),
    poolSize: request.poolSize,
    poolSizeReadAt: request.poolSizeReadAt,
    label: {
      database: request.databaseName,
      level: request.readOnly ? 'read-only' : 'read-write',
    },
  };
}
