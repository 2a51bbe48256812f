import type { ClusterEndpoint } from '../cluster';
import { withSuperuser } from './admin-connection';
import { databaseExists, withProvisioningLock } from './catalog';
import { collectClusterViolations, ProvisioningInvariantError } from './invariants';
import { CONTROL_DATABASE, SYSTEM_DATABASES, TENANT_ROLE_PATTERN } from './physical-database';
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
 * REVOKE ALL ON PARAMETER <p> FROM PUBLIC;                  -- PG 15 GRANT SET / ALTER SYSTEM (PRIV-18)
 * REVOKE <any role> FROM <tenant role>; REVOKE <tenant role> FROM <any role>;
 * ALTER ROLE <tenant role> NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT;
 * ```
 */
export async function prepareCluster(endpoint: ClusterEndpoint): Promise<void> {
  await withSuperuser(endpoint, 'postgres', (client) =>
    withProvisioningLock(client, async () => {
      if (!(await databaseExists(client, CONTROL_DATABASE))) {
        await client.query(`CREATE DATABASE ${quoteIdent(CONTROL_DATABASE)}`);
      }
      // Tenant roles reach only their own database. template0 does not accept
      // connections anyway; closing it keeps "no PUBLIC CONNECT" true everywhere.
      for (const db of SYSTEM_DATABASES) {
        await client.query(`REVOKE ALL ON DATABASE ${quoteIdent(db)} FROM PUBLIC`);
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
      const violations = await collectClusterViolations(client);
      if (violations.length > 0) throw new ProvisioningInvariantError('the cluster', violations);
    }),
  );
}
