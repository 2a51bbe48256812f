import { Inject, Injectable } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DEFAULT_SCRAM_ITERATIONS,
  LoginThrottle,
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
import { DatabaseAccessService } from '../../identity/database-access.service';
import { logSink } from '../../logging';
import type { AuthMethod } from '../live-sessions.service';
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

interface Candidates extends ExchangeInput {
  readonly userId: string | null;
  readonly tokens: ReadonlyMap<string, TokenRecord>;
}

/**
 * Wire logins: picks the secrets a login may prove (password and live API
 * tokens whose scope admits the database), runs the exchange, throttles
 * repeated failures and records every outcome. Unknown, disabled, expired,
 * revoked, out-of-scope and throttled logins all end in the same 28P01.
 */
@Injectable()
export class LoginService {
  private readonly log = logSink('Login');
  /** Per user name, and per source address with five times the allowance (shared NAT). */
  private readonly userThrottle: LoginThrottle;
  private readonly sourceThrottle: LoginThrottle;

  constructor(
    @Inject(POSTERN_CONFIG) private readonly config: PosternConfig,
    private readonly cluster: ClusterService,
    private readonly access: DatabaseAccessService,
  ) {
    const policy = (blockAfter: number) => ({
      slowAfter: Math.max(1, Math.floor(blockAfter / 3)),
      blockAfter,
      windowMs: 15 * 60_000,
      blockMs: config.loginBlockMs,
      baseDelayMs: 250,
      maxDelayMs: 4000,
    });
    this.userThrottle = new LoginThrottle(policy(config.loginMaxFailures));
    this.sourceThrottle = new LoginThrottle(policy(config.loginMaxFailures * 5));
  }

  async authenticate(framed: FramedSocket, attempt: LoginAttempt): Promise<AuthenticatedLogin> {
    const user = [attempt.username];
    const source = [attempt.sourceAddress];
    const verdicts = [this.userThrottle.check(user), this.sourceThrottle.check(source)];
    const verdict = {
      blocked: verdicts.some((v) => v.blocked),
      delayMs: Math.max(...verdicts.map((v) => v.delayMs)),
    };
    const candidates = await this.candidatesFor(attempt.username, attempt.databaseReference);
    const useCleartext = this.config.authCleartext && attempt.overTls;
    const result = useCleartext
      ? await exchangeCleartext(framed, candidates)
      : await exchangeScram(framed, candidates, attempt.channelBinding);
    // Held answers look the same whether the proof was right or wrong.
    if (verdict.delayMs > 0) await sleep(verdict.delayMs);
    const matched = result.candidateId;
    if (verdict.blocked || matched === null || candidates.userId === null) {
      this.userThrottle.recordFailure(user);
      this.sourceThrottle.recordFailure(source);
      this.audit(attempt, result.method, 'failure', candidates.userId, null, verdict.blocked);
      throw PgErrors.invalidPassword();
    }
    this.userThrottle.recordSuccess(attempt.username);
    if (result.serverFinal) framed.write(authenticationSaslFinal(result.serverFinal));
    framed.write(authenticationOk());
    const token = candidates.tokens.get(matched) ?? null;
    this.audit(attempt, result.method, 'success', candidates.userId, token?.id ?? null, false);
    if (token) void this.cluster.control.tokens.touch(token.id).catch(() => undefined);
    return { userId: candidates.userId, slug: attempt.username, method: result.method, token };
  }

  /**
   * Unknown and disabled users get a mock salt derived from the server
   * secret and the same iteration count as everyone, so their exchange looks
   * like anyone else's and fails at the end (no user enumeration, SCRAM-07).
   */
  private async candidatesFor(username: string, databaseReference: string): Promise<Candidates> {
    const found = await this.cluster.control.logins.candidates(username);
    if (!found || found.user.disabled) {
      return {
        userId: null,
        salt: mockScramSalt(this.cluster.serverSecret, username),
        iterations: DEFAULT_SCRAM_ITERATIONS,
        candidates: [],
        tokens: new Map(),
      };
    }
    const { user, tokens: live } = found;
    const scoped = live.some((token) => token.databaseIds.length > 0);
    const requested = scoped ? await this.access.find(databaseReference, username) : null;
    const usable = live.filter(
      (token) =>
        token.databaseIds.length === 0 ||
        (requested !== null && token.databaseIds.includes(requested.id)),
    );
    const candidates: ScramCandidate[] = usable.map((token) => ({
      id: token.id,
      verifier: token.verifier,
    }));
    if (user.password) candidates.push({ id: PASSWORD_SECRET_ID, verifier: user.password });
    return {
      userId: user.id,
      salt: user.salt,
      iterations: user.iterations,
      candidates,
      tokens: new Map(usable.map((token) => [token.id, token])),
    };
  }

  /** Recorded in the background: a slow audit write must not hold a login. */
  private audit(
    attempt: LoginAttempt,
    method: AuthMethod,
    outcome: 'success' | 'failure',
    userId: string | null,
    tokenId: string | null,
    throttled: boolean,
  ): void {
    this.cluster.control.audit
      .record({
        kind: 'wire.login',
        outcome,
        actor: attempt.username,
        actorId: userId,
        source: attempt.sourceAddress,
        method: tokenId ? `${method} (token)` : method,
        database: attempt.databaseReference,
        detail: { tokenId, throttled, tls: attempt.overTls },
      })
      .catch((err: Error) => this.log.warn(`audit write failed: ${err.message}`));
    if (outcome === 'failure') {
      this.log.info(`login failed for "${attempt.username}" from ${attempt.sourceAddress}`);
    }
  }
}
