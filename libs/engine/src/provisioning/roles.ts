import {
  DEFAULT_SCRAM_ITERATIONS,
  deriveScramVerifier,
  formatPostgresScramSecret,
  newScramSalt,
  parsePostgresScramSecret,
  safeEqual,
} from '#auth';
import type { Client } from 'pg';
import { roleExists } from './catalog';
import { quoteIdent, quoteLiteral } from './sql';

/**
 * Attributes of both tenant roles. NOINHERIT and no memberships: neither can
 * `SET ROLE` to anything, nor use another role's privileges.
 */
const UNPRIVILEGED = 'NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT';
const TENANT_ROLE_ATTRIBUTES = `LOGIN ${UNPRIVILEGED} CONNECTION LIMIT -1`;

/**
 * Creates the role or puts its attributes back, and sets the password when
 * the stored verifier does not prove it (a tenant role may change its own
 * password: PostgreSQL 15 lets any role do that). The password is handed to
 * PostgreSQL as a SCRAM verifier, so the cleartext never reaches the server
 * (nor its statement log).
 */
export async function ensureLoginRole(
  client: Client,
  role: string,
  password: string,
): Promise<void> {
  const exists = await roleExists(client, role);
  if (exists && (await storedPasswordMatches(client, role, password)) === true) {
    await client.query(`ALTER ROLE ${quoteIdent(role)} ${TENANT_ROLE_ATTRIBUTES}`);
    return;
  }
  const salt = newScramSalt();
  const secret = formatPostgresScramSecret(
    salt,
    DEFAULT_SCRAM_ITERATIONS,
    deriveScramVerifier(password, salt, DEFAULT_SCRAM_ITERATIONS),
  );
  await client.query(
    `${exists ? 'ALTER' : 'CREATE'} ROLE ${quoteIdent(role)} ${TENANT_ROLE_ATTRIBUTES} ` +
      `PASSWORD ${quoteLiteral(secret)}`,
  );
}

/**
 * Whether the role's stored SCRAM verifier proves `password`; null when the
 * verifier cannot be read (an external cluster's admin that is no superuser).
 */
export async function storedPasswordMatches(
  client: Client,
  role: string,
  password: string,
): Promise<boolean | null> {
  let stored: string | null;
  try {
    const { rows } = await client.query<{ rolpassword: string | null }>(
      'SELECT rolpassword FROM pg_authid WHERE rolname = $1',
      [role],
    );
    if (rows.length === 0) return false;
    stored = rows[0]!.rolpassword;
  } catch (err) {
    if ((err as { code?: string }).code === '42501') return null;
    throw err;
  }
  const parsed = stored === null ? null : parsePostgresScramSecret(stored);
  if (!parsed) return false;
  const expected = deriveScramVerifier(password, parsed.salt, parsed.iterations);
  return (
    safeEqual(expected.storedKey, parsed.verifier.storedKey) &&
    safeEqual(expected.serverKey, parsed.verifier.serverKey)
  );
}

/**
 * Ends every membership a tenant role has or gives: a member of a role may
 * `SET ROLE` to it (PRIV-06), and a role given to another tenant's role lets
 * that one signal its backends (PRIV-21).
 */
export async function revokeMemberships(client: Client, roles: readonly string[]): Promise<void> {
  const { rows } = await client.query<{ role: string; member: string }>(
    `SELECT quote_ident(r.rolname) AS role, quote_ident(m.rolname) AS member
       FROM pg_auth_members am
       JOIN pg_roles r ON r.oid = am.roleid
       JOIN pg_roles m ON m.oid = am.member
      WHERE r.rolname = ANY($1::name[]) OR m.rolname = ANY($1::name[])`,
    [roles],
  );
  for (const { role, member } of rows) {
    await client.query(`REVOKE ${role} FROM ${member} CASCADE`);
  }
}

/**
 * Puts the role-level settings of `role` (in every database) back to
 * exactly `settings`. Any role may `ALTER ROLE CURRENT_USER SET` a user-level
 * parameter for itself (PRIV-03); the reader role is shared by every read-only
 * login of a database, so one of them could otherwise persist, e.g.,
 * `local_preload_libraries` and lock all the others out.
 */
export async function resetRoleSettings(
  client: Client,
  role: string,
  settings: Readonly<Record<string, string>>,
): Promise<void> {
  const { rows } = await client.query<{ datname: string | null; setconfig: string[] }>(
    `SELECT d.datname, s.setconfig
       FROM pg_db_role_setting s
       LEFT JOIN pg_database d ON d.oid = s.setdatabase
      WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = $1)`,
    [role],
  );
  const wanted = Object.entries(settings).map(([name, value]) => `${name}=${value}`);
  const current = rows.length === 1 && rows[0]!.datname === null ? rows[0]!.setconfig : [];
  const converged =
    rows.length === (wanted.length > 0 ? 1 : 0) &&
    current.length === wanted.length &&
    wanted.every((entry) => current.includes(entry));
  if (converged) return;
  for (const { datname } of rows) {
    await client.query(
      `ALTER ROLE ${quoteIdent(role)}${datname === null ? '' : ` IN DATABASE ${quoteIdent(datname)}`} RESET ALL`,
    );
  }
  for (const [name, value] of Object.entries(settings)) {
    await client.query(
      `ALTER ROLE ${quoteIdent(role)} SET ${quoteIdent(name)} = ${quoteLiteral(value)}`,
    );
  }
}

/**
 * Removes every database-level setting (`ALTER DATABASE ... SET`) of
 * `database`. The writer owns its database and may set them; they reach
 * every other login of it, read-only ones included (HARD-04), so none is
 * kept.
 */
export async function resetDatabaseSettings(client: Client, database: string): Promise<void> {
  const { rowCount } = await client.query(
    `SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
      WHERE d.datname = $1 AND s.setrole = 0`,
    [database],
  );
  if (rowCount) await client.query(`ALTER DATABASE ${quoteIdent(database)} RESET ALL`);
}

/** Takes every privileged attribute away from roles that have one (LOGIN is left alone). */
export async function resetRoleAttributes(client: Client, roles: readonly string[]): Promise<void> {
  const { rows } = await client.query<{ rolname: string }>(
    `SELECT rolname FROM pg_roles
      WHERE rolname = ANY($1::name[])
        AND (rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls OR rolinherit)`,
    [roles],
  );
  for (const { rolname } of rows) {
    await client.query(`ALTER ROLE ${quoteIdent(rolname)} ${UNPRIVILEGED}`);
  }
}
