import { Injectable } from '@nestjs/common';
import { levelRank, type AccessLevel } from '#control';
import { ClusterService } from '../engine/cluster.service';
import { LiveSessions, type LiveSessionInfo } from '../sessions/live-sessions.service';
import { DatabaseAccessService } from './database-access.service';

/**
 * After a grant or a membership changes, new sessions get the new level at
 * once (it is computed at every login); live sessions whose user now has less
 * than the session was opened with, or nothing, are ended.
 */
@Injectable()
export class AccessReviewService {
  constructor(
    private readonly cluster: ClusterService,
    private readonly access: DatabaseAccessService,
    private readonly sessions: LiveSessions,
  ) {}

  /** Re-checks the live sessions matching `scope`; resolves with how many were ended. */
  async endLoweredSessions(
    scope: (session: LiveSessionInfo) => boolean,
    reason: string,
  ): Promise<number> {
    const levels = new Map<string, Promise<AccessLevel | null>>();
    const lowered = new Set<number>();
    for (const session of this.sessions.list().filter(scope)) {
      const key = `${session.userId} ${session.databaseId}`;
      if (!levels.has(key)) levels.set(key, this.currentLevel(session));
      const level = await levels.get(key)!;
      // A token's cap only ever lowered the session's level, so comparing
      // with the uncapped level is enough: a session at or below it may stay.
      if (level === null || levelRank(level) < levelRank(session.level)) lowered.add(session.id);
    }
    if (lowered.size === 0) return 0;
    return this.sessions.terminate((session) => lowered.has(session.id), reason);
  }

  private async currentLevel(session: LiveSessionInfo): Promise<AccessLevel | null> {
    const database = await this.cluster.control.databases.findById(session.databaseId);
    return database ? this.access.effectiveLevel(session.userId, database) : null;
  }
}
