import { Inject, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DEFAULT_SCRAM_ITERATIONS,
  LoginGate,
  mockScramSalt,
  type ChannelBinding,
  type ScramCandidate,
} from '#auth';
import type { TokenRecord } from '#control';
import type { FramedSocket } from '#engine';
import { authenticationOk, authenticationSaslFinal, PgErrors } from '#wire';
import type { PosternConfig } from '../../config/config';
import { POSTERN_CONFIG } from '../../config/config.module';
import { ClusterService } from '../../engine/cluster.service';
import { findIn } from '../../identity/database-access.service';
import { logSink } from '../../logging';
import type { AuthMethod } from '../../sessions/live-sessions.service';
import { exchangeCleartext, exchangeScram, type ExchangeInput } from './auth-phase';

export const PASSWORD_SECRET_ID = 'password';

/** Who logged in, and with which credential. */
export interface AuthenticatedLogin {
  readonly userId: string;
  readonly slug: string;
  readonly method: AuthMethod;
  /** The API token used as the password, or null for the user's password. */
  readonly token: TokenRecord | null;
}

export interface LoginAttempt {
  readonly username: string;
  readonly databaseReference: string;
  readonly sourceAddress: string;
  /** Set over TLS: SCRAM-SHA-256-PLUS is offered with it. */
  readonly channelBinding: ChannelBinding | null;
  readonly overTls: boolean;
}

/**
 * Why a wire login failed, for the audit log only: the client gets the same
 * 28P01 (or 3D000) whatever it was (no user enumeration).
 */
export type WireLoginFailure =
  | 'wrong-password'
  | 'unknown-user'
  | 'disabled'
  | 'token-out-of-scope'
  | 'token-expired'
  | 'throttled'
  | 'no-such-database'
  | 'connection-limit'
  | 'upstream-unavailable'
  | 'session-setup-failed';

interface Candidates extends ExchangeInput {
  readonly userId: string | null;
  /** Why nobody could log in under this name (unknown, disabled), or null. */
  readonly refusal: 'unknown-user' | 'disabled' | null;
  readonly tokens: ReadonlyMap<string, TokenRecord>;
  /**
   * Candidates checked only to name the failure: tokens out of the database's
   * scope or expired. A proof matching one of them is a failure.
   */
  readonly refused: ReadonlyMap<string, 'token-out-of-scope' | 'token-expired'>;
}

const TOUCH_INTERVAL_MS = 60_000;
const MAX_TOUCHED = 10_000;

/** The keys a wire login is throttled by. */
type ThrottleKey = 'addressAndUser' | 'user' | 'address';

/**
 * Wire logins: picks the secrets a login may prove (password and live API
 * tokens whose scope admits the database), runs the exchange, throttles
 * repeated failures and records every outcome. Unknown, disabled, expired,
 * revoked, out-of-scope and throttled logins all end in the same 28P01.
 */
@Injectable()
export class LoginService implements OnApplicationBootstrap {
  private readonly log = logSink('Login');
  private readonly throttle: LoginGate<ThrottleKey>;
  /** Token id -> when its `lastUsedAt` was last written. */
  private readonly touched = new Map<string, number>();

  constructor(
    @Inject(POSTERN_CONFIG) private readonly config: PosternConfig,
    private readonly cluster: ClusterService,
  ) {
    const max = config.loginMaxFailures;
    const policy = (slowAfter: number, blockAfter: number) => ({
      slowAfter: Math.max(1, slowAfter),
      blockAfter,
      windowMs: 15 * 60_000,
      blockMs: config.loginBlockMs,
      baseDelayMs: 250,
      maxDelayMs: 4000,
    });
    /*
     * Blocks fall on the (address, user name) pair: a burst against one name
     * locks out that name from that address, not everybody behind the same
     * NAT or load balancer. A name tried from many addresses is blocked at
     * five times the limit (distributed guessing stays bounded, and one
     * address alone cannot lock a user out everywhere). An address as a
     * whole is only slowed down past the limit and blocked at fifty times
     * it, counting evaluated guesses only: that takes a password spray over
     * many names, never one user's typos or one burst.
     */
    this.throttle = new LoginGate<ThrottleKey>({
      addressAndUser: { policy: policy(Math.floor(max / 3), max), clearedBySuccess: true },
      user: { policy: policy(max, max * 5), clearedBySuccess: false },
      address: { policy: policy(max, max * 50), clearedBySuccess: false },
    });
  }

  /** Loads the identity snapshot before the first login needs it. */
  onApplicationBootstrap(): void {
    this.cluster.control.identity.onError = (message) => this.log.warn(message);
    this.cluster.control.identity
      .current()
      .catch((err: Error) => this.log.warn(`identity data not loaded yet: ${err.message}`));
  }

  async authenticate(framed: FramedSocket, attempt: LoginAttempt): Promise<AuthenticatedLogin> {
    // Run by the exchange once its first request is out (HARD-03).
    const lookUp = () => this.candidatesFor(attempt.username, attempt.databaseReference);
    const useCleartext = this.config.authCleartext && attempt.overTls;
    const proof = useCleartext
      ? await exchangeCleartext(framed, lookUp)
      : await exchangeScram(framed, lookUp, attempt.channelBinding);
    const candidates = proof.secrets;
    // Checked, judged and counted in one synchronous step: attempts in flight
    // cannot slip past the limit between a check and a count (HARD-02).
    const result = proof.verify();
    const refusedToken =
      result.candidateId === null ? undefined : candidates.refused.get(result.candidateId);
    const matched = candidates.userId === null || refusedToken ? null : result.candidateId;
    const verdict = this.throttle.settle(
      {
        addressAndUser: `${attempt.sourceAddress} ${attempt.username}`,
        user: attempt.username,
        address: attempt.sourceAddress,
      },
      matched !== null,
    );
    // Held answers look the same whether the proof was right or wrong.
    if (verdict.delayMs > 0) await sleep(verdict.delayMs);
    if (!verdict.admitted || matched === null || candidates.userId === null) {
      const reason: WireLoginFailure = !verdict.admitted
        ? 'throttled'
        : (candidates.refusal ?? refusedToken ?? 'wrong-password');
      this.recordFailure(attempt, proof.method, candidates.userId, null, reason);
      throw PgErrors.invalidPassword();
    }
    if (result.serverFinal) framed.write(authenticationSaslFinal(result.serverFinal));
    framed.write(authenticationOk());
    const token = candidates.tokens.get(matched) ?? null;
    // The success is recorded once the session is established (`recordSuccess`):
    // a login to a database it may not use is a failure, not a success.
    if (token) this.touch(token.id);
    return { userId: candidates.userId, slug: attempt.username, method: proof.method, token };
  }

  /**
   * Unknown and disabled users get a mock salt derived from the server
   * secret and the same iteration count as everyone, so their exchange looks
   * like anyone else's and fails at the end (no user enumeration, SCRAM-07).
   * The same lookups run for every name, known or not, with tokens or not:
   * the user, its live tokens and the requested database, side by side
   * (HARD-03).
   */
  private async candidatesFor(username: string, databaseReference: string): Promise<Candidates> {
    // From memory, the same for every name (HARD-03): no control-plane query per login.
    const identity = await this.cluster.control.identity.current();
    const found = identity.candidates(username);
    const requested = findIn(identity, databaseReference, username);
    // Derived for every name, used only for unknown and disabled ones: the same work either way.
    const mockSalt = mockScramSalt(this.cluster.serverSecret, username);
    const expired = identity.expiredTokens(username);
    if (!found || found.user.disabled) {
      return {
        userId: null,
        refusal: found ? 'disabled' : 'unknown-user',
        salt: mockSalt,
        iterations: DEFAULT_SCRAM_ITERATIONS,
        candidates: [],
        tokens: new Map(),
        refused: new Map(),
      };
    }
    const { user, tokens: live } = found;
    const inScope = (token: TokenRecord) =>
      token.databaseIds.length === 0 ||
      (requested !== null && token.databaseIds.includes(requested.id));
    const usable = live.filter(inScope);
    const refused = new Map<string, 'token-out-of-scope' | 'token-expired'>([
      ...live.filter((token) => !inScope(token)).map((t) => [t.id, 'token-out-of-scope'] as const),
      ...expired.map((token) => [token.id, 'token-expired'] as const),
    ]);
    const candidates: ScramCandidate[] = usable.map((token) => ({
      id: token.id,
      verifier: token.verifier,
    }));
    if (user.password) candidates.push({ id: PASSWORD_SECRET_ID, verifier: user.password });
    // Checked like the others (the same work whatever the outcome), never admitted.
    for (const token of [...live.filter((t) => !inScope(t)), ...expired]) {
      candidates.push({ id: token.id, verifier: token.verifier });
    }
    return {
      userId: user.id,
      refusal: null,
      salt: user.salt,
      iterations: user.iterations,
      candidates,
      tokens: new Map(usable.map((token) => [token.id, token])),
      refused,
    };
  }

  /**
   * `lastUsedAt`, written at most once a minute per token (as for HTTP): a
   * write per login would cost the control plane more than the login.
   */
  private touch(tokenId: string): void {
    const now = Date.now();
    if (now - (this.touched.get(tokenId) ?? 0) < TOUCH_INTERVAL_MS) return;
    if (this.touched.size >= MAX_TOUCHED) this.touched.clear();
    this.touched.set(tokenId, now);
    void this.cluster.control.tokens.touch(tokenId).catch(() => undefined);
  }

  /** The session is established: the one success event of a wire login. */
  recordSuccess(
    attempt: LoginAttempt,
    login: AuthenticatedLogin,
    session: {
      readonly id: number;
      readonly databaseId: string;
      readonly database: string;
      readonly level: string;
    },
  ): void {
    this.audit(attempt, login.method, 'success', login.userId, login.token?.id ?? null, {
      sessionId: session.id,
      level: session.level,
      databaseId: session.databaseId,
      database: session.database,
    });
  }

  /**
   * A failed login and why (the reason is for the audit log, never for the
   * client). After authentication: the database, a connection limit or the
   * upstream refused it.
   */
  recordFailure(
    attempt: LoginAttempt,
    method: AuthMethod,
    userId: string | null,
    tokenId: string | null,
    reason: WireLoginFailure,
    sqlstate: string | null = null,
  ): void {
    this.audit(attempt, method, 'failure', userId, tokenId, { reason, sqlstate });
    this.log.info(
      `login failed for "${attempt.username}" from ${attempt.sourceAddress} (${reason})`,
    );
  }

  /** Recorded in the background: a slow audit write must not hold a login. */
  private audit(
    attempt: LoginAttempt,
    method: AuthMethod,
    outcome: 'success' | 'failure',
    userId: string | null,
    tokenId: string | null,
    extra: {
      reason?: WireLoginFailure;
      sqlstate?: string | null;
      sessionId?: number;
      level?: string;
      databaseId?: string;
      database?: string;
    },
  ): void {
    const { databaseId, database, ...detail } = extra;
    this.cluster.control.audit
      .record({
        kind: 'wire.login',
        outcome,
        actor: attempt.username,
        actorId: userId,
        source: attempt.sourceAddress,
        method: tokenId ? `${method} (token)` : method,
        databaseId: databaseId ?? null,
        // The `owner/name` it resolved to once known, else the name as the client gave it.
        database: database ?? attempt.databaseReference,
        detail: {
          tokenId,
          throttled: detail.reason === 'throttled',
          tls: attempt.overTls,
          ...detail,
        },
      })
      .catch((err: Error) => this.log.warn(`audit write failed: ${err.message}`));
  }
}
