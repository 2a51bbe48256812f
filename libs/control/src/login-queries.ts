import pg from 'pg';
import type { DatabaseRecord } from './databases.repository';
import { databaseLimitsOf, nextLimitsRead } from './databases.repository';
import type { RolePasswords } from './role-passwords';

/**
 * Database lookups the HTTP API runs for every request that names a
 * database, in plain SQL over a small node-postgres pool (through Prisma's JS
 * engine each cost about 1 ms of gateway CPU). Wire logins read the same
 * records from the `IdentitySnapshot` instead. Everything else stays in the
 * Prisma repositories.
 */
export class LoginQueries {
  constructor(
    private readonly pool: pg.Pool,
    private readonly rolePasswords: RolePasswords,
  ) {}

  /** A database by `owner/name`, provisioned or not. */
  async databaseByName(ownerSlug: string, name: string): Promise<DatabaseRecord | null> {
    const { rows } = await this.pool.query<DatabaseRow>(
      `SELECT d.id, d.owner_id, o.slug AS owner_slug, d.name, d.physical_name,
              d.writer_role, d.reader_role,
              d.provisioned_at IS NOT NULL AS provisioned, d.limits
         FROM database d JOIN entity o ON o.id = d.owner_id
        WHERE o.slug = $1 AND d.name = $2`,
      [ownerSlug, name],
    );
    const row = rows[0];
    return row ? databaseRecordOf(row, this.rolePasswords) : null;
  }

  /**
   * A database by its physical name (`pdb_<16 hex>`), as tools that reconnect
   * with `current_database()` ask for it. Resolved to `owner/name` first, so
   * both lookups answer the same record.
   */
  async databaseByPhysicalName(physicalName: string): Promise<DatabaseRecord | null> {
    const { rows } = await this.pool.query<{ owner_slug: string; name: string }>(
      `SELECT o.slug AS owner_slug, d.name
         FROM database d JOIN entity o ON o.id = d.owner_id
        WHERE d.physical_name = $1`,
      [physicalName],
    );
    const row = rows[0];
    return row ? this.databaseByName(row.owner_slug, row.name) : null;
  }

  /** True when the control plane's PostgreSQL answers within `timeoutMs`. */
  async ping(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const answer = this.pool.query('SELECT 1').then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([answer, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/** A database row as both login paths select it (by name here, all of them in the snapshot). */
export interface DatabaseRow {
  id: string;
  owner_id: string;
  owner_slug: string;
  name: string;
  physical_name: string;
  writer_role: string;
  reader_role: string;
  provisioned: boolean;
  limits: unknown;
}

/** The record a login uses; role passwords are derived, never read from a row. */
export function databaseRecordOf(row: DatabaseRow, rolePasswords: RolePasswords): DatabaseRecord {
  return {
    id: row.id,
    ownerId: row.owner_id,
    ownerSlug: row.owner_slug,
    name: row.name,
    physicalName: row.physical_name,
    writer: { role: row.writer_role, password: rolePasswords.of(row.writer_role) },
    reader: { role: row.reader_role, password: rolePasswords.of(row.reader_role) },
    provisioned: row.provisioned,
    limits: databaseLimitsOf(row.limits),
    limitsReadAt: nextLimitsRead(),
  };
}
