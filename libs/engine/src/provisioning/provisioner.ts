import { randomBytes } from 'node:crypto';
import {
  DEFAULT_SCRAM_ITERATIONS,
  deriveScramVerifier,
  formatPostgresScramSecret,
  newScramSalt,
} from '#auth';
import type { Client } from 'pg';
import type { ClusterEndpoint } from '../cluster';
import { withSuperuser } from './admin-connection';
import { quoteIdent, quoteLiteral } from './sql';

/** The upstream names and role passwords of one tenant database. */
export interface PhysicalDatabase {
  readonly physicalName: string;
  readonly writer: { readonly role: string; readonly password: string };
  readonly reader: { readonly role: string; readonly password: string };
}

export const CONTROL_DATABASE = 'postern_control';

/** Fresh physical names for a new tenant database: opaque, never the tenant's words. */
export function newPhysicalDatabase(): PhysicalDatabase {
  const id = randomBytes(8).toString('hex');
  const secret = () => randomBytes(24).toString('base64url');
  return {
    physicalName: `pdb_${id}`,
    writer: { role: `pdb_${id}_writer`, password: secret() },
    reader: { role: `pdb_${id}_reader`, password: secret() },
  };
}

/**
 * Cluster-wide hardening and the control-plane database. Safe to run at
 * every start.
 */
export async function prepareCluster(endpoint: ClusterEndpoint): Promise<void> {
  await withSuperuser(endpoint, 'postgres', async (client) => {
    if (!(await databaseExists(client, CONTROL_DATABASE))) {
      await client.query(`CREATE DATABASE ${quoteIdent(CONTROL_DATABASE)}`);
    }
    // Tenant roles reach only their own database.
    for (const db of ['postgres', 'template1', CONTROL_DATABASE]) {
      await client.query(`REVOKE CONNECT, TEMPORARY ON DATABASE ${quoteIdent(db)} FROM PUBLIC`);
    }
  });
}

/**
 * Creates (or completes) the physical database and its two roles. Every step
 * checks before it acts, so a run interrupted half-way converges on retry.
 */
export async function provisionDatabase(
  endpoint: ClusterEndpoint,
  db: PhysicalDatabase,
): Promise<void> {
  const { writer, reader, physicalName } = db;
  await withSuperuser(endpoint, 'postgres', async (client) => {
    await ensureLoginRole(client, writer.role, writer.password);
    await ensureLoginRole(client, reader.role, reader.password);
    if (!(await databaseExists(client, physicalName))) {
      await client.query(
        `CREATE DATABASE ${quoteIdent(physicalName)} OWNER ${quoteIdent(writer.role)} ` +
          `TEMPLATE template0 ENCODING 'UTF8'`,
      );
    }
    await client.query(`REVOKE ALL ON DATABASE ${quoteIdent(physicalName)} FROM PUBLIC`);
    await client.query(
      `GRANT CONNECT ON DATABASE ${quoteIdent(physicalName)} TO ${quoteIdent(reader.role)}`,
    );
    // A reader session starts read-only even before privileges are consulted.
    await client.query(
      `ALTER ROLE ${quoteIdent(reader.role)} SET default_transaction_read_only = on`,
    );
  });
  await withSuperuser(endpoint, physicalName, async (client) => {
    const w = quoteIdent(writer.role);
    const r = quoteIdent(reader.role);
    await client.query(`REVOKE ALL ON SCHEMA public FROM PUBLIC`);
    await client.query(`ALTER SCHEMA public OWNER TO ${w}`);
    await client.query(`GRANT USAGE ON SCHEMA public TO ${r}`);
    await client.query(`GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${r}`);
    await client.query(`GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ${r}`);
    await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${w} GRANT SELECT ON TABLES TO ${r}`);
    await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${w} GRANT SELECT ON SEQUENCES TO ${r}`);
    await client.query(`ALTER DEFAULT PRIVILEGES FOR ROLE ${w} GRANT USAGE ON SCHEMAS TO ${r}`);
  });
}

/**
 * Drops the physical database and both roles, ending their backends first.
 * Idempotent: what is already gone is skipped, so a retry converges.
 */
export async function dropDatabase(endpoint: ClusterEndpoint, db: PhysicalDatabase): Promise<void> {
  await withSuperuser(endpoint, 'postgres', async (client) => {
    if (await databaseExists(client, db.physicalName)) {
      // Nobody may connect while it is going away.
      await client.query(`REVOKE CONNECT ON DATABASE ${quoteIdent(db.physicalName)} FROM PUBLIC`);
      for (const role of [db.writer.role, db.reader.role]) {
        if (await roleExists(client, role)) {
          await client.query(`ALTER ROLE ${quoteIdent(role)} NOLOGIN`);
        }
      }
      await client.query(`DROP DATABASE ${quoteIdent(db.physicalName)} WITH (FORCE)`);
    }
    for (const role of [db.reader.role, db.writer.role]) {
      if (await roleExists(client, role)) await client.query(`DROP ROLE ${quoteIdent(role)}`);
    }
  });
}

async function roleExists(client: Client, role: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  return rowCount === 1;
}

async function databaseExists(client: Client, name: string): Promise<boolean> {
  const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  return rowCount === 1;
}

/**
 * The password is handed to PostgreSQL as a SCRAM verifier, so the
 * cleartext never reaches the server (nor its statement log).
 */
async function ensureLoginRole(client: Client, role: string, password: string): Promise<void> {
  const salt = newScramSalt();
  const secret = formatPostgresScramSecret(
    salt,
    DEFAULT_SCRAM_ITERATIONS,
    deriveScramVerifier(password, salt, DEFAULT_SCRAM_ITERATIONS),
  );
  const verb = (await roleExists(client, role)) ? 'ALTER' : 'CREATE';
  await client.query(
    `${verb} ROLE ${quoteIdent(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION ` +
      `NOBYPASSRLS NOINHERIT PASSWORD ${quoteLiteral(secret)}`,
  );
}
