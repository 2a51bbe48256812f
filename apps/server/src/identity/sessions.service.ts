import { Injectable, NotFoundException } from '@nestjs/common';
import type { AccessLevel } from '#control';
import { ClusterService } from '../engine/cluster.service';
import {
  LiveSessions,
  type AuthMethod,
  type LiveSessionInfo,
  type SessionState,
} from '../sessions/live-sessions.service';
import { auditActor, type Actor } from './actor';
import { atLeast } from './database-catalog.service';
import { DatabaseAccessService } from './database-access.service';

/** A live wire session as GET /sessions shows it. */
export interface SessionView {
  readonly id: number;
  readonly user: string;
  readonly database: string;
  readonly level: AccessLevel;
  readonly clientAddress: string;
  readonly applicationName: string;
  readonly tlsVersion: string | null;
  readonly authMethod: AuthMethod;
  readonly tokenId: string | null;
  readonly startedAt: Date;
  readonly state: SessionState;
  /** The statement running now, or the last one when idle (first 1024 characters). */
  readonly query: string | null;
  readonly queryStartedAt: Date | null;
  /** How long the current statement has been running; null when idle. */
  readonly queryDurationMs: number | null;
}

export interface SessionFilter {
  readonly user?: string;
  /** `owner/name`. */
  readonly database?: string;
}

/**
 * Live wire sessions for an actor. Site admins see all; others their own
 * (within an API token's scope) and every session on a database they own or
 * manage. A session the actor may not see answers 404, exactly like one that
 * ended; whoever sees a session may end it.
 */
@Injectable()
export class SessionsService {
  constructor(
    private readonly cluster: ClusterService,
    private readonly access: DatabaseAccessService,
    private readonly sessions: LiveSessions,
  ) {}

  async list(actor: Actor, filter: SessionFilter): Promise<SessionView[]> {
    const candidates = this.sessions
      .list()
      .filter(
        (s) =>
          (filter.user === undefined || s.user === filter.user) &&
          (filter.database === undefined || s.database === filter.database),
      );
    const visible = await this.visibleOf(actor, candidates);
    const now = Date.now();
    return visible
      .sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime())
      .map((session) => toView(session, now));
  }

  /** Ends a session: the client gets PostgreSQL's FATAL 57P01. */
  async kill(actor: Actor, id: number): Promise<void> {
    const [session] = await this.visibleOf(
      actor,
      this.sessions.list().filter((s) => s.id === id),
    );
    if (!session) throw new NotFoundException(`session ${id} not found`);
    await this.sessions.terminate((s) => s.id === id, `ended by ${actor.slug} through the API`);
    await this.cluster.control.audit.record({
      kind: 'session.kill',
      outcome: 'success',
      ...auditActor(actor),
      databaseId: session.databaseId,
      database: session.database,
      detail: { sessionId: session.id, user: session.user, tokenId: session.tokenId },
    });
  }

  private async visibleOf(
    actor: Actor,
    sessions: readonly LiveSessionInfo[],
  ): Promise<LiveSessionInfo[]> {
    if (actor.isSiteAdmin) return [...sessions];
    const managed = new Map<string, Promise<boolean>>();
    const visible: LiveSessionInfo[] = [];
    for (const session of sessions) {
      if (session.userId === actor.id && inScope(actor, session.databaseId)) {
        visible.push(session);
        continue;
      }
      if (!managed.has(session.databaseId)) {
        managed.set(session.databaseId, this.manages(actor, session.databaseId));
      }
      if (await managed.get(session.databaseId)) visible.push(session);
    }
    return visible;
  }

  /** Owner or manager of the database, narrowed by the actor's token scope. */
  private async manages(actor: Actor, databaseId: string): Promise<boolean> {
    const database = await this.cluster.control.databases.findById(databaseId);
    if (!database) return false;
    return atLeast(await this.access.cappedLevel(actor.id, database, actor.cap), 'manager');
  }
}

function inScope(actor: Actor, databaseId: string): boolean {
  const ids = actor.cap?.databaseIds ?? [];
  return ids.length === 0 || ids.includes(databaseId);
}

function toView(session: LiveSessionInfo, now: number): SessionView {
  const state = session.state ?? 'idle';
  const queryStartedAt = session.queryStartedAt ?? null;
  return {
    id: session.id,
    user: session.user,
    database: session.database,
    level: session.level,
    clientAddress: session.clientAddress,
    applicationName: session.applicationName,
    tlsVersion: session.tlsVersion,
    authMethod: session.authMethod,
    tokenId: session.tokenId,
    startedAt: session.startedAt,
    state,
    query: session.query ?? null,
    queryStartedAt,
    queryDurationMs:
      state === 'active' && queryStartedAt ? Math.max(0, now - queryStartedAt.getTime()) : null,
  };
}
