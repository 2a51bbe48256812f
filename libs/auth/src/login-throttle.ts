/**
 * Slows down and then blocks repeated login failures, per key (a user name,
 * a source address). Pure and in memory: one gateway process's view.
 *
 * Within `windowMs`, the n-th failure beyond `slowAfter` delays the next
 * answers by `baseDelayMs * 2^(n - slowAfter - 1)` (capped), and
 * `blockAfter` failures block the key for `blockMs`: every login for it
 * then fails, right or wrong, with the same error as a wrong password.
 */
export interface ThrottlePolicy {
  readonly slowAfter: number;
  readonly blockAfter: number;
  readonly windowMs: number;
  readonly blockMs: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export interface ThrottleVerdict {
  readonly blocked: boolean;
  /** How long to hold the answer to this attempt. */
  readonly delayMs: number;
}

interface KeyState {
  failures: number[];
  blockedUntil: number;
}

/** Keys forgotten when idle: bounds memory under a spray of user names. */
const MAX_KEYS = 100_000;

export class LoginThrottle {
  private readonly keys = new Map<string, KeyState>();

  constructor(
    private readonly policy: ThrottlePolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /** The verdict for an attempt concerning all of `keys` (the strictest wins). */
  check(keys: readonly string[]): ThrottleVerdict {
    const now = this.now();
    let blocked = false;
    let delayMs = 0;
    for (const key of keys) {
      const state = this.state(key, now);
      if (!state) continue;
      if (state.blockedUntil > now) blocked = true;
      const excess = state.failures.length - this.policy.slowAfter;
      if (excess > 0) {
        delayMs = Math.max(
          delayMs,
          Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (excess - 1)),
        );
      }
    }
    return { blocked, delayMs };
  }

  recordFailure(keys: readonly string[]): void {
    const now = this.now();
    for (const key of keys) {
      let state = this.state(key, now);
      if (!state) {
        if (this.keys.size >= MAX_KEYS) this.evictOldest();
        state = { failures: [], blockedUntil: 0 };
        this.keys.set(key, state);
      }
      state.failures.push(now);
      if (state.failures.length >= this.policy.blockAfter) {
        state.blockedUntil = now + this.policy.blockMs;
      }
    }
  }

  /** A success clears the failures of the user, not of the address. */
  recordSuccess(key: string): void {
    const state = this.keys.get(key);
    if (state && state.blockedUntil <= this.now()) this.keys.delete(key);
  }

  private state(key: string, now: number): KeyState | undefined {
    const state = this.keys.get(key);
    if (!state) return undefined;
    state.failures = state.failures.filter((at) => now - at < this.policy.windowMs);
    if (state.failures.length === 0 && state.blockedUntil <= now) {
      this.keys.delete(key);
      return undefined;
    }
    return state;
  }

  private evictOldest(): void {
    const oldest = this.keys.keys().next();
    if (!oldest.done) this.keys.delete(oldest.value);
  }
}

/** What one evaluated login attempt may do, and how long its answer is held. */
export interface AttemptVerdict {
  /** False: refused unseen (a key is blocked); the proof's outcome is ignored and not counted. */
  readonly admitted: boolean;
  readonly delayMs: number;
}

export interface ThrottleRule {
  readonly policy: ThrottlePolicy;
  /** Whether a successful login forgets this key's failures. */
  readonly clearedBySuccess: boolean;
}

/**
 * Several throttles (e.g. per address and user, per user, per address)
 * judged together. `settle` takes the verdict and records the outcome in one
 * synchronous step, at the moment the proof is known: no other attempt can
 * run between the check and the count, so concurrent attempts can never
 * exceed a limit (checking before an exchange and counting after it let a
 * burst of a hundred through a limit of ten).
 */
export class LoginGate<K extends string> {
  private readonly throttles = new Map<K, { throttle: LoginThrottle; rule: ThrottleRule }>();

  constructor(rules: Readonly<Record<K, ThrottleRule>>, now: () => number = Date.now) {
    for (const [kind, rule] of Object.entries(rules) as Array<[K, ThrottleRule]>) {
      this.throttles.set(kind, { throttle: new LoginThrottle(rule.policy, now), rule });
    }
  }

  /**
   * The verdict on an attempt whose proof was `proofMatched`, recorded at
   * once: a refused attempt counts nowhere (it was never evaluated), an
   * admitted failure counts on every key, an admitted success clears the
   * keys whose rule says so.
   */
  settle(keys: Readonly<Record<K, string>>, proofMatched: boolean): AttemptVerdict {
    let admitted = true;
    let delayMs = 0;
    for (const [kind, { throttle }] of this.throttles) {
      const verdict = throttle.check([keys[kind]]);
      if (verdict.blocked) admitted = false;
      delayMs = Math.max(delayMs, verdict.delayMs);
    }
    if (!admitted) return { admitted, delayMs };
    for (const [kind, { throttle, rule }] of this.throttles) {
      if (!proofMatched) throttle.recordFailure([keys[kind]]);
      else if (rule.clearedBySuccess) throttle.recordSuccess(keys[kind]);
    }
    return { admitted, delayMs };
  }
}
