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
