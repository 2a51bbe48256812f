import { ForbiddenException } from '@nestjs/common';
import type { AuditEventInput } from '#control';
import type { AccessCap } from './database-access.service';

/** Who is calling the admin API, as established by the HTTP authentication. */
export interface Actor {
  readonly id: string;
  readonly slug: string;
  /** Site-admin powers; never granted through a scoped API token. */
  readonly isSiteAdmin: boolean;
  readonly method: 'session' | 'token';
  /** The API token or the console session the call came with. */
  readonly tokenId: string | null;
  readonly sessionId: string | null;
  /**
   * The scope of the API token used, or null for a console session or a token
   * without scope. A scoped token acts only on databases within its scope.
   */
  readonly cap: AccessCap | null;
  /** The client address, for audit events. */
  readonly source: string | null;
}

/**
 * A token limited to some databases or to a level must not be a way to mint
 * broader credentials or to manage people, so everything that is not about a
 * database in its scope needs a session or an unscoped token.
 */
export function requireUnscoped(actor: Actor): void {
  if (actor.cap) {
    throw new ForbiddenException(
      'this API token is limited to databases; use a session or a token without scope',
    );
  }
}

/** The audit fields naming the actor of an event. */
export function auditActor(
  actor: Actor,
): Pick<AuditEventInput, 'actor' | 'actorId' | 'source' | 'method'> {
  return { actor: actor.slug, actorId: actor.id, source: actor.source, method: actor.method };
}
