import { runSimpleQuery } from './simple-query';
import { UpstreamConnectError } from './upstream-connect';
import type { UpstreamConnection } from './upstream-connection';

/**
 * Every role- and database-level setting that reached this session or is
 * stored for it, as `name=value`: what the session got at startup
 * (pg_settings by source, race-free) and what the catalog holds for its
 * role and database (which also shows settings of libraries not loaded yet,
 * absent from pg_settings). Every name is schema-qualified and every
 * operator spelt `OPERATOR(pg_catalog.x)`: a planted `search_path` must not
 * let a tenant's own `pg_settings` view or `=` operator answer instead.
 */
const PLANTED_SETTINGS_QUERY = `
SELECT s.name OPERATOR(pg_catalog.||) '=' OPERATOR(pg_catalog.||) s.setting
  FROM pg_catalog.pg_settings s
 WHERE s.source OPERATOR(pg_catalog.=) ANY ('{database,user,"database user"}'::pg_catalog.text[])
UNION ALL
SELECT pg_catalog.unnest(c.setconfig)
  FROM pg_catalog.pg_db_role_setting c
 WHERE (c.setrole OPERATOR(pg_catalog.=) (SELECT r.oid FROM pg_catalog.pg_roles r
                                          WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER)
        AND c.setdatabase OPERATOR(pg_catalog.=) 0::pg_catalog.oid)
    OR c.setdatabase OPERATOR(pg_catalog.=) (SELECT d.oid FROM pg_catalog.pg_database d
                                              WHERE d.datname OPERATOR(pg_catalog.=) pg_catalog.current_database())`;

/**
 * A new upstream session carries role- or database-level settings nobody
 * provisioned: a tenant planted them with `ALTER ROLE CURRENT_USER SET` or
 * (the writer owns its database) `ALTER DATABASE ... SET`, and they would
 * reach every other login of the role or database (HARD-04).
 */
export class PlantedSettingsError extends UpstreamConnectError {
  constructor(
    message: string,
    sqlstate: string | undefined,
    readonly settings: readonly string[] = [],
  ) {
    super(message, sqlstate);
  }
}

/**
 * Throws PlantedSettingsError unless every role- and database-level setting
 * of this fresh session is one of `provisioned` (`name=value`). A check
 * that fails (a planted `statement_timeout` cancels it, a planted
 * `idle_session_timeout` ends the session) counts as planted too.
 */
export async function assertNoPlantedSettings(
  connection: UpstreamConnection,
  provisioned: readonly string[],
): Promise<void> {
  let result;
  try {
    result = await runSimpleQuery(connection, PLANTED_SETTINGS_QUERY, 1 << 20);
  } catch (err) {
    throw new PlantedSettingsError(
      `the session check failed: ${(err as Error).message}`,
      undefined,
    );
  }
  if (result.error || result.status !== 'I') {
    throw new PlantedSettingsError(
      `the session check failed: ${result.error?.M ?? `transaction status ${result.status}`}`,
      result.error?.C,
    );
  }
  const planted = result.rows
    .map((row) => row[0] ?? '')
    .filter((entry) => !provisioned.includes(entry));
  if (planted.length > 0) {
    const names = [...new Set(planted.map((entry) => entry.split('=', 1)[0]))];
    throw new PlantedSettingsError(
      `role or database settings nobody provisioned: ${names.join(', ')}`,
      undefined,
      planted,
    );
  }
}
