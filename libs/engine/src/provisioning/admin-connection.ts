import { Client } from 'pg';
import type { ClusterEndpoint } from '../cluster';

/**
 * Settings every superuser session starts with, as startup options. They
 * outrank anything a tenant stored with `ALTER DATABASE ... SET` (the writer
 * owns its database and may do that): without them a superuser connecting to
 * a tenant database could start as the writer (`SET role`), resolve names in
 * the tenant's schemas first (`search_path = public, pg_catalog`, so a
 * tenant's `public."="(oid, oid)` would run as superuser), load a library,
 * or be read-only or time out half-way through hardening.
 */
const NEUTRAL_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['role', 'none'],
  ['search_path', 'pg_catalog,pg_temp'],
  ['default_transaction_read_only', 'off'],
  ['statement_timeout', '0'],
  ['lock_timeout', '0'],
  ['idle_in_transaction_session_timeout', '0'],
  ['idle_session_timeout', '0'],
  ['local_preload_libraries', ''],
  ['standard_conforming_strings', 'on'],
  ['check_function_bodies', 'on'],
  ['client_min_messages', 'warning'],
];

/** Startup options are split on spaces: none of the values above contains one. */
function neutralOptions(): string {
  return NEUTRAL_SETTINGS.map(([name, value]) => `-c ${name}=${value}`).join(' ');
}

/**
 * Runs `work` on a short-lived superuser connection to `database`, in a
 * session whose identity and name resolution no tenant setting can change
 * (checked before `work` runs).
 */
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
    options: neutralOptions(),
  });
  // A server that goes away between two statements emits 'error' on the idle
  // client; the pending or next query reports it, so it must not crash the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    await assertNeutralSession(client, endpoint.superuser, database);
    return await work(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function assertNeutralSession(
  client: Client,
  superuser: string,
  database: string,
): Promise<void> {
  const { rows } = await client.query<{
    current_user: string;
    session_user: string;
    search_path: string;
    read_only: string;
  }>(
    `SELECT current_user AS current_user, session_user AS session_user,
            pg_catalog.array_to_string(pg_catalog.current_schemas(true), ',') AS search_path,
            pg_catalog.current_setting('transaction_read_only') AS read_only`,
  );
  const session = rows[0]!;
  if (
    session.current_user !== superuser ||
    session.session_user !== superuser ||
    session.search_path !== 'pg_catalog' ||
    session.read_only !== 'off'
  ) {
    throw new Error(
      `superuser session in database "${database}" is not neutral: ` +
        `current_user=${session.current_user} session_user=${session.session_user} ` +
        `search_path=${session.search_path} transaction_read_only=${session.read_only}`,
    );
  }
}
