import { logEvent } from '../logging';

/** How a wire session ended. */
export type SessionEnding =
  | 'client_terminate' // the client sent Terminate
  | 'client_disconnect' // the client's connection closed without Terminate
  | 'upstream_closed' // PostgreSQL closed or failed the connection
  | 'upstream_unavailable' // assigned at first use: no upstream connection then (pool full, upstream down)
  | 'terminated' // ended by the gateway: token revoked, access lowered, DELETE /sessions, ...
  | 'timeout' // idle-in-transaction or idle-session timeout
  | 'shutdown'
  | 'protocol_error';

/** What the relay knows when a session ends (the line's content). */
export interface SessionEndSummary {
  readonly sessionId: number;
  readonly user: string;
  readonly database: string;
  readonly level: string;
  readonly authMethod: string;
  readonly tokenId: string | null;
  readonly clientAddress: string;
  readonly startedAt: Date;
  readonly endedAt: Date;
  readonly statements: number;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly rows: number;
  readonly ending: SessionEnding;
  /** The SQLSTATE sent to the client with the end, if any. */
  readonly sqlstate?: string | null;
}

/**
 * One `info` line per wire session end: who, on which database at which level, how long,
 * how many statements and bytes, and how it ended. Never a statement or a secret; the
 * user and database names are fields (JSON escapes them; on a terminal they are escaped).
 */
export function logSessionEnd(summary: SessionEndSummary): void {
  const durationMs = summary.endedAt.getTime() - summary.startedAt.getTime();
  logEvent(
    'info',
    'Session',
    {
      event: 'session.end',
      session: summary.sessionId,
      user: summary.user,
      database: summary.database,
      accessLevel: summary.level,
      authMethod: summary.authMethod,
      tokenId: summary.tokenId,
      client: summary.clientAddress,
      durationMs,
      statements: summary.statements,
      bytesIn: summary.bytesFromClient,
      bytesOut: summary.bytesToClient,
      rows: summary.rows,
      ending: summary.ending,
      sqlstate: summary.sqlstate ?? null,
    },
    'session ended',
  );
}
