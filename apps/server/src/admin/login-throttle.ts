/**
 * Failed HTTP logins, counted in a sliding window per user name and per
 * source address. Pure (the caller passes the clock) and in memory: a
 * restart forgets, and each gateway replica counts on its own.
 */
export interface WindowLimit {
  readonly max: number;
  readonly windowMs: number;
}

export interface LoginThrottleLimits {
  readonly perUser: WindowLimit;
  /** Looser than per user: many people may share one address (NAT, proxy). */
  readonly perSource: WindowLimit;
}

export const DEFAULT_LOGIN_LIMITS: LoginThrottleLimits = {
  perUser: { max: 5, windowMs: 60_000 },
  perSource: { max: 20, windowMs: 60_000 },
};

/** Timestamps of the last `max` failures per key, pruned as they age out. */
export class SlidingWindow {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: WindowLimit,
    /** Bounds memory against a flood of made-up user names. */
    private readonly maxKeys = 10_000,
  ) {}

  /** Milliseconds until `key` may try again; 0 when it may now. */
  retryAfterMs(key: string, now: number): number {
    const recent = this.recent(key, now);
    if (recent.length < this.limit.max) return 0;
    // Allowed again once the oldest failure that still counts leaves the window.
    return recent[recent.length - this.limit.max]! + this.limit.windowMs - now;
  }

  record(key: string, now: number): void {
    const recent = [...this.recent(key, now), now].slice(-this.limit.max);
    this.failures.delete(key);
    this.failures.set(key, recent);
    if (this.failures.size > this.maxKeys) this.prune(now);
  }

  clear(key: string): void {
    this.failures.delete(key);
  }

  get size(): number {
    return this.failures.size;
  }

  private recent(key: string, now: number): number[] {
    const since = now - this.limit.windowMs;
    return (this.failures.get(key) ?? []).filter((at) => at > since);
  }

  /** Drops aged-out keys, then the least recently failed ones (Map keeps insertion order). */
  private prune(now: number): void {
    for (const key of [...this.failures.keys()]) {
      if (this.recent(key, now).length === 0) this.failures.delete(key);
    }
    for (const key of this.failures.keys()) {
      if (this.failures.size <= this.maxKeys) break;
      this.failures.delete(key);
    }
  }
}

export class LoginThrottle {
  private readonly users: SlidingWindow;
  private readonly sources: SlidingWindow;

  constructor(limits: LoginThrottleLimits = DEFAULT_LOGIN_LIMITS) {
    this.users = new SlidingWindow(limits.perUser);
    this.sources = new SlidingWindow(limits.perSource);
  }

  /** Whole seconds to wait (for Retry-After); 0 when the attempt may proceed. */
  retryAfterSeconds(username: string, source: string, now = Date.now()): number {
    const ms = Math.max(
      this.users.retryAfterMs(username, now),
      this.sources.retryAfterMs(source, now),
    );
    return Math.ceil(ms / 1000);
  }

  recordFailure(username: string, source: string, now = Date.now()): void {
    this.users.record(username, now);
    this.sources.record(source, now);
  }

  /** A success clears the user's count, not the address's: others may be guessing from it. */
  recordSuccess(username: string): void {
    this.users.clear(username);
  }
}
