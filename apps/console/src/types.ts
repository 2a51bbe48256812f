/** Shapes of the admin API's answers (the OpenAPI document at /api/docs). */
export type Level = 'read-only' | 'read-write' | 'manager' | 'owner';
export type GrantLevel = Exclude<Level, 'owner'>;
export const GRANT_LEVELS: readonly GrantLevel[] = ['read-only', 'read-write', 'manager'];

export interface Me {
  readonly slug: string;
  readonly isSiteAdmin: boolean;
  readonly wire: { readonly port: number; readonly tls: boolean };
}

export interface Entity {
  readonly id: string;
  readonly slug: string;
  readonly kind: 'user' | 'organization';
  readonly isSiteAdmin: boolean;
  readonly disabled: boolean;
  readonly createdAt: string;
}

export interface EntityDetail extends Entity {
  readonly members?: readonly { readonly user: string; readonly role: 'member' | 'admin' }[];
}

export interface DatabaseLimits {
  statementTimeoutMs?: number | null;
  idleInTransactionTimeoutMs?: number | null;
  idleSessionTimeoutMs?: number | null;
  maxResultRows?: number | null;
  maxResultBytes?: number | null;
  maxConnections?: number | null;
  /** Absent: session pooling. */
  poolMode?: 'session' | 'transaction' | null;
  /** Absent: at login (session mode only; transaction mode assigns per transaction). */
  upstreamAssignment?: 'login' | 'first-use' | null;
  /** Absent: the gateway's pool size (POSTERN_POOL_SIZE), which bounds it. */
  poolSize?: number | null;
}

export interface Database {
  readonly id: string;
  readonly owner: string;
  readonly name: string;
  readonly level: Level | null;
  readonly limits: DatabaseLimits;
}

export interface Grant {
  readonly entity: string;
  readonly level: GrantLevel;
}

export interface Token {
  readonly id: string;
  readonly name: string;
  readonly databases: readonly string[];
  readonly maxLevel: GrantLevel | null;
  readonly expiresAt: string | null;
  readonly createdAt: string;
  readonly lastUsedAt?: string | null;
  readonly revokedAt?: string | null;
}

export interface CreatedToken extends Token {
  readonly token: string;
}

export interface LiveSession {
  readonly id: number;
  readonly user: string;
  readonly database: string;
  readonly level: Level;
  readonly clientAddress: string;
  readonly applicationName: string;
  readonly tlsVersion: string | null;
  readonly authMethod: string;
  readonly tokenId: string | null;
  readonly startedAt: string;
  readonly state: string;
  readonly query: string | null;
  readonly queryStartedAt: string | null;
  readonly queryDurationMs: number | null;
}

export interface AuditEvent {
  readonly id: string;
  readonly at: string;
  readonly kind: string;
  readonly outcome: 'success' | 'failure';
  readonly actor: string | null;
  readonly actorId: string | null;
  readonly source: string | null;
  readonly method: string | null;
  readonly databaseId: string | null;
  readonly database: string | null;
  readonly detail?: Record<string, unknown>;
  readonly [other: string]: unknown;
}

export interface AuditPage {
  readonly events: readonly AuditEvent[];
  readonly next: string | null;
}

export interface OverviewPoint {
  readonly at: string;
  readonly connections: number;
  readonly sessions: number;
  readonly logins: number;
  readonly loginFailures: number;
  readonly statementsPerSecond: number;
  readonly statementErrors: number;
  readonly meanLatencyMs: number | null;
  readonly upstreamBusy: number;
  readonly upstreamIdle: number;
  readonly upstreamFailures: number;
}

export interface Overview {
  readonly at: string;
  readonly sampleIntervalSeconds: number;
  readonly connections: { readonly authenticated: number; readonly unauthenticated: number };
  readonly sessionsByDatabase: readonly { readonly database: string; readonly sessions: number }[];
  readonly lastHour: { readonly logins: number; readonly loginFailures: number };
  readonly upstream: {
    readonly problem: string | null;
    readonly busy: number;
    readonly idle: number;
  };
  readonly pools: readonly {
    readonly database: string;
    readonly level: string;
    readonly inUse: number;
    readonly idle: number;
  }[];
  readonly history: readonly OverviewPoint[];
}

export function databaseName(db: Pick<Database, 'owner' | 'name'>): string {
  return `${db.owner}/${db.name}`;
}

/** Levels in order: what a level allows includes what the ones before it allow. */
export function atLeast(level: Level | null, wanted: Level): boolean {
  const order: Level[] = ['read-only', 'read-write', 'manager', 'owner'];
  return level !== null && order.indexOf(level) >= order.indexOf(wanted);
}
