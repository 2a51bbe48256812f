import type { ClusterEndpoint } from '../cluster';
import { READER_SETTINGS } from '../provisioning/invariants';
import { repairRoleLogins, type PhysicalDatabase } from '../provisioning/provisioner';
import type { UpstreamTarget } from './upstream-connect';

/**
 * Fixed per role for every upstream session (startup options outrank
 * settings a tenant role may set on itself): no preloaded libraries, and
 * read-only sessions start read-only before privileges are even consulted.
 */
const WRITER_STARTUP: Readonly<Record<string, string>> = { local_preload_libraries: '' };
const READER_STARTUP: Readonly<Record<string, string>> = { ...WRITER_STARTUP, ...READER_SETTINGS };
const READER_PROVISIONED = Object.entries(READER_SETTINGS).map(
  ([name, value]) => `${name}=${value}`,
);

/**
 * Where a session of `database` logs in upstream: as its reader role for a
 * read-only level, else as its writer role; over the cluster's private
 * socket when it has one. The wire and the HTTP query API both use it, so
 * both get the same startup settings, the same check for planted settings
 * and the same repair.
 */
export function tenantTarget(
  endpoint: ClusterEndpoint,
  database: PhysicalDatabase,
  readOnly: boolean,
): UpstreamTarget {
  const role = readOnly ? database.reader : database.writer;
  return {
    host: endpoint.host,
    port: endpoint.port,
    socketPath: endpoint.tenantSocketPath,
    ssl: endpoint.ssl,
    database: database.physicalName,
    user: role.role,
    password: role.password,
    startupParameters: readOnly ? READER_STARTUP : WRITER_STARTUP,
    provisionedSettings: readOnly ? READER_PROVISIONED : [],
    repair: () => repairRoleLogins(endpoint, database),
  };
}
