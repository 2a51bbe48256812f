import type { ClusterEndpoint } from '../cluster';
import { withSuperuser } from './admin-connection';
import { databaseExists, withProvisioningLock } from './catalog';
import { collectClusterViolations, ProvisioningInvariantError } from './invariants';
import type { Client } from 'pg';
import {
  CONTROL_DATABASE,
  SYSTEM_DATABASES,
  TENANT_DATABASE_PATTERN,
  TENANT_ROLE_PATTERN,
} from './physical-database';
import { resetRoleAttributes, revokeMemberships } from './roles';
import { quoteIdent } from './sql';

/**
 * Cluster-wide hardening and the control-plane database. Safe to run at
 * every start (each step checks or is idempotent), and it ends with the
 * cluster invariant check, which throws when something is still wrong:
 *
 * ```sql
 * CREATE DATABASE postern_control;                          -- when missing
 * REVOKE ALL ON DATABASE postgres, template0, template1, postern_control FROM PUBLIC;
 * REVOKE ALL ON DATABASE <tenant database> FROM PUBLIC;     -- when its owner granted something
 * REVOKE ALL ON PARAMETER <p> FROM PUBLIC;                  -- PG 15 GRANT SET / ALTER SYSTEM (PRIV-18)
 * REVOKE <any role> FROM <tenant role>; REVOKE <tenant role> FROM <any role>;
 * ALTER ROLE <tenant role> NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
 * ```
 *
 * Databases that are neither the cluster's own nor Postern's (an external
 * cluster's other databases) are never touched: the answer lists one line
 * for each that PUBLIC may still reach, naming what the operator should
 * revoke. PostgreSQL grants CONNECT and TEMPORARY to PUBLIC on every new
 * database, so such a cluster is ordinary and must start (HARD-07).
 */
export async function prepareCluster(endpoint: ClusterEndpoint): Promise<string[]> {
  return withSuperuser(endpoint, 'postgres', (client) =>
    withProvisioningLock(client, async () => {
      if (!(await databaseExists(client, CONTROL_DATABASE))) {
        await client.query(`CREATE DATABASE ${quoteIdent(CONTROL_DATABASE)}`);
      }
      const parameters = await client.query<{ parname: string }>(
        `SELECT DISTINCT p.parname FROM pg_parameter_acl p, aclexplode(p.paracl) a
          WHERE a.grantee = 0`,
      );
      for (const { parname } of parameters.rows) {
        await client.query(`REVOKE ALL ON PARAMETER ${parname} FROM PUBLIC`);
      }
      const tenantRoles = await client.query<{ rolname: string }>(
        'SELECT rolname FROM pg_roles WHERE rolname ~ $1',
        [TENANT_ROLE_PATTERN],
      );
      const roles = tenantRoles.rows.map((row) => row.rolname);
      await revokeMemberships(client, roles);
      await resetRoleAttributes(client, roles);
      await closeDatabasesToPublic(client);
      const violations = await collectClusterViolations(client);
      if (violations.length > 0) throw new ProvisioningInvariantError('the cluster', violations);
      return foreignDatabaseNotes(client);
    }),
  );
}

/**
 * Tenant roles reach only their own database: the system databases and
 * every tenant database are closed to PUBLIC (template0 does not accept
 * connections anyway; closing it keeps "no PUBLIC CONNECT" true
 * everywhere). A tenant database's owner may `GRANT CONNECT ON DATABASE
 * <own> TO PUBLIC`; each database's provisioning repairs its own ACL, and
 * this sweep runs with every provisioning too, so another tenant's grant
 * (or an operator's on a system database) is undone instead of being held
 * against the database being provisioned (HARD-07).
 */
export async function closeDatabasesToPublic(client: Client): Promise<void> {
  const { rows } = await client.query<{ datname: string }>(
    `SELECT DISTINCT d.datname FROM pg_database d,
            aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
      WHERE (d.datname ~ $1 OR d.datname = ANY($2::name[])) AND a.grantee = 0`,
    [TENANT_DATABASE_PATTERN, SYSTEM_DATABASES],
  );
  for (const { datname } of rows) {
    await client.query(`REVOKE ALL ON DATABASE ${quoteIdent(datname)} FROM PUBLIC CASCADE`);
  }
}

/** One line per database that is not Postern's and that PUBLIC may still reach. */
async function foreignDatabaseNotes(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ datname: string; privileges: string[] }>(
    `SELECT d.datname, array_agg(a.privilege_type::text ORDER BY a.privilege_type) AS privileges
       FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
      WHERE a.grantee = 0 AND d.datname !~ $1 AND d.datname <> ALL ($2::name[])
      GROUP BY d.datname ORDER BY d.datname`,
    [TENANT_DATABASE_PATTERN, SYSTEM_DATABASES],
  );
  return rows.map(({ datname, privileges }) => {
    const held = privileges.join(', ');
    return (
      `Postern will not touch database ${quoteIdent(datname)}, which is not its own: ` +
      `PUBLIC holds ${held} on it, so Postern's tenant roles can reach it upstream; ` +
      `tighten it with REVOKE ${held} ON DATABASE ${quoteIdent(datname)} FROM PUBLIC`
    );
  });
}
