/**
 * Where a PostgreSQL server is reached with superuser rights: the embedded
 * one or an external one named by URL. Tenant sessions never use these
 * credentials (least privilege upstream); provisioning and the control plane do.
 */
export interface ClusterEndpoint {
  readonly host: string;
  readonly port: number;
  readonly superuser: string;
  readonly superuserPassword: string;
  /** TLS towards the cluster: off for the embedded one on loopback. */
  readonly ssl: false | { readonly rejectUnauthorized: boolean };
  /**
   * The Unix-domain socket tenant roles log in over: the embedded cluster's,
   * in a directory only the gateway's and PostgreSQL's OS users can enter,
   * while its pg_hba refuses every role but the superuser over TCP (HARD-05).
   * Null for an external cluster: tenant roles use host:port, and the
   * operator's pg_hba must admit them from the gateway only.
   */
  readonly tenantSocketPath: string | null;
}

export interface Cluster {
  readonly endpoint: ClusterEndpoint;
  stop(): Promise<void>;
}

/** A connection string for node-postgres / Prisma to `database` as the superuser. */
export function superuserUrl(endpoint: ClusterEndpoint, database: string): string {
  const url = new URL('postgresql://localhost');
  url.hostname = endpoint.host;
  url.port = String(endpoint.port);
  url.username = endpoint.superuser;
  url.password = endpoint.superuserPassword;
  url.pathname = `/${encodeURIComponent(database)}`;
  if (endpoint.ssl) {
    url.searchParams.set('sslmode', endpoint.ssl.rejectUnauthorized ? 'verify-full' : 'require');
  }
  return url.toString();
}
