import pg from 'pg';
import type { DatabaseRecord } from './databases.repository';
import type { UserLogin } from './entities.repository';
import { databaseRecordOf, type DatabaseRow } from './login-queries';
import { effectiveLevelOf, isGrantLevel, type AccessLevel, type GrantLevel } from './levels';
import type { RolePasswords } from './role-passwords';
import type { TokenRecord, TokenSecrets } from './tokens.repository';

/** The channel the control plane's triggers notify (migration `..._identity_notify`). */
export const IDENTITY_CHANNEL = 'postern_identity';

export type LiveToken = TokenRecord & TokenSecrets;

/**
 * What wire logins need from the control plane, in memory: users with their
 * SCRAM secrets, unrevoked tokens, databases, grants and memberships. Read
 * in one repeatable-read transaction, so it is one consistent state.
 */
export class IdentityData {
  private readonly users = new Map<string, UserLogin>();
  private readonly disabled = new Map<string, boolean>();
  private readonly tokens = new Map<string, LiveToken[]>();
  private readonly databases = new Map<string, DatabaseRecord>();
  private readonly physical = new Map<string, DatabaseRecord>();
  /** database id -> entity id -> level */
  private readonly grants = new Map<string, Map<string, GrantLevel>>();
  /** organisation id -> user id -> role */
  private readonly members = new Map<string, Map<string, 'admin' | 'member'>>();

  constructor(rows: LoadedRows, rolePasswords: RolePasswords) {
    for (const row of rows.entities) {
      this.disabled.set(row.id, row.disabled);
      if (row.kind !== 'user' || !row.scram_salt) continue;
      this.users.set(row.slug, {
        id: row.id,
        slug: row.slug,
        disabled: row.disabled,
        salt: row.scram_salt,
        iterations: row.scram_iterations!,
        password:
          row.stored_key && row.server_key
            ? { storedKey: row.stored_key, serverKey: row.server_key }
            : null,
      });
    }
    for (const row of rows.tokens) {
      const list = this.tokens.get(row.entity_id) ?? [];
      list.push(toToken(row));
      this.tokens.set(row.entity_id, list);
    }
    for (const row of rows.databases) {
      const record = databaseRecordOf(row, rolePasswords);
      this.databases.set(`${row.owner_slug}/${row.name}`, record);
      this.physical.set(row.physical_name, record);
    }
    for (const row of rows.grants) {
      if (!isGrantLevel(row.level)) continue;
      const byEntity = this.grants.get(row.database_id) ?? new Map<string, GrantLevel>();
      byEntity.set(row.entity_id, row.level);
      this.grants.set(row.database_id, byEntity);
    }
    for (const row of rows.memberships) {
      const byUser = this.members.get(row.organization_id) ?? new Map();
      byUser.set(row.user_id, row.role);
      this.members.set(row.organization_id, byUser);
    }
  }

  /**
   * A user that may log in, and its tokens live at `now` (none while the
   * user is disabled); the same shape as `LoginQueries.candidates`.
   */
  candidates(slug: string, now = Date.now()): { user: UserLogin; tokens: LiveToken[] } | null {
    const user = this.users.get(slug);
    if (!user) return null;
    if (user.disabled) return { user, tokens: [] };
    const tokens = (this.tokens.get(user.id) ?? []).filter(
      (token) => token.expiresAt === null || token.expiresAt.getTime() > now,
    );
    return { user, tokens };
  }

  /**
   * An enabled user's tokens that expired by `now`: never login candidates, only
   * checked so that the audit log can say a login failed with an expired token.
   */
  expiredTokens(slug: string, now = Date.now()): LiveToken[] {
    const user = this.users.get(slug);
    if (!user || user.disabled) return [];
    return (this.tokens.get(user.id) ?? []).filter(
      (token) => token.expiresAt !== null && token.expiresAt.getTime() <= now,
    );
  }

  databaseByName(ownerSlug: string, name: string): DatabaseRecord | null {
    return this.databases.get(`${ownerSlug}/${name}`) ?? null;
  }

  databaseByPhysicalName(physicalName: string): DatabaseRecord | null {
    return this.physical.get(physicalName) ?? null;
  }

  /** As `DatabaseAccessService.effectiveLevel`, from memory. */
  effectiveLevel(userId: string, database: DatabaseRecord): AccessLevel | null {
    const grantLevels: GrantLevel[] = [];
    for (const [entityId, level] of this.grants.get(database.id) ?? []) {
      const viaOrganisation =
        this.disabled.get(entityId) === false && this.members.get(entityId)?.has(userId);
      if (entityId === userId || viaOrganisation) grantLevels.push(level);
    }
    return effectiveLevelOf({
      isOwner: database.ownerId === userId,
      ownerEnabled: this.disabled.get(database.ownerId) === false,
      grantLevels,
      roleInOwner: this.members.get(database.ownerId)?.get(userId) ?? null,
    });
  }
}

/** The snapshot's state: logins read `fresh` data only. */
type SnapshotState =
  { readonly kind: 'fresh'; readonly data: IdentityData } | { readonly kind: 'stale' };

/**
 * The identity data of wire logins, kept in memory and current by change
 * notifications: triggers on the tables it reads NOTIFY `postern_identity`
 * after each committed change; the listener marks the data stale at once
 * and reloads all of it. While stale (a notification arrived, the listener
 * connection was lost, or nothing was loaded yet) logins wait for the
 * reload, so once a change's notification has reached the gateway no login
 * uses the state before it. The window that remains is the time between a
 * commit and its notification arriving (PostgreSQL sends it right after the
 * commit; on loopback well under a millisecond).
 */
export class IdentitySnapshot {
  private state: SnapshotState = { kind: 'stale' };
  private client: pg.Client | null = null;
  private loading: Promise<void> | null = null;
  private changedWhileLoading = false;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  /** Where a lost listener or a failed reload is reported (the server's log). */
  onError: (message: string) => void = () => undefined;

  constructor(
    private readonly connectionString: string,
    private readonly rolePasswords: RolePasswords,
  ) {}

  /** The current data; waits for a reload while stale, throws when it fails. */
  async current(): Promise<IdentityData> {
    // A change can arrive right after a load: wait for the next one, a few times at most.
    for (let attempt = 0; attempt < 5; attempt++) {
      const state = this.state as SnapshotState;
      if (state.kind === 'fresh') return state.data;
      await this.reload();
    }
    throw new Error('identity data unavailable: the control plane keeps changing');
  }

  /** Reloads everything; concurrent calls share one load (a change during it loads again). */
  private reload(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('identity snapshot closed'));
    if (this.loading) return this.loading;
    this.loading = (async () => {
      do {
        this.changedWhileLoading = false;
        const client = this.client ?? (await this.connect());
        const data = new IdentityData(await loadRows(client), this.rolePasswords);
        if (!this.changedWhileLoading && this.client === client) {
          this.state = { kind: 'fresh', data };
        }
      } while (this.state.kind !== 'fresh');
    })().finally(() => {
      this.loading = null;
    });
    return this.loading;
  }

  private async connect(): Promise<pg.Client> {
    const client = new pg.Client({
      connectionString: this.connectionString,
      application_name: 'postern identity',
    });
    client.on('notification', () => this.changed());
    const lost = (err?: Error) => {
      if (this.client !== client) return;
      this.client = null;
      this.changed();
      if (!this.closed) {
        this.onError(`identity listener lost: ${err?.message ?? 'connection ended'}`);
        this.scheduleRetry();
      }
    };
    client.on('error', lost);
    client.on('end', () => lost());
    await client.connect();
    try {
      await client.query(`LISTEN ${IDENTITY_CHANNEL}`);
    } catch (err) {
      await client.end().catch(() => undefined);
      throw err;
    }
    this.client = client;
    return client;
  }

  /** A change (or a lost listener): stale until the next load completes. */
  private changed(): void {
    this.state = { kind: 'stale' };
    if (this.loading) this.changedWhileLoading = true;
    if (this.closed) return;
    this.reload().catch((err: Error) => {
      this.onError(`identity reload failed: ${err.message}`);
      this.scheduleRetry();
    });
  }

  private scheduleRetry(): void {
    if (this.retry || this.closed) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      if (this.state.kind === 'stale') this.changed();
    }, 1000);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const client = this.client;
    this.client = null;
    this.state = { kind: 'stale' };
    await client?.end().catch(() => undefined);
  }
}

interface EntityRow {
  id: string;
  kind: 'user' | 'organization';
  slug: string;
  disabled: boolean;
  scram_salt: Buffer | null;
  scram_iterations: number | null;
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
  database_ids: string[] | null;
  max_level: string | null;
  expires_at: Date | null;
  revoked_at: Date | null;
  last_used_at: Date | null;
  created_at: Date;
}

export interface LoadedRows {
  entities: EntityRow[];
  tokens: TokenRow[];
  databases: DatabaseRow[];
  grants: Array<{ database_id: string; entity_id: string; level: string }>;
  memberships: Array<{ organization_id: string; user_id: string; role: 'admin' | 'member' }>;
}

async function loadRows(client: pg.Client): Promise<LoadedRows> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    const entities = await client.query<EntityRow>(
      `SELECT e.id, e.kind::text AS kind, e.slug, e.disabled, e.scram_salt, e.scram_iterations,
              p.stored_key, p.server_key
         FROM entity e LEFT JOIN password_secret p ON p.entity_id = e.id`,
    );
    const tokens = await client.query<TokenRow>(
      `SELECT id, entity_id, name, bcrypt, stored_key, server_key,
              database_ids::text[] AS database_ids, max_level::text AS max_level,
              expires_at, revoked_at, last_used_at, created_at
         FROM api_token WHERE revoked_at IS NULL`,
    );
    const databases = await client.query<DatabaseRow>(
      `SELECT d.id, d.owner_id, o.slug AS owner_slug, d.name, d.physical_name,
              d.writer_role, d.reader_role, d.provisioned_at IS NOT NULL AS provisioned, d.limits
         FROM database d JOIN entity o ON o.id = d.owner_id`,
    );
    const grants = await client.query<LoadedRows['grants'][number]>(
      'SELECT database_id, entity_id, level::text AS level FROM "grant"',
    );
    const memberships = await client.query<LoadedRows['memberships'][number]>(
      'SELECT organization_id, user_id, role::text AS role FROM membership',
    );
    return {
      entities: entities.rows,
      tokens: tokens.rows,
      databases: databases.rows,
      grants: grants.rows,
      memberships: memberships.rows,
    };
  } finally {
    await client.query('COMMIT').catch(() => undefined);
  }
}

function toToken(row: TokenRow): LiveToken {
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
