import type { ClusterEndpoint } from '../cluster';
import { withSuperuser } from './admin-connection';

/**
 * Ends upstream backends the way an administrator would: PostgreSQL sends
 * its own `FATAL 57P01` at a message boundary, which the relay passes on,
 * so the client sees a clean termination instead of a cut stream.
 */
export async function terminateBackends(
  endpoint: ClusterEndpoint,
  processIds: readonly number[],
): Promise<void> {
  if (processIds.length === 0) return;
  await withSuperuser(endpoint, 'postgres', (client) =>
    client.query('SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid', [processIds]),
  );
}
