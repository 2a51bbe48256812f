import type { Client } from 'pg';
import type { ClusterEndpoint } from '../cluster';
import { withSuperuser } from './admin-connection';
import { databaseOid, tenantSchemas } from './catalog';
import type { PhysicalDatabase } from './physical-database';
import { quoteIdent } from './sql';

/**
 * Large-object functions that create, change or delete data. PostgreSQL 15
 * grants them to PUBLIC and does not stop them in read-only transactions
 * (PRIV-12): revoked from PUBLIC in every tenant database, granted to the
 * writer.
 */
export const LARGE_OBJECT_WRITERS: readonly string[] = [
  'pg_catalog.lo_creat(integer)',
  'pg_catalog.lo_create(oid)',
  'pg_catalog.lo_from_bytea(oid, bytea)',
  'pg_catalog.lo_put(oid, bigint, bytea)',
  'pg_catalog.lowrite(integer, bytea)',
  'pg_catalog.lo_truncate(integer, integer)',
  'pg_catalog.lo_truncate64(integer, bigint)',
  'pg_catalog.lo_unlink(oid)',
];

/** Server-side file access: superuser-only by default (PRIV-11); kept that way. */
export const SERVER_FILE_FUNCTIONS: readonly string[] = [
  'pg_catalog.lo_import(text)',
  'pg_catalog.lo_import(text, oid)',
  'pg_catalog.lo_export(oid, text)',
];

/**
 * Writes a WAL record of any size and is granted to PUBLIC, also in
 * read-only transactions: a reader could fill the cluster's disk with it.
 */
export const WAL_WRITERS: readonly string[] = [
  'pg_catalog.pg_logical_emit_message(boolean, text, text)',
  'pg_catalog.pg_logical_emit_message(boolean, text, bytea)',
];

/**
 * Database-level settings that decide who a session is or whether anyone can
 * log in. The writer owns its database and so may `ALTER DATABASE ... SET`
 * them; they are removed.
 */
export const FORBIDDEN_DATABASE_SETTINGS: readonly string[] = [
  'role',
  'session_authorization',
  'local_preload_libraries',
];

/** Table privileges that change data or attach behaviour; the reader has none of them. */
const TABLE_WRITE_PRIVILEGES = 'INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER';

/**
 * The database itself, on a connection to another database: created if
 * missing, owned by the writer, never a template, open to connections, and
 * an ACL of exactly: writer (owner) all, reader CONNECT, nobody else
 * anything (PUBLIC's default CONNECT and TEMPORARY included).
 */
export async function hardenDatabaseEntry(client: Client, db: PhysicalDatabase): Promise<number> {
  const name = quoteIdent(db.physicalName);
  const writer = quoteIdent(db.writer.role);
  const reader = quoteIdent(db.reader.role);
  let oid = await databaseOid(client, db.physicalName);
  if (oid === null) {
    await client.query(
      `CREATE DATABASE ${name} OWNER ${writer} TEMPLATE template0 ENCODING 'UTF8'`,
    );
    oid = (await databaseOid(client, db.physicalName))!;
  }
  const { rows } = await client.query<{
    owner: string;
    datistemplate: boolean;
    datallowconn: boolean;
    datconnlimit: number;
  }>(
    `SELECT pg_get_userbyid(datdba) AS owner, datistemplate, datallowconn, datconnlimit
       FROM pg_database WHERE oid = $1`,
    [oid],
  );
  const state = rows[0]!;
  if (state.owner !== db.writer.role)
    await client.query(`ALTER DATABASE ${name} OWNER TO ${writer}`);
  // A template cannot be dropped, and a connection limit of 0 locks the tenant out.
  if (state.datistemplate || !state.datallowconn || state.datconnlimit !== -1) {
    await client.query(
      `ALTER DATABASE ${name} WITH IS_TEMPLATE false ALLOW_CONNECTIONS true CONNECTION LIMIT -1`,
    );
  }

  const settings = await client.query<{ name: string }>(
    `SELECT DISTINCT split_part(entry, '=', 1) AS name
       FROM pg_db_role_setting s, unnest(s.setconfig) AS entry
      WHERE s.setdatabase = $1 AND s.setrole = 0`,
    [oid],
  );
  for (const { name: setting } of settings.rows) {
    if (FORBIDDEN_DATABASE_SETTINGS.includes(setting.toLowerCase())) {
      await client.query(`ALTER DATABASE ${name} RESET ${quoteIdent(setting)}`);
    }
  }

  const acl = await client.query<{
    grantee: string | null;
    privileges: string[];
    grantable: boolean;
  }>(
    `SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS grantee,
            array_agg(a.privilege_type::text) AS privileges, bool_or(a.is_grantable) AS grantable
       FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
      WHERE d.oid = $1
      GROUP BY a.grantee`,
    [oid],
  );
  const held = new Map(acl.rows.map((row) => [row.grantee, row.privileges]));
  const readerGrantable = acl.rows.some((row) => row.grantee === db.reader.role && row.grantable);
  for (const [grantee] of held) {
    if (grantee !== db.writer.role && grantee !== db.reader.role) {
      await client.query(
        `REVOKE ALL ON DATABASE ${name} FROM ${grantee === null ? 'PUBLIC' : quoteIdent(grantee)} CASCADE`,
      );
    }
  }
  let readerHolds = held.get(db.reader.role) ?? [];
  // A grant option lets the reader pass CONNECT on (to PUBLIC, say), and what it
  // granted is out of the owner's reach: CASCADE takes it back with the option.
  if (readerGrantable || readerHolds.some((privilege) => privilege !== 'CONNECT')) {
    await client.query(`REVOKE ALL ON DATABASE ${name} FROM ${reader} CASCADE`);
    readerHolds = [];
  }
  if (!readerHolds.includes('CONNECT')) {
    await client.query(`GRANT CONNECT ON DATABASE ${name} TO ${reader}`);
  }
  const writerHolds = held.get(db.writer.role) ?? [];
  if (!['CONNECT', 'TEMPORARY', 'CREATE'].every((p) => writerHolds.includes(p))) {
    await client.query(`GRANT ALL ON DATABASE ${name} TO ${writer}`);
  }
  return oid;
}

/**
 * Takes back whatever the tenant roles were given outside their own
 * database: privileges on other databases, tablespaces and parameters
 * (another tenant's writer may `GRANT CONNECT ON DATABASE` its own database
 * to them), and privileges or policies on objects inside other databases.
 * Ownership outside the own database cannot be undone safely here; the
 * invariant check reports it.
 *
 * `DROP OWNED BY` also revokes the role's privileges on shared objects, its
 * own database included: callers re-apply the database ACL afterwards.
 */
export async function revokeForeignPrivileges(
  endpoint: ClusterEndpoint,
  client: Client,
  roles: readonly string[],
  ownDatabase: number | null,
): Promise<void> {
  const { rows } = await client.query<{
    role: string;
    shared: boolean;
    datname: string | null;
    datallowconn: boolean | null;
    statement: string | null;
  }>(
    `SELECT r.rolname AS role, d.dbid = 0 AS shared, db.datname, db.datallowconn,
            CASE d.classid
              WHEN 'pg_database'::regclass THEN
                'REVOKE ALL ON DATABASE ' || quote_ident((SELECT datname FROM pg_database WHERE oid = d.objid))
              WHEN 'pg_tablespace'::regclass THEN
                'REVOKE ALL ON TABLESPACE ' || quote_ident((SELECT spcname FROM pg_tablespace WHERE oid = d.objid))
              WHEN 'pg_parameter_acl'::regclass THEN
                'REVOKE ALL ON PARAMETER ' || (SELECT parname FROM pg_parameter_acl WHERE oid = d.objid)
            END AS statement
       FROM pg_shdepend d
       JOIN pg_roles r ON r.oid = d.refobjid
       LEFT JOIN pg_database db ON db.oid = d.dbid
      WHERE d.refclassid = 'pg_authid'::regclass AND r.rolname = ANY($1::name[]) AND d.deptype <> 'o'
        AND d.dbid IS DISTINCT FROM $2::oid
        AND NOT (d.dbid = 0 AND d.classid = 'pg_database'::regclass
                 AND d.objid IS NOT DISTINCT FROM $2::oid)`,
    [roles, ownDatabase],
  );
  const perDatabase = new Map<string, Set<string>>();
  for (const row of rows) {
    if (row.shared) {
      if (row.statement !== null) {
        await client.query(`${row.statement} FROM ${quoteIdent(row.role)} CASCADE`);
      }
    } else if (row.datname !== null && row.datallowconn) {
      const set = perDatabase.get(row.datname) ?? new Set<string>();
      set.add(row.role);
      perDatabase.set(row.datname, set);
    }
  }
  for (const [datname, foreignRoles] of perDatabase) {
    await withSuperuser(endpoint, datname, async (other) => {
      for (const role of foreignRoles) {
        const owned = await other.query(
          `SELECT 1 FROM pg_shdepend d JOIN pg_roles r ON r.oid = d.refobjid
            WHERE d.refclassid = 'pg_authid'::regclass AND r.rolname = $1::name AND d.deptype = 'o'
              AND d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())`,
          [role],
        );
        // Privileges and policy memberships only; never drop another database's objects.
        if (owned.rowCount === 0) await other.query(`DROP OWNED BY ${quoteIdent(role)}`);
      }
    });
  }
}

/**
 * Inside the tenant database, as superuser. Base state (what a fresh
 * database gets) and hardening in one convergent pass:
 *
 * - `public` owned by the writer, closed to PUBLIC, USAGE for the reader;
 *   default privileges: the reader may SELECT the writer's future tables and
 *   sequences and USE its future schemas; new functions are not executable
 *   by PUBLIC (PRIV-05).
 * - Taken back on every run, in every tenant schema: CREATE on schemas and
 *   every write privilege on relations from PUBLIC and the reader, SECURITY
 *   DEFINER routines from PUBLIC and the reader, EXECUTE for PUBLIC on the
 *   writer's routines, the same in schema-level default privileges.
 * - Large-object writers and `pg_logical_emit_message` revoked from PUBLIC
 *   (PRIV-12); anything the reader owns (large objects made through PRIV-12
 *   before this hardening existed) reassigned to the writer.
 *
 * SELECT that the writer revoked from the reader on purpose stays revoked:
 * nothing here grants on existing tenant objects.
 */
export async function hardenDatabaseContents(client: Client, db: PhysicalDatabase): Promise<void> {
  const writer = quoteIdent(db.writer.role);
  const reader = quoteIdent(db.reader.role);
  const q = (sql: string) => client.query(sql);

  await q(`REASSIGN OWNED BY ${reader} TO ${writer}`);
  await resetDefaultPrivilegesOf(client, db.reader.role);

  const schemas = await tenantSchemas(client);
  if (schemas.includes('public')) {
    await q(`ALTER SCHEMA public OWNER TO ${writer}`);
    await q(`REVOKE ALL ON SCHEMA public FROM PUBLIC`);
    await q(`GRANT USAGE ON SCHEMA public TO ${reader}`);
  }
  for (const schema of schemas) {
    const s = quoteIdent(schema);
    await q(`REVOKE CREATE ON SCHEMA ${s} FROM PUBLIC, ${reader} CASCADE`);
    await q(
      `REVOKE ${TABLE_WRITE_PRIVILEGES} ON ALL TABLES IN SCHEMA ${s} FROM PUBLIC, ${reader} CASCADE`,
    );
    await q(`REVOKE USAGE, UPDATE ON ALL SEQUENCES IN SCHEMA ${s} FROM PUBLIC, ${reader} CASCADE`);
  }

  // Routines: SECURITY DEFINER ones anywhere outside the system schemas
  // (extension members included) from PUBLIC and the reader; every routine
  // of the writer (not an extension member) from PUBLIC.
  const routines = await client.query<{ signature: string; secdef: boolean; owned: boolean }>(
    `SELECT p.oid::regprocedure::text AS signature, p.prosecdef AS secdef,
            pg_get_userbyid(p.proowner) = $1::name AS owned
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND (p.prosecdef
             OR (pg_get_userbyid(p.proowner) = $1::name
                 AND NOT EXISTS (SELECT 1 FROM pg_depend e
                                  WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid
                                    AND e.deptype = 'e')))
        AND (has_function_privilege($2::name, p.oid, 'EXECUTE')
             OR EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                         WHERE a.grantee = 0))`,
    [db.writer.role, db.reader.role],
  );
  for (const { signature, secdef, owned } of routines.rows) {
    await q(
      `REVOKE EXECUTE ON ROUTINE ${signature} FROM PUBLIC${secdef ? `, ${reader}` : ''} CASCADE`,
    );
    if (!owned) await q(`GRANT EXECUTE ON ROUTINE ${signature} TO ${writer}`);
  }

  for (const fn of [...LARGE_OBJECT_WRITERS, ...WAL_WRITERS]) {
    await q(`REVOKE EXECUTE ON FUNCTION ${fn} FROM PUBLIC, ${reader} CASCADE`);
    await q(`GRANT EXECUTE ON FUNCTION ${fn} TO ${writer}`);
  }
  for (const fn of SERVER_FILE_FUNCTIONS) {
    await q(`REVOKE EXECUTE ON FUNCTION ${fn} FROM PUBLIC, ${writer}, ${reader} CASCADE`);
  }

  const defaults = `ALTER DEFAULT PRIVILEGES FOR ROLE ${writer}`;
  await q(`${defaults} GRANT SELECT ON TABLES TO ${reader}`);
  await q(`${defaults} GRANT SELECT ON SEQUENCES TO ${reader}`);
  await q(`${defaults} GRANT USAGE ON SCHEMAS TO ${reader}`);
  await q(`${defaults} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`);
  await q(`${defaults} REVOKE ${TABLE_WRITE_PRIVILEGES} ON TABLES FROM PUBLIC, ${reader}`);
  await q(`${defaults} REVOKE USAGE, UPDATE ON SEQUENCES FROM PUBLIC, ${reader}`);
  await q(`${defaults} REVOKE CREATE ON SCHEMAS FROM PUBLIC, ${reader}`);
  const scoped = await client.query<{ role: string; schema: string }>(
    `SELECT DISTINCT quote_ident(pg_get_userbyid(defaclrole)) AS role,
            quote_ident(n.nspname) AS schema
       FROM pg_default_acl da JOIN pg_namespace n ON n.oid = da.defaclnamespace`,
  );
  for (const { role, schema } of scoped.rows) {
    const prefix = `ALTER DEFAULT PRIVILEGES FOR ROLE ${role} IN SCHEMA ${schema}`;
    await q(`${prefix} REVOKE ${TABLE_WRITE_PRIVILEGES} ON TABLES FROM PUBLIC, ${reader}`);
    await q(`${prefix} REVOKE USAGE, UPDATE ON SEQUENCES FROM PUBLIC, ${reader}`);
    await q(`${prefix} REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`);
  }
}

/** ALTER DEFAULT PRIVILEGES keywords by pg_default_acl.defaclobjtype. */
const DEFAULT_ACL_OBJECTS: Readonly<Record<string, string>> = {
  r: 'TABLES',
  S: 'SEQUENCES',
  f: 'FUNCTIONS',
  T: 'TYPES',
  n: 'SCHEMAS',
};

/**
 * Puts `role`'s own default privileges back to PostgreSQL's built-in ones,
 * which removes its pg_default_acl entries. Any role may `ALTER DEFAULT
 * PRIVILEGES` for itself, the reader included; REASSIGN OWNED leaves such
 * entries alone, and the reader must own nothing (HARD-07).
 */
async function resetDefaultPrivilegesOf(client: Client, role: string): Promise<void> {
  const { rows } = await client.query<{ schema: string | null; kind: string; grantees: string[] }>(
    `SELECT CASE WHEN da.defaclnamespace = 0 THEN NULL
                 ELSE quote_ident(da.defaclnamespace::regnamespace::text) END AS schema,
            da.defaclobjtype::text AS kind,
            array_agg(DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                    ELSE quote_ident(pg_get_userbyid(a.grantee)) END) AS grantees
       FROM pg_default_acl da LEFT JOIN LATERAL aclexplode(da.defaclacl) a ON true
      WHERE da.defaclrole = (SELECT oid FROM pg_roles WHERE rolname = $1::name)
      GROUP BY da.defaclnamespace, da.defaclobjtype`,
    [role],
  );
  const self = quoteIdent(role);
  for (const { schema, kind, grantees } of rows) {
    const objects = DEFAULT_ACL_OBJECTS[kind];
    if (!objects) continue; // a kind this PostgreSQL version added; the invariant check reports it
    const prefix = `ALTER DEFAULT PRIVILEGES FOR ROLE ${self}${schema ? ` IN SCHEMA ${schema}` : ''}`;
    const named = grantees.filter((grantee) => grantee !== null);
    if (named.length > 0) {
      await client.query(`${prefix} REVOKE ALL ON ${objects} FROM ${named.join(', ')} CASCADE`);
    }
    if (schema === null) {
      // A global entry disappears once it equals the built-in default.
      await client.query(`${prefix} GRANT ALL ON ${objects} TO ${self}`);
      if (objects === 'FUNCTIONS' || objects === 'TYPES') {
        await client.query(`${prefix} GRANT ALL ON ${objects} TO PUBLIC`);
      }
    }
  }
}
