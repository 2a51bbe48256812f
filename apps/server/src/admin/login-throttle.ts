/**
 * Failed HTTP credentials (password logins, bearer tokens), counted in
 * sliding windows. Pure (the caller passes the clock) and in memory: a
 * restart forgets, and each gateway replica counts on its own.
 *
 * An attempt reserves its place in every window before its secret is
 * checked (bcrypt takes milliseconds, during which other attempts arrive):
 * attempts in flight count as failures until they end, so a concurrent
 * burst can never get more checks than the limit (HARD-02). A success
 * gives its place back.
 */
export interface WindowLimit {
  readonly max: number;
  readonly windowMs: number;
}

export interface LoginThrottleLimits {
  /** The blocking limit: one user name tried from one address. */
  readonly perAddressAndUser: WindowLimit;
  /** One user name from every address together: distributed guessing. */
  readonly perUser: WindowLimit;
  /**
   * Everything from one address: many people may share it (NAT, proxy), so
   * a burst against one name must not lock the others out; only a spray over
   * many names reaches this limit.
   */
  readonly perSource: WindowLimit;
}

export const DEFAULT_LOGIN_LIMITS: LoginThrottleLimits = {
  perAddressAndUser: { max: 5, windowMs: 60_000 },
  perUser: { max: 25, windowMs: 60_000 },
  perSource: { max: 100, windowMs: 60_000 },
};

/** Failed bearer credentials (unknown or wrong API tokens, unknown sessions) per address. */
export const DEFAULT_BEARER_LIMIT: WindowLimit = { max: 30, windowMs: 60_000 };

/** What an attempt blocked only by others still in flight is told: they end within a second. */
const IN_FLIGHT_RETRY_MS = 1000;

/** Timestamps of the last `max` failures per key, plus the attempts in flight. */
export class SlidingWindow {
  private readonly failures = new Map<string, number[]>();
  private readonly inFlight = new Map<string, number>();

  constructor(
    private readonly limit: WindowLimit,
    /** Bounds memory against a flood of made-up user names. */
    private readonly maxKeys = 10_000,
  ) {}

  /** Milliseconds until `key` may try again; 0 when it may now. */
  retryAfterMs(key: string, now: number): number {
    const recent = this.recent(key, now);
    if (recent.length + (this.inFlight.get(key) ?? 0) < this.limit.max) return 0;
    if (recent.length < this.limit.max) return IN_FLIGHT_RETRY_MS;
    // Allowed again once the oldest failure that still counts leaves the window.
    return recent[recent.length - this.limit.max]! + this.limit.windowMs - now;
  }

  /** Counts an attempt in flight; `release` ends it. */
  hold(key: string): void {
    this.inFlight.set(key, (this.inFlight.get(key) ?? 0) + 1);
  }

  release(key: string): void {
    const left = (this.inFlight.get(key) ?? 0) - 1;
    if (left > 0) this.inFlight.set(key, left);
    else this.inFlight.delete(key);
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

/** A place held in some windows by one attempt; ended exactly once. */
export class Reservation {
  private ended = false;

  constructor(
    private readonly places: ReadonlyArray<{ window: SlidingWindow; key: string }>,
    /** Windows whose count a success clears. */
    private readonly clearedBySuccess: ReadonlySet<SlidingWindow> = new Set(),
  ) {
    for (const { window, key } of places) window.hold(key);
  }

  failed(now = Date.now()): void {
    if (this.end()) for (const { window, key } of this.places) window.record(key, now);
  }

  succeeded(): void {
    if (!this.end()) return;
    for (const { window, key } of this.places) {
      if (this.clearedBySuccess.has(window)) window.clear(key);
    }
  }

  /** The attempt ended without its secret being judged (an error): it does not count. */
  released(): void {
    this.end();
  }

  private end(): boolean {
    if (this.ended) return false;
    this.ended = true;
    for (const { window, key } of this.places) window.release(key);
    return true;
  }
}

/** Either a reservation, or how many whole seconds to wait (for Retry-After). */
export type Admission =
  | { readonly admitted: true; readonly reservation: Reservation }
  | { readonly admitted: false; readonly retryAfterSeconds: number };

/** Checks and reserves in one synchronous step: nothing can run in between. */
function admit(
  places: ReadonlyArray<{ window: SlidingWindow; key: string }>,
  now: number,
  clearedBySuccess?: ReadonlySet<SlidingWindow>,
): Admission {
  const waitMs = Math.max(0, ...places.map(({ window, key }) => window.retryAfterMs(key, now)));
  if (waitMs > 0) return { admitted: false, retryAfterSeconds: Math.ceil(waitMs / 1000) };
  return { admitted: true, reservation: new Reservation(places, clearedBySuccess) };
}

export class LoginThrottle {
  private readonly pairs: SlidingWindow;
  private readonly users: SlidingWindow;
  private readonly sources: SlidingWindow;

  constructor(limits: LoginThrottleLimits = DEFAULT_LOGIN_LIMITS) {
    this.pairs = new SlidingWindow(limits.perAddressAndUser);
    this.users = new SlidingWindow(limits.perUser);
    this.sources = new SlidingWindow(limits.perSource);
  }

  /**
   * Reserves a password check for `username` from `source`. A success
   * clears the pair's count only: others may be guessing the same name
   * elsewhere, or other names from the same address.
   */
  admit(username: string, source: string, now = Date.now()): Admission {
    return admit(
      [
        { window: this.pairs, key: `${source} ${username}` },
        { window: this.users, key: username },
        { window: this.sources, key: source },
      ],
      now,
      new Set([this.pairs]),
    );
  }
}

/**
 * Failed bearer credentials per address. Unknown ones cost nothing to
 * refuse, but a known token id with a wrong secret costs a bcrypt check:
 * past the limit an address gets 429 for anything that is not already known
 * to be valid (HARD-09).
 */
export class BearerThrottle {
  private readonly sources: SlidingWindow;

  constructor(limit: WindowLimit = DEFAULT_BEARER_LIMIT) {
    this.sources = new SlidingWindow(limit);
  }

  admit(source: string, now = Date.now()): Admission {
    return admit([{ window: this.sources, key: source }], now);
  }
}
