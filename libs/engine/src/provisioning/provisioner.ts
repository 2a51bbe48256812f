import type { ClusterEndpoint } from '../cluster';
import { withSuperuser } from './admin-connection';
import { closeDatabasesToPublic } from './cluster-hardening';
import { databaseExists, databaseOid, roleExists, withProvisioningLock } from './catalog';
import {
  hardenDatabaseContents,
  hardenDatabaseEntry,
  revokeForeignPrivileges,
} from './database-hardening';
import {
  collectDatabaseViolations,
  ProvisioningInvariantError,
  READER_SETTINGS,
} from './invariants';
import type { PhysicalDatabase } from './physical-database';
import {
  ensureLoginRole,
  resetDatabaseSettings,
  resetRoleSettings,
  revokeMemberships,
} from './roles';
import { quoteIdent } from './sql';

export { CONTROL_DATABASE, newPhysicalDatabase, type PhysicalDatabase } from './physical-database';

/**
 * Creates (or completes, or repairs) the physical database and its two
 * roles, hardens it, and checks the PRIV-T2/T3 invariants, throwing a
 * ProvisioningInvariantError when one does not hold. Everything a tenant
 * role can change is repaired before the check, and the check looks at this
 * database's roles and database only: another database's state never fails
 * it (HARD-07). Every step checks or
 * is idempotent, so a run interrupted half-way converges on retry, and a
 * database provisioned by an older version converges when this runs again.
 * Runs are serialised cluster-wide by an advisory lock.
 */
export async function provisionDatabase(
  endpoint: ClusterEndpoint,
  db: PhysicalDatabase,
): Promise<void> {
  const { writer, reader, physicalName } = db;
  const roles = [writer.role, reader.role];
  await withSuperuser(endpoint, 'postgres', (cluster) =>
    withProvisioningLock(cluster, async () => {
      await ensureLoginRole(cluster, writer.role, writer.password);
      await ensureLoginRole(cluster, reader.role, reader.password);
      await revokeMemberships(cluster, roles);
      await resetRoleSettings(cluster, writer.role, {});
      await resetRoleSettings(cluster, reader.role, READER_SETTINGS);
      // Before the database ACL: DROP OWNED BY may take the reader's CONNECT with it.
      const ownOid = await databaseOid(cluster, physicalName);
      await revokeForeignPrivileges(endpoint, cluster, roles, ownOid);
      await hardenDatabaseEntry(cluster, db);
      await closeDatabasesToPublic(cluster);
      const violations = await withSuperuser(endpoint, physicalName, async (database) => {
        await hardenDatabaseContents(database, db);
        return collectDatabaseViolations(cluster, database, db);
      });
      if (violations.length > 0) {
        throw new ProvisioningInvariantError(`tenant database ${physicalName}`, violations);
      }
    }),
  );
}

/**
 * The quick repair for a failed or tainted upstream login of a tenant role:
 * puts back both roles' passwords, attributes, memberships and role-level
 * settings, and removes the database's own settings, without touching what
 * is inside it. PostgreSQL 15 lets any role change its own password and
 * settings (`ALTER ROLE CURRENT_USER PASSWORD ...`, `... SET
 * statement_timeout = ...`) and the writer its database's (`ALTER DATABASE
 * ... SET`), and every read-only login of a database shares the reader role,
 * so one login could lock the others out or change their sessions; the
 * upstream pool calls this when a new session is refused or shows planted
 * settings, then retries once.
 */
export async function repairRoleLogins(
  endpoint: ClusterEndpoint,
  db: PhysicalDatabase,
): Promise<void> {
  const { writer, reader } = db;
  await withSuperuser(endpoint, 'postgres', (cluster) =>
    withProvisioningLock(cluster, async () => {
      // A database being deleted: its roles must not come back.
      if (!(await databaseExists(cluster, db.physicalName))) return;
      await ensureLoginRole(cluster, writer.role, writer.password);
      await ensureLoginRole(cluster, reader.role, reader.password);
      await revokeMemberships(cluster, [writer.role, reader.role]);
      await resetRoleSettings(cluster, writer.role, {});
      await resetRoleSettings(cluster, reader.role, READER_SETTINGS);
      await resetDatabaseSettings(cluster, db.physicalName);
    }),
  );
}

/**
 * Re-applies provisioning (hardening and the invariant check) to every
 * database given, e.g. all provisioned ones at start, so databases made by
 * older versions, or changed by a tenant since, converge. One failing
 * database does not stop the others; the failures are thrown together.
 */
export async function hardenExistingDatabases(
  endpoint: ClusterEndpoint,
  databases: readonly PhysicalDatabase[],
): Promise<void> {
  const failures: Error[] = [];
  for (const db of databases) {
    try {
      await provisionDatabase(endpoint, db);
    } catch (err) {
      failures.push(err instanceof Error ? err : new Error(String(err)));
    }
  }
  if (failures.length > 0) {
    throw new AggregateError(
      failures,
      `hardening failed for ${failures.length} of ${databases.length} databases:\n` +
        failures.map((failure) => failure.message).join('\n'),
    );
  }
}

/**
 * Drops the physical database and both roles, ending their backends first.
 * Idempotent: what is already gone is skipped, so a retry converges.
 */
export async function dropDatabase(endpoint: ClusterEndpoint, db: PhysicalDatabase): Promise<void> {
  const roles = [db.writer.role, db.reader.role];
  await withSuperuser(endpoint, 'postgres', (client) =>
    withProvisioningLock(client, async () => {
      const name = quoteIdent(db.physicalName);
      if (await databaseExists(client, db.physicalName)) {
        // Nobody may connect while it is going away.
        await client.query(`REVOKE CONNECT ON DATABASE ${name} FROM PUBLIC`);
        for (const role of roles) {
          if (await roleExists(client, role)) {
            await client.query(`ALTER ROLE ${quoteIdent(role)} NOLOGIN`);
          }
        }
        // The owner may have made it a template, which cannot be dropped.
        await client.query(`ALTER DATABASE ${name} WITH IS_TEMPLATE false`);
        await client.query(`DROP DATABASE ${name} WITH (FORCE)`);
      }
      const remaining = [];
      for (const role of roles) if (await roleExists(client, role)) remaining.push(role);
      // Grants other tenants made to these roles would block DROP ROLE.
      await revokeForeignPrivileges(endpoint, client, remaining, null);
      for (const role of [db.reader.role, db.writer.role]) {
        if (remaining.includes(role)) await client.query(`DROP ROLE ${quoteIdent(role)}`);
      }
    }),
  );
}
