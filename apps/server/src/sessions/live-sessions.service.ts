import { Injectable } from '@nestjs/common';
import { terminateBackends } from '#engine';
import type { AccessLevel } from '#control';
import { ClusterService } from '../engine/cluster.service';
import { logSink } from '../logging';
/** What a session is doing, in pg_stat_activity's words. */
export type SessionState =
  'idle' | 'active' | 'idle in transaction' | 'idle in transaction (aborted)';

export type AuthMethod = 'SCRAM-SHA-256' | 'SCRAM-SHA-256-PLUS' | 'password';

/** What is known about one established wire session (GET /sessions). */
export interface LiveSessionInfo {
  /**
   * The process id the client got in BackendKeyData: its upstream backend's
   * pid (`pg_backend_pid()`). A pooled upstream connection keeps its pid, so
   * a later session on the same connection gets the same id once this one
   * ended, as PostgreSQL reuses pids: an id names the session holding it now.
   */
  readonly id: number;
  readonly userId: string;
  readonly user: string;
  readonly databaseId: string;
  readonly database: string;
  readonly level: AccessLevel;
  readonly tokenId: string | null;
  readonly clientAddress: string;
  readonly applicationName: string;
  readonly tlsVersion: string | null;
  readonly authMethod: AuthMethod;
  readonly startedAt: Date;
  /** What the session is doing now; `list()` fills these in from `update()`. */
  readonly state?: SessionState;
  /** The last statement the client sent (its first 1024 characters), and when. */
  readonly query?: string | null;
  readonly queryStartedAt?: Date | null;
}

/** The changing part of a session, reported by its relay. */
export interface SessionActivity {
  readonly state: SessionState;
  readonly query: string | null;
  readonly queryStartedAt: Date | null;
}

/** What LiveSessions can do to a session. */
export interface SessionControl {
  /** Closes the client connection without waiting for the upstream. */
  close(): void;
  /**
   * Ends the session by terminating its upstream backend: the connection
   * will serve no later session (while its backend is being terminated by
   * pid, that pid must not pass to the next client), and its pid is
   * returned to terminate. A session that holds no backend now (transaction
   * pooling, between transactions) ends itself with 57P01 and returns null.
   */
  retire(): number | null;
}

interface LiveSession {
  readonly info: LiveSessionInfo;
  /** Changed in place by `update()`; `list()` copies it. */
  readonly activity: { -readonly [K in keyof SessionActivity]: SessionActivity[K] };
  readonly control: SessionControl;
}

/** A login admitted under the connection caps that has not become a session yet. */
interface Reservation {
  readonly userId: string;
  readonly databaseId: string;
}

/** The connection caps of a login: global, per user, and the database's own (0: none). */
export interface ConnectionCaps {
  readonly total: number;
  readonly perUser: number;
  readonly perDatabase: number;
}

/** How long a terminated session may take to end on its own before it is cut. */
const TERMINATE_GRACE_MS = 1000;

/**
 * The registry of established wire sessions, so that revoking a token,
 * lowering a grant or deleting a database can end the sessions it affects.
 */
@Injectable()
export class LiveSessions {
  private readonly log = logSink('Sessions');
  private readonly sessions = new Map<number, LiveSession>();
  private readonly reservations = new Set<Reservation>();

  constructor(private readonly cluster: ClusterService) {}

  /**
   * Counts established sessions and pending reservations against the caps
   * and, when one is free, reserves it in the same synchronous step, so
   * logins that race through their upstream connect cannot overshoot a cap
   * (HARD-13). Returns the cap that is full, or the release of the slot
   * (called once the session is registered, or when the login fails).
   */
  reserve(
    userId: string,
    databaseId: string,
    caps: ConnectionCaps,
  ): { full: 'total' | 'user' | 'database' } | { release: () => void } {
    // Counted in place: this runs on every login, over every session (no copies per login).
    let total = 0;
    let ofUser = 0;
    let ofDatabase = 0;
    for (const holder of this.holders()) {
      total++;
      if (holder.userId === userId) ofUser++;
      if (holder.databaseId === databaseId) ofDatabase++;
    }
    if (total >= caps.total) return { full: 'total' };
    if (ofUser >= caps.perUser) return { full: 'user' };
    if (caps.perDatabase > 0 && ofDatabase >= caps.perDatabase) return { full: 'database' };
    const reservation: Reservation = { userId, databaseId };
    this.reservations.add(reservation);
    return { release: () => this.reservations.delete(reservation) };
  }

  add(info: LiveSessionInfo, control: SessionControl): () => void {
    const session: LiveSession = {
      info,
      control,
      activity: { state: 'idle', query: null, queryStartedAt: null },
    };
    this.sessions.set(info.id, session);
    return () => {
      // Only its own entry: a later session on the same upstream connection has the same id.
      if (this.sessions.get(info.id) === session) this.sessions.delete(info.id);
    };
  }

  /** What holds a connection slot: established sessions and admitted logins. */
  private *holders(): Generator<Reservation> {
    for (const session of this.sessions.values()) yield session.info;
    yield* this.reservations;
  }

  /**
   * The established sessions' fixed facts (no activity), as stored: for counts over every
   * session (metrics scrapes every 10 s, the console), which must not copy each session, as
   * `list()` does, and make garbage in proportion to the idle clients (issue 14).
   */
  *infos(): Generator<LiveSessionInfo> {
    for (const session of this.sessions.values()) yield session.info;
  }

  list(): LiveSessionInfo[] {
    return [...this.sessions.values()].map((session) => ({ ...session.info, ...session.activity }));
  }

  /**
   * Records what a session is doing (called by its relay on every statement
   * start and end): in place, as this runs twice per statement.
   */
  update(id: number, activity: Partial<SessionActivity>): void {
    const session = this.sessions.get(id);
    if (session) Object.assign(session.activity, activity);
  }

  get(id: number): LiveSessionInfo | undefined {
    return this.sessions.get(id)?.info;
  }

  /**
   * Ends every session matching `filter`: the upstream backend is terminated
   * (the client receives PostgreSQL's FATAL 57P01), and whatever is still
   * open a second later is closed. Resolves with the number of sessions.
   */
  async terminate(filter: (session: LiveSessionInfo) => boolean, reason: string): Promise<number> {
    const matching = [...this.sessions.values()].filter((session) => filter(session.info));
    if (matching.length === 0) return 0;
    this.log.info(`ending ${matching.length} session(s): ${reason}`);
    // Before the first await: a session ending on its own meanwhile must not hand its
    // backend (whose pid is about to be terminated) to the next client.
    const pids = matching
      .map((session) => session.control.retire())
      .filter((pid): pid is number => pid !== null);
    try {
      if (pids.length > 0) await terminateBackends(this.cluster.endpoint, pids);
    } catch (err) {
      this.log.warn(`could not terminate upstream backends: ${(err as Error).message}`);
    }
    setTimeout(() => {
      for (const session of matching) {
        if (this.sessions.get(session.info.id) === session) session.control.close();
      }
    }, TERMINATE_GRACE_MS).unref();
    return matching.length;
  }
}
