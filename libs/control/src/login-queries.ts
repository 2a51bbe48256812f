import pg from 'pg';
import type { DatabaseRecord } from './databases.repository';
import { databaseLimitsOf } from './databases.repository';
import type { UserLogin } from './entities.repository';
import { isGrantLevel } from './levels';
import type { RolePasswords } from './role-passwords';
import type { TokenRecord, TokenSecrets } from './tokens.repository';

/**
 * The queries every login runs (wire and HTTP), in plain SQL over a small
 * node-postgres pool. Measured: through Prisma's JS engine each costs about
 * 1 ms of gateway CPU in query compilation and interpretation, most of a
 * login's CPU; here a fraction of that. Everything else stays in the Prisma
 * repositories.
 */
export class LoginQueries {
  constructor(
    private readonly pool: pg.Pool,
    private readonly rolePasswords: RolePasswords,
  ) {}

  /**
   * A user that may log in (kind user, with a SCRAM salt), and its live API
   * tokens. Both queries run for every name, side by side, whether the user
   * exists or not: the work does not tell the two apart (HARD-03).
   */
  async candidates(
    slug: string,
  ): Promise<{ user: UserLogin; tokens: Array<TokenRecord & TokenSecrets> } | null> {
    const [users, tokens] = await Promise.all([
      this.pool.query<UserRow>(
        `SELECT e.id, e.slug, e.disabled, e.scram_salt, e.scram_iterations,
                p.stored_key, p.server_key
           FROM entity e LEFT JOIN password_secret p ON p.entity_id = e.id
          WHERE e.slug = $1 AND e.kind = 'user' AND e.scram_salt IS NOT NULL`,
        [slug],
      ),
      this.pool.query<TokenRow>(
        `SELECT t.id, t.entity_id, t.name, t.bcrypt, t.stored_key, t.server_key,
                t.database_ids::text[] AS database_ids, t.max_level::text AS max_level,
                t.expires_at, t.revoked_at, t.last_used_at, t.created_at
           FROM api_token t JOIN entity e ON e.id = t.entity_id
          WHERE e.slug = $1 AND e.kind = 'user' AND NOT e.disabled
            AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())`,
        [slug],
      ),
    ]);
    const row = users.rows[0];
    if (!row) return null;
    const user: UserLogin = {
      id: row.id,
      slug: row.slug,
      disabled: row.disabled,
      salt: row.scram_salt,
      iterations: row.scram_iterations,
      password:
        row.stored_key && row.server_key
          ? { storedKey: row.stored_key, serverKey: row.server_key }
          : null,
    };
    if (user.disabled) return { user, tokens: [] };
    return { user, tokens: tokens.rows.filter((t) => t.entity_id === user.id).map(toToken) };
  }

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
    return row
      ? {
          id: row.id,
          ownerId: row.owner_id,
          ownerSlug: row.owner_slug,
          name: row.name,
          physicalName: row.physical_name,
          writer: { role: row.writer_role, password: this.rolePasswords.of(row.writer_role) },
          reader: { role: row.reader_role, password: this.rolePasswords.of(row.reader_role) },
          provisioned: row.provisioned,
          limits: databaseLimitsOf(row.limits),
        }
      : null;
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

interface UserRow {
  id: string;
  slug: string;
  disabled: boolean;
  scram_salt: Buffer;
  scram_iterations: number;
  stored_key: Buffer | null;
  server_key: Buffer | null;
}

interface TokenRow {
  id: string;
  entity_id: string;
  name: string;
  bcrypt: string;
  stored_key: Buffer;
  server_key: Buffer;
  database_ids: string[];
  max_level: string | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
}

interface DatabaseRow {
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

function toToken(row: TokenRow): TokenRecord & TokenSecrets {
  return {
    id: row.id,
    entityId: row.entity_id,
    name: row.name,
    databaseIds: row.database_ids ?? [],
    maxLevel: isGrantLevel(row.max_level) ? row.max_level : null,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    lastUsedAt: row.last_used_at,
    createdAt: row.created_at,
    bcrypt: row.bcrypt,
    verifier: { storedKey: row.stored_key, serverKey: row.server_key },
  };
}
