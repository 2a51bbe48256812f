import { Injectable, UnauthorizedException } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import type { Actor } from '../../identity/actor';
import { looksLikeApiToken } from '../../identity/api-token-format';
import { sha256 } from '../../identity/secret-hashing';
import { TokensService } from '../../identity/tokens.service';
import { UsersService, type PasswordCheck } from '../../identity/users.service';
import { ClusterService } from '../../engine/cluster.service';
import { TooManyRequestsException } from '../common/too-many-requests.exception';
import { BearerThrottle, LoginThrottle, type Reservation } from '../login-throttle';

export const SESSION_TTL_SECONDS = 12 * 60 * 60;
export const SESSION_PREFIX = 'pss_';
/** One message for an unknown user, a wrong password and a disabled user: no enumeration. */
const LOGIN_FAILED = 'invalid username or password';

export interface NewSession {
  readonly token: string;
  readonly expiresAt: Date;
}

/**
 * HTTP logins and the credentials of every other call: console sessions
 * (`pss_` + 32 random bytes, kept only as SHA-256) and API tokens (`pst_`).
 */
@Injectable()
export class AuthService {
  private readonly logins = new LoginThrottle();
  private readonly bearers = new BearerThrottle();

  constructor(
    private readonly cluster: ClusterService,
    private readonly users: UsersService,
    private readonly tokens: TokensService,
  ) {}

  /**
   * The attempt holds its place in the throttle's windows while bcrypt runs,
   * so a concurrent burst gets at most the limit's number of checks (HARD-02).
   */
  async login(username: string, password: string, source: string): Promise<NewSession> {
    const admission = this.logins.admit(username, source);
    if (!admission.admitted) {
      await this.audit(username, source, { ok: false, reason: 'throttled' });
      throw new TooManyRequestsException(admission.retryAfterSeconds);
    }
    const { reservation } = admission;
    let check: PasswordCheck;
    try {
      check = await this.users.checkPassword(username, password);
    } catch (err) {
      reservation.released();
      throw err;
    }
    if (check.ok) reservation.succeeded();
    else reservation.failed();
    await this.audit(username, source, check);
    if (!check.ok) throw new UnauthorizedException(LOGIN_FAILED);
    const token = SESSION_PREFIX + randomBytes(32).toString('base64url');
    const expiresAt = new Date(Date.now() + SESSION_TTL_SECONDS * 1000);
    const { httpSessions } = this.cluster.control;
    await httpSessions.removeExpired(check.user.id);
    await httpSessions.create(sha256(token), check.user.id, expiresAt);
    return { token, expiresAt };
  }

  /** Ends the console session the call came with; an API token stays valid (revoke it). */
  async logout(actor: Actor): Promise<void> {
    if (actor.sessionId) await this.cluster.control.httpSessions.remove(actor.sessionId);
  }

  /**
   * The caller behind a bearer or cookie credential, or null when it is not
   * valid now. Every failure counts against the address (BearerThrottle);
   * past its limit, anything not already known to be valid is 429 (HARD-09).
   */
  async authenticate(secret: string, source: string): Promise<Actor | null> {
    // Only a bcrypt check holds a place while it runs; cheap answers are counted when known.
    const hashing: { reservation: Reservation | null } = { reservation: null };
    const mayHash = () => {
      const admission = this.bearers.admit(source);
      if (admission.admitted) hashing.reservation = admission.reservation;
      return admission.admitted;
    };
    let actor: Actor | null;
    try {
      actor = await this.credentialActor(secret, source, mayHash);
    } catch (err) {
      hashing.reservation?.released();
      throw err;
    }
    if (hashing.reservation) {
      if (actor) hashing.reservation.succeeded();
      else hashing.reservation.failed();
      return actor;
    }
    if (actor) return actor;
    const admission = this.bearers.admit(source);
    if (!admission.admitted) throw new TooManyRequestsException(admission.retryAfterSeconds);
    admission.reservation.failed();
    return null;
  }

  private async credentialActor(
    secret: string,
    source: string,
    mayHash: () => boolean,
  ): Promise<Actor | null> {
    if (secret.startsWith(SESSION_PREFIX)) return this.sessionActor(secret, source);
    if (looksLikeApiToken(secret)) return this.tokenActor(secret, source, mayHash);
    return null;
  }

  private async sessionActor(secret: string, source: string): Promise<Actor | null> {
    const { httpSessions, entities } = this.cluster.control;
    const session = await httpSessions.findLive(sha256(secret));
    const user = session && (await entities.findById(session.entityId));
    if (!session || !user || user.disabled) return null;
    return {
      id: user.id,
      slug: user.slug,
      isSiteAdmin: user.isSiteAdmin,
      method: 'session',
      tokenId: null,
      sessionId: session.id,
      cap: null,
      source,
    };
  }

  private async tokenActor(
    secret: string,
    source: string,
    mayHash: () => boolean,
  ): Promise<Actor | null> {
    const authenticated = await this.tokens.authenticate(secret, mayHash);
    if (!authenticated) return null;
    const { token, owner } = authenticated;
    const scoped = token.databaseIds.length > 0 || token.maxLevel !== null;
    return {
      id: owner.id,
      slug: owner.slug,
      // A scoped token never carries site-admin powers.
      isSiteAdmin: owner.isSiteAdmin && !scoped,
      method: 'token',
      tokenId: token.id,
      sessionId: null,
      cap: scoped ? { databaseIds: token.databaseIds, maxLevel: token.maxLevel } : null,
      source,
    };
  }

  private async audit(
    username: string,
    source: string,
    check: PasswordCheck | { ok: false; reason: 'throttled' },
  ): Promise<void> {
    await this.cluster.control.audit.record({
      kind: 'http.login',
      outcome: check.ok ? 'success' : 'failure',
      actor: username,
      actorId: check.ok ? check.user.id : null,
      source,
      method: 'password',
      detail: check.ok ? undefined : { reason: check.reason },
    });
  }
}
