import { Client } from 'pg';
import type { ClusterEndpoint } from '../cluster';

/** Runs `work` on a short-lived superuser connection to `database`. */
export async function withSuperuser<T>(
  endpoint: ClusterEndpoint,
  database: string,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({
    host: endpoint.host,
    port: endpoint.port,
    user: endpoint.superuser,
    password: endpoint.superuserPassword,
    database,
    ssl: endpoint.ssl === false ? false : { rejectUnauthorized: endpoint.ssl.rejectUnauthorized },
    application_name: 'postern',
  });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}
