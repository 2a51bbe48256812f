import type { Cluster, ClusterEndpoint } from './cluster';

/** `POSTERN_UPSTREAM_URL`: an existing PostgreSQL reached with a superuser URL. */
export function externalCluster(url: string): Cluster {
  const parsed = new URL(url);
  const sslmode = parsed.searchParams.get('sslmode');
  const endpoint: ClusterEndpoint = {
    host: decodeURIComponent(parsed.hostname.replace(/^\[|\]$/g, '')) || 'localhost',
    port: parsed.port ? Number(parsed.port) : 5432,
    superuser: decodeURIComponent(parsed.username) || 'postgres',
    superuserPassword: decodeURIComponent(parsed.password),
    ssl:
      sslmode === null || sslmode === 'disable' || sslmode === 'prefer' || sslmode === 'allow'
        ? false
        : { rejectUnauthorized: sslmode === 'verify-full' || sslmode === 'verify-ca' },
    tenantSocketPath: null,
  };
  return { endpoint, stop: async () => {} };
}
