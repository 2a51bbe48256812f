import type { AuditFilter, AuditPage } from '../../server/src/identity/audit-log.service';
import type { DatabaseView } from '../../server/src/identity/database-catalog.service';
import type { EntityDetailView, EntityView } from '../../server/src/identity/entities.service';
import type { GrantView } from '../../server/src/identity/grants.service';
import type { MembershipView } from '../../server/src/identity/memberships.service';
import type { SessionFilter, SessionView } from '../../server/src/identity/sessions.service';
import type { CreatedTokenView, TokenView } from '../../server/src/identity/tokens.service';
import type { NewSession } from '../../server/src/admin/auth/auth.service';

/** What a server-side view looks like once it went through JSON: dates are strings. */
export type Json<T> = T extends Date
  ? string
  : T extends readonly (infer U)[]
    ? Json<U>[]
    : T extends object
      ? { [K in keyof T]: Json<T[K]> }
      : T;

export type Entity = Json<EntityView>;
export type EntityDetail = Json<EntityDetailView>;
export type Membership = Json<MembershipView>;
export type Database = Json<DatabaseView>;
export type Grant = Json<GrantView>;
export type Token = Json<TokenView>;
export type CreatedToken = Json<CreatedTokenView>;
export type Session = Json<SessionView>;
export type AuditEvents = Json<AuditPage>;
export type Login = Json<NewSession>;
export type AuditQuery = Partial<Json<Omit<AuditFilter, 'limit'>>> & { limit?: number };
export type GrantLevel = 'read-only' | 'read-write' | 'manager';

/** An answer of the API that is not a success: its status and its one-line message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The admin HTTP API, one method per route (README "HTTP API"). Nothing
 * here decides who may do what: the server does, for the CLI as for anyone.
 */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | null,
  ) {}

  login(username: string, password: string): Promise<Login> {
    return this.call('POST', '/auth/login', { username, password });
  }
  logout(): Promise<void> {
    return this.call('POST', '/auth/logout');
  }

  createEntity(
    kind: 'user' | 'organization',
    slug: string,
    password: string | null,
  ): Promise<Entity> {
    return this.call('POST', '/entities', {
      kind,
      slug,
      ...(password === null ? {} : { password }),
    });
  }
  listEntities(): Promise<Entity[]> {
    return this.call('GET', '/entities');
  }
  getEntity(slug: string): Promise<EntityDetail> {
    return this.call('GET', `/entities/${seg(slug)}`);
  }
  setDisabled(slug: string, disabled: boolean): Promise<Entity> {
    return this.call('PATCH', `/entities/${seg(slug)}`, { disabled });
  }
  deleteEntity(slug: string, reassignTo: string | null): Promise<void> {
    return this.call('DELETE', `/entities/${seg(slug)}${query({ reassignTo })}`);
  }
  setPassword(slug: string, password: string): Promise<void> {
    return this.call('PUT', `/entities/${seg(slug)}/password`, { password });
  }

  putMember(org: string, user: string, role: 'member' | 'admin'): Promise<Membership> {
    return this.call('PUT', `/entities/${seg(org)}/members/${seg(user)}`, { role });
  }
  removeMember(org: string, user: string): Promise<void> {
    return this.call('DELETE', `/entities/${seg(org)}/members/${seg(user)}`);
  }

  createDatabase(owner: string, name: string): Promise<Database> {
    return this.call('POST', '/databases', { owner, name });
  }
  listDatabases(): Promise<Database[]> {
    return this.call('GET', '/databases');
  }
  getDatabase(reference: string): Promise<Database> {
    return this.call('GET', `/databases/${dbPath(reference)}`);
  }
  deleteDatabase(reference: string): Promise<void> {
    return this.call('DELETE', `/databases/${dbPath(reference)}`);
  }
  /** Replaces the database's limits (and pool mode); a key absent or null is the global setting. */
  setDatabaseLimits(reference: string, limits: Database['limits']): Promise<Database> {
    return this.call('PUT', `/databases/${dbPath(reference)}/limits`, limits);
  }

  listGrants(reference: string): Promise<Grant[]> {
    return this.call('GET', `/databases/${dbPath(reference)}/grants`);
  }
  putGrant(reference: string, entity: string, level: GrantLevel): Promise<Grant> {
    return this.call('PUT', `/databases/${dbPath(reference)}/grants/${seg(entity)}`, { level });
  }
  removeGrant(reference: string, entity: string): Promise<void> {
    return this.call('DELETE', `/databases/${dbPath(reference)}/grants/${seg(entity)}`);
  }

  createToken(
    user: string,
    request: {
      name: string;
      databases: string[];
      maxLevel: GrantLevel | null;
      expiresAt: string | null;
    },
  ): Promise<CreatedToken> {
    return this.call('POST', `/entities/${seg(user)}/tokens`, request);
  }
  listTokens(user: string): Promise<Token[]> {
    return this.call('GET', `/entities/${seg(user)}/tokens`);
  }
  revokeToken(id: string): Promise<void> {
    return this.call('DELETE', `/tokens/${seg(id)}`);
  }

  listSessions(filter: SessionFilter): Promise<Session[]> {
    return this.call('GET', `/sessions${query({ ...filter })}`);
  }
  killSession(id: string): Promise<void> {
    return this.call('DELETE', `/sessions/${seg(id)}`);
  }

  audit(filter: AuditQuery): Promise<AuditEvents> {
    return this.call('GET', `/audit${query({ ...filter, limit: filter.limit?.toString() })}`);
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new ApiError(
        0,
        `cannot reach ${this.baseUrl}: ${cause?.code ?? cause?.message ?? String(err)}`,
      );
    }
    const text = await response.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: reported below with the status
    }
    if (!response.ok) {
      const message = (parsed as { message?: unknown } | undefined)?.message;
      throw new ApiError(
        response.status,
        typeof message === 'string' ? message : `${response.status} ${response.statusText}`,
      );
    }
    return parsed as T;
  }
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

/** `owner/name` as two path segments. */
function dbPath(reference: string): string {
  const [owner, name, ...rest] = reference.split('/');
  if (!owner || !name || rest.length > 0) {
    throw new ApiError(0, `"${reference}" is not a database reference (owner/name)`);
  }
  return `${seg(owner)}/${seg(name)}`;
}

function query(params: Record<string, string | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null) search.set(key, value);
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}
