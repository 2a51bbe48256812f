import type { Client } from 'pg';
import type { ClusterEndpoint } from '../cluster';
import { withSuperuser } from './admin-connection';
import {
  FORBIDDEN_DATABASE_SETTINGS,
  LARGE_OBJECT_WRITERS,
  SERVER_FILE_FUNCTIONS,
  WAL_WRITERS,
} from './database-hardening';
import { SYSTEM_DATABASES, TENANT_ROLE_PATTERN, type PhysicalDatabase } from './physical-database';
import { storedPasswordMatches } from './roles';

/** Extensions that open connections or files from inside the server (PRIV-16/17). */
export const FORBIDDEN_EXTENSIONS: readonly string[] = [
  'dblink',
  'postgres_fdw',
  'file_fdw',
  'adminpack',
];

/** The reader role's only role-level setting. */
export const READER_SETTINGS: Readonly<Record<string, string>> = {
  default_transaction_read_only: 'on',
};

/** Provisioning left (or found) a state that breaks the privilege model. */
export class ProvisioningInvariantError extends Error {
  constructor(
    readonly subject: string,
    readonly violations: readonly string[],
  ) {
    super(
      `${subject} violates the provisioning invariants (docs/security.md PRIV-T2/T3):\n` +
        violations.map((violation) => `  - ${violation}`).join('\n'),
    );
    this.name = 'ProvisioningInvariantError';
  }
}

interface Check {
  readonly sql: string;
  readonly params?: readonly unknown[];
}

async function run(client: Client, checks: readonly Check[]): Promise<string[]> {
  const violations: string[] = [];
  for (const check of checks) {
    const { rows } = await client.query<{ violation: string }>(check.sql, [
      ...(check.params ?? []),
    ]);
    violations.push(...rows.map((row) => row.violation));
  }
  return violations;
}

/** Roles: attributes and memberships (PRIV-06, PRIV-20). */
function roleChecks(roles: readonly string[], requireLogin: boolean): Check[] {
  return [
    {
      sql: `SELECT format('role %s is missing', wanted) AS violation
              FROM unnest($1::name[]) AS wanted
             WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = wanted)`,
      params: [roles],
    },
    {
      sql: `SELECT format('role %s has %s', rolname, attribute) AS violation
              FROM pg_roles,
                   LATERAL (VALUES ('SUPERUSER', rolsuper), ('CREATEDB', rolcreatedb),
                                   ('CREATEROLE', rolcreaterole), ('REPLICATION', rolreplication),
                                   ('BYPASSRLS', rolbypassrls), ('INHERIT', rolinherit),
                                   ('NOLOGIN', NOT rolcanlogin AND $2)) AS a(attribute, held)
             WHERE rolname = ANY($1::name[]) AND held`,
      params: [roles, requireLogin],
    },
    {
      sql: `SELECT format('role %s is a member of role %s', m.rolname, r.rolname) AS violation
              FROM pg_auth_members am
              JOIN pg_roles r ON r.oid = am.roleid
              JOIN pg_roles m ON m.oid = am.member
             WHERE r.rolname = ANY($1::name[]) OR m.rolname = ANY($1::name[])`,
      params: [roles],
    },
    {
      sql: `SELECT format('role %s may %s parameter %s', pg_get_userbyid(a.grantee), a.privilege_type,
                          p.parname) AS violation
              FROM pg_parameter_acl p, aclexplode(p.paracl) a
             WHERE pg_get_userbyid(a.grantee) = ANY($1::name[])`,
      params: [roles],
    },
  ];
}

/** PUBLIC may neither connect to nor create temporary objects in these databases (PRIV-T3). */
function publicDatabaseChecks(databases: readonly string[]): Check[] {
  return [
    {
      sql: `SELECT format('PUBLIC has %s on database %s', a.privilege_type, d.datname) AS violation
              FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
             WHERE a.grantee = 0 AND d.datname = ANY($1::name[])`,
      params: [databases],
    },
  ];
}

/** Checks on a connection to any database (shared catalogs) for one tenant database. */
function clusterChecks(db: PhysicalDatabase): Check[] {
  const writer = db.writer.role;
  const reader = db.reader.role;
  const roles = [writer, reader];
  return [
    ...roleChecks(roles, true),
    ...publicDatabaseChecks([db.physicalName, ...SYSTEM_DATABASES]),
    {
      sql: `SELECT format('database %s is missing', $1::name) AS violation
             WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1::name)`,
      params: [db.physicalName],
    },
    {
      sql: `SELECT format('database %s %s', datname, problem) AS violation
              FROM pg_database,
                   LATERAL (VALUES
                     (format('is owned by %s, not %s', pg_get_userbyid(datdba), $2::name),
                      pg_get_userbyid(datdba) <> $2::name),
                     ('is a template', datistemplate),
                     ('does not allow connections', NOT datallowconn)) AS p(problem, bad)
             WHERE datname = $1::name AND bad`,
      params: [db.physicalName, writer],
    },
    {
      sql: `SELECT format('database %s grants %s to role %s', d.datname, a.privilege_type,
                          pg_get_userbyid(a.grantee)) AS violation
              FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
             WHERE d.datname = $1::name AND a.grantee <> 0
               AND pg_get_userbyid(a.grantee) <> ALL ($2::name[])`,
      params: [db.physicalName, roles],
    },
    {
      // Each role is granted nothing on another database. What PUBLIC holds
      // on other databases is their own state, not this one's: another
      // tenant's (closed again by closeDatabasesToPublic) or, on an
      // external cluster, the operator's (reported at start), so one
      // database's state never fails another's provisioning (HARD-07).
      sql: `SELECT format('role %s has %s on database %s', r.rolname, a.privilege_type, d.datname)
                   AS violation
              FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
              JOIN pg_roles r ON r.oid = a.grantee
             WHERE r.rolname = ANY($2::name[]) AND d.datname <> $1::name`,
      params: [db.physicalName, roles],
    },
    {
      // On its own database the reader may CONNECT and nothing else.
      sql: `SELECT format('role %s has %s on database %s', $2::name, p.privilege, d.datname) AS violation
              FROM pg_database d
             CROSS JOIN (VALUES ('TEMPORARY'), ('CREATE')) AS p(privilege)
             WHERE d.datname = $1::name
               AND has_database_privilege($2::name, d.oid, p.privilege)`,
      params: [db.physicalName, reader],
    },
    {
      sql: `SELECT format('role %s lacks %s on its database %s', r.rolname, p.privilege, d.datname)
                   AS violation
              FROM pg_database d
             CROSS JOIN pg_roles r
             CROSS JOIN (VALUES ('CONNECT'), ('TEMPORARY'), ('CREATE')) AS p(privilege)
             WHERE d.datname = $1::name AND r.rolname = ANY($2::name[])
               AND (r.rolname = $3::name OR p.privilege = 'CONNECT')
               AND NOT has_database_privilege(r.oid, d.oid, p.privilege)`,
      params: [db.physicalName, roles, writer],
    },
    {
      sql: `SELECT format('role %s has settings %s%s', r.rolname, s.setconfig,
                          CASE WHEN s.setdatabase = 0 THEN ''
                               ELSE format(' in database %s', coalesce(d.datname, s.setdatabase::text))
                          END) AS violation
              FROM pg_db_role_setting s
              JOIN pg_roles r ON r.oid = s.setrole
              LEFT JOIN pg_database d ON d.oid = s.setdatabase
             WHERE r.rolname = ANY($1::name[])
               AND NOT (r.rolname = $2::name AND s.setdatabase = 0
                        AND s.setconfig @> $3::text[] AND s.setconfig <@ $3::text[])`,
      params: [roles, reader, Object.entries(READER_SETTINGS).map(([k, v]) => `${k}=${v}`)],
    },
    {
      sql: `SELECT format('role %s lacks its setting %s', $1::name, wanted) AS violation
              FROM unnest($2::text[]) AS wanted
             WHERE NOT EXISTS (SELECT 1 FROM pg_db_role_setting s
                                WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = $1::name)
                                  AND s.setdatabase = 0 AND wanted = ANY(s.setconfig))`,
      params: [reader, Object.entries(READER_SETTINGS).map(([k, v]) => `${k}=${v}`)],
    },
    {
      sql: `SELECT format('database %s has setting %s', d.datname, entry) AS violation
              FROM pg_db_role_setting s
              JOIN pg_database d ON d.oid = s.setdatabase, unnest(s.setconfig) AS entry
             WHERE d.datname = $1::name AND s.setrole = 0
               AND lower(split_part(entry, '=', 1)) = ANY($2::text[])`,
      params: [db.physicalName, FORBIDDEN_DATABASE_SETTINGS],
    },
  ];
}

/**
 * Anything the roles own or were granted outside their own database, and
 * anything the reader owns at all (pg_shdepend is shared: run it in the
 * tenant database, where its own objects can be described).
 */
function dependencyChecks(db: PhysicalDatabase): Check[] {
  const roles = [db.writer.role, db.reader.role];
  const reader = db.reader.role;
  return [
    {
      sql: `SELECT format('role %s %s %s in %s', r.rolname,
                          CASE d.deptype WHEN 'o' THEN 'owns' WHEN 'a' THEN 'has privileges on'
                                         WHEN 'r' THEN 'is named in a policy on' ELSE 'depends on' END,
                          CASE WHEN d.classid = 'pg_database'::regclass
                               THEN format('database %s',
                                           (SELECT datname FROM pg_database WHERE oid = d.objid))
                               -- Objects of other databases cannot be described from here.
                               WHEN d.dbid = 0 OR db.datname = current_database()
                               THEN pg_describe_object(d.classid, d.objid, 0)
                               ELSE format('%s %s', d.classid::regclass, d.objid) END,
                          CASE WHEN d.dbid = 0 THEN 'the cluster'
                               ELSE format('database %s', coalesce(db.datname, d.dbid::text)) END)
                   AS violation
              FROM pg_shdepend d
              JOIN pg_roles r ON r.oid = d.refobjid
              LEFT JOIN pg_database db ON db.oid = d.dbid
              LEFT JOIN pg_database own ON own.datname = $1::name
             WHERE d.refclassid = 'pg_authid'::regclass AND r.rolname = ANY($2::name[])
               AND ((d.deptype = 'o' AND r.rolname = $3::name)
                    OR NOT (d.dbid = own.oid
                            OR (d.dbid = 0 AND d.classid = 'pg_database'::regclass
                                AND d.objid = own.oid)))`,
      params: [db.physicalName, roles, reader],
    },
  ];
}

/** Checks inside the tenant database (PRIV-05, -12, -13, -15, -17 and the PRIV-T2 queries). */
function databaseChecks(db: PhysicalDatabase): Check[] {
  const reader = db.reader.role;
  const writer = db.writer.role;
  return [
    {
      sql: `SELECT format('role %s may CREATE in schema %s', $1::name, nspname) AS violation
              FROM pg_namespace WHERE has_schema_privilege($1::name, oid, 'CREATE')`,
      params: [reader],
    },
    {
      sql: `SELECT format('role %s may execute SECURITY DEFINER routine %s', $1::name,
                          p.oid::regprocedure) AS violation
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND has_function_privilege($1::name, p.oid, 'EXECUTE')`,
      params: [reader],
    },
    {
      sql: `SELECT format('%s may execute %s', who, f) AS violation
              FROM unnest($2::text[]) AS f,
                   LATERAL (SELECT 'PUBLIC' AS who
                             WHERE EXISTS (SELECT 1 FROM pg_proc p,
                                                  aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                                            WHERE p.oid = f::regprocedure AND a.grantee = 0)
                            UNION ALL
                            SELECT format('role %s', $1::name)
                             WHERE has_function_privilege($1::name, f::regprocedure, 'EXECUTE')) AS w`,
      params: [reader, [...LARGE_OBJECT_WRITERS, ...WAL_WRITERS, ...SERVER_FILE_FUNCTIONS]],
    },
    {
      sql: `SELECT format('role %s may execute %s', $1::name, f) AS violation
              FROM unnest($2::text[]) AS f
             WHERE has_function_privilege($1::name, f::regprocedure, 'EXECUTE')`,
      params: [writer, SERVER_FILE_FUNCTIONS],
    },
    {
      sql: `SELECT format('role %s may write to %s %s', $1::name,
                          CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'relation' END,
                          c.oid::regclass) AS violation
              FROM pg_class c
             WHERE (c.relkind IN ('r', 'p', 'v', 'm', 'f')
                    AND (has_table_privilege($1::name, c.oid,
                                             'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                         OR has_any_column_privilege($1::name, c.oid, 'INSERT, UPDATE, REFERENCES')))
                OR (c.relkind = 'S' AND has_sequence_privilege($1::name, c.oid, 'USAGE, UPDATE'))
            EXCEPT -- UPDATE on this view is SET (session-local), granted to PUBLIC by PostgreSQL
            SELECT format('role %s may write to relation %s', $1::name, 'pg_settings'::regclass)`,
      params: [reader],
    },
    {
      sql: `SELECT format('default privileges of %s still give EXECUTE on new functions to PUBLIC', $1::name)
                   AS violation
             WHERE NOT EXISTS (SELECT 1 FROM pg_default_acl da
                                WHERE da.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = $1::name)
                                  AND da.defaclnamespace = 0 AND da.defaclobjtype = 'f'
                                  AND NOT EXISTS (SELECT 1 FROM aclexplode(da.defaclacl) a
                                                   WHERE a.grantee = 0))`,
      params: [writer],
    },
    {
      sql: `SELECT format('default privileges of %s%s give %s on new %s to %s',
                          pg_get_userbyid(da.defaclrole),
                          CASE WHEN da.defaclnamespace = 0 THEN ''
                               ELSE format(' in schema %s', da.defaclnamespace::regnamespace) END,
                          a.privilege_type,
                          CASE da.defaclobjtype WHEN 'r' THEN 'tables' WHEN 'S' THEN 'sequences'
                                                WHEN 'f' THEN 'functions' WHEN 'n' THEN 'schemas'
                                                ELSE da.defaclobjtype::text END,
                          CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END)
                   AS violation
              FROM pg_default_acl da, aclexplode(da.defaclacl) a
             WHERE (a.grantee = 0 OR pg_get_userbyid(a.grantee) = $1::name)
               AND ((da.defaclobjtype = 'r' AND a.privilege_type IN
                       ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER'))
                    OR (da.defaclobjtype = 'S' AND a.privilege_type IN ('USAGE', 'UPDATE'))
                    OR (da.defaclobjtype = 'n' AND a.privilege_type = 'CREATE')
                    OR (da.defaclobjtype = 'f' AND a.grantee = 0))`,
      params: [reader],
    },
    {
      sql: `SELECT format('extension %s is installed', extname) AS violation
              FROM pg_extension WHERE extname = ANY($1::name[])`,
      params: [FORBIDDEN_EXTENSIONS],
    },
    {
      sql: `SELECT format('foreign server %s exists', srvname) AS violation FROM pg_foreign_server`,
    },
  ];
}

async function passwordViolations(client: Client, db: PhysicalDatabase): Promise<string[]> {
  const violations: string[] = [];
  for (const { role, password } of [db.writer, db.reader]) {
    if ((await storedPasswordMatches(client, role, password)) === false) {
      violations.push(`role ${role} has a password other than the one the control plane holds`);
    }
  }
  return violations;
}

/** Both halves of the tenant check on open superuser connections. */
export async function collectDatabaseViolations(
  clusterClient: Client,
  databaseClient: Client | null,
  db: PhysicalDatabase,
): Promise<string[]> {
  const violations = [
    ...(await run(clusterClient, clusterChecks(db))),
    ...(await passwordViolations(clusterClient, db)),
    ...(await run(databaseClient ?? clusterClient, dependencyChecks(db))),
  ];
  if (databaseClient) violations.push(...(await run(databaseClient, databaseChecks(db))));
  return violations;
}

/**
 * docs/security.md PRIV-T2/T3 for one tenant database, as SQL against the
 * catalogs: neither role is superuser, CREATEDB, CREATEROLE, REPLICATION,
 * BYPASSRLS or INHERIT, nor a member of any role (nor has members); neither
 * reaches another database; PUBLIC has nothing on this database nor on the
 * system databases; the reader has no TEMPORARY or CREATE, no write privilege
 * on any relation or sequence, no EXECUTE on SECURITY DEFINER routines,
 * large-object writers or `pg_logical_emit_message`, owns nothing and has
 * exactly its provisioned settings; passwords are the control plane's; no
 * dblink/postgres_fdw/file_fdw/adminpack. Throws a ProvisioningInvariantError
 * listing every violation found.
 */
export async function checkDatabaseInvariants(
  endpoint: ClusterEndpoint,
  db: PhysicalDatabase,
): Promise<void> {
  const violations = await withSuperuser(endpoint, 'postgres', async (cluster) => {
    const exists = await cluster.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      db.physicalName,
    ]);
    if (exists.rowCount === 0) return collectDatabaseViolations(cluster, null, db);
    return withSuperuser(endpoint, db.physicalName, (database) =>
      collectDatabaseViolations(cluster, database, db),
    );
  });
  if (violations.length > 0) {
    throw new ProvisioningInvariantError(`tenant database ${db.physicalName}`, violations);
  }
}

/**
 * Cluster-wide invariants: the system databases are closed to PUBLIC, no
 * parameter is granted to PUBLIC, and no tenant role (found by its name) is
 * privileged or a member of anything.
 */
export async function collectClusterViolations(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ rolname: string }>(
    'SELECT rolname FROM pg_roles WHERE rolname ~ $1',
    [TENANT_ROLE_PATTERN],
  );
  return run(client, [
    ...publicDatabaseChecks(SYSTEM_DATABASES),
    {
      sql: `SELECT format('PUBLIC may %s parameter %s', a.privilege_type, p.parname) AS violation
              FROM pg_parameter_acl p, aclexplode(p.paracl) a WHERE a.grantee = 0`,
    },
    // A database being dropped has NOLOGIN roles for a moment.
    ...roleChecks(
      rows.map((row) => row.rolname),
      false,
    ),
  ]);
}

export async function checkClusterInvariants(endpoint: ClusterEndpoint): Promise<void> {
  const violations = await withSuperuser(endpoint, 'postgres', collectClusterViolations);
  if (violations.length > 0) throw new ProvisioningInvariantError('the cluster', violations);
}
