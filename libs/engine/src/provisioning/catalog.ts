import type { Client } from 'pg';

/**
 * Catalog look-ups for provisioning. Every query runs in a session whose
 * search_path is pg_catalog only (see admin-connection.ts), so no tenant
 * object can stand in for a catalog name, function or operator.
 */
export async function roleExists(client: Client, role: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  return rowCount === 1;
}

export async function databaseOid(client: Client, name: string): Promise<number | null> {
  const { rows } = await client.query<{ oid: number }>(
    'SELECT oid::int8 AS oid FROM pg_database WHERE datname = $1',
    [name],
  );
  return rows.length === 1 ? Number(rows[0]!.oid) : null;
}

export async function databaseExists(client: Client, name: string): Promise<boolean> {
  return (await databaseOid(client, name)) !== null;
}

/**
 * Schemas a tenant may create and use: everything but the system ones
 * (`pg_catalog`, `pg_toast`, `pg_temp_N`, ... and `information_schema`).
 */
export async function tenantSchemas(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ nspname: string }>(
    `SELECT nspname FROM pg_namespace
      WHERE nspname <> 'information_schema' AND nspname !~ '^pg_'
      ORDER BY nspname`,
  );
  return rows.map((row) => row.nspname);
}

/** A provisioning-wide lock, so concurrent provisioning runs never interleave (held per session). */
const PROVISIONING_LOCK_KEY = '7305872210481625939';

export async function withProvisioningLock<T>(client: Client, work: () => Promise<T>): Promise<T> {
  await client.query('SELECT pg_advisory_lock($1::int8)', [PROVISIONING_LOCK_KEY]);
  try {
    return await work();
  } finally {
    await client
      .query('SELECT pg_advisory_unlock($1::int8)', [PROVISIONING_LOCK_KEY])
      .catch(() => undefined);
  }
}
