import type { LogSink } from '../log';
import { connectUpstream, UpstreamConnectError, type UpstreamTarget } from './upstream-connect';
import type { UpstreamConnection } from './upstream-connection';
import { FairQueue } from './fair-queue';
import { assertNoPlantedSettings, PlantedSettingsError } from './session-check';
import { resetSession, setConfigCalls } from './session-reset';
import { runSimpleQuery } from './simple-query';

export interface PoolOptions {
  /**
   * Upstream connections per (cluster, database, role), busy and idle
   * together; a target's own `poolSize` may only lower it.
   */
  readonly maxPerKey: number;
  /**
   * Of those, how many one user may hold at once (a fair share, so that one
   * user's idle sessions cannot starve the others: HARD-06); 0 or absent: no cap.
   */
  readonly maxPerUserPerKey?: number;
  /** An idle connection older than this is closed. */
  readonly idleTimeoutMs: number;
  /** How long acquire() waits for a free slot before PoolExhaustedError. */
  readonly acquireTimeoutMs: number;
  readonly connectTimeoutMs: number;
  /**
   * How long to keep retrying a connect the upstream refused for a passing
   * reason (not listening yet, starting up: FAULT-02); 0 tries once.
   */
  readonly connectRetryMs: number;
  readonly log: LogSink;
  /** Each attempt to open a new upstream connection, with how it failed (null: it worked). */
  readonly connected?: (seconds: number, failure: ConnectFailure | null) => void;
}

/** Why opening an upstream connection failed, for metrics. */
export type ConnectFailure = 'refused' | 'timeout' | 'too_many' | 'other';

/** What a pool reports of one key (database and role) for metrics. */
export interface PoolKeyStats {
  readonly database: string;
  readonly level: 'read-only' | 'read-write';
  readonly inUse: number;
  readonly idle: number;
  readonly waiting: number;
}

/**
 * The cluster-wide budget of upstream connections (pooled ones, busy or
 * idle, of every key), and the part of it one user may hold.
 */
export interface UpstreamBudget {
  readonly total: number;
  /**
   * What session-long leases (wire sessions) may hold: the rest of `total`
   * stays for short-lived ones (HTTP queries), so that sessions filling the
   * budget do not stop them.
   */
  readonly forSessions: number;
  readonly perUser: number;
}

/** Which limit kept a connection from being lent. */
export type PoolLimit = 'pool' | 'user-pool' | 'budget' | 'user-budget';

/** Which limit is full, its size, and what it is a share of. */
interface FullLimit {
  readonly limit: PoolLimit;
  readonly size: number;
  readonly of: number;
}

/** No slot freed up within acquireTimeoutMs (the client gets 53300, naming the limit). */
export class PoolExhaustedError extends Error {
  constructor(
    readonly limit: PoolLimit,
    /** The limit's size, and for a user's share, the whole it is a share of. */
    readonly size: number,
    readonly of: number,
  ) {
    super(`no upstream connection available (${limit})`);
  }

  /** What a refused client is told: which limit is full, never who else holds it. */
  describe(database: string, user: string): string {
    switch (this.limit) {
      case 'pool':
        return `too many connections for database "${database}": all ${this.size} of its pooled upstream connections are in use`;
      case 'user-pool':
        return `too many connections for user "${user}" on database "${database}": one user may hold ${this.size} of its ${this.of} pooled upstream connections`;
      case 'budget':
        return `too many connections: the gateway's upstream connection budget (${this.size}) is exhausted`;
      case 'user-budget':
        return `too many connections for user "${user}": one user may hold ${this.size} of the gateway's upstream connections (${this.of})`;
    }
  }
}

/**
 * PostgreSQL refused a connection because the cluster has no slot left
 * ("sorry, too many clients already", "remaining connection slots are
 * reserved ..."), as opposed to a database's or role's own CONNECTION
 * LIMIT (same SQLSTATE 53300; a tenant may set one on its database).
 */
export function clusterOutOfSlots(err: unknown): boolean {
  return (
    err instanceof UpstreamConnectError &&
    err.sqlstate === '53300' &&
    !/^too many connections for (database|role) /.test(err.fields.M ?? '')
  );
}

/** An upstream connection lent to one client session (wire) or one request (HTTP). */
export interface Lease {
  readonly connection: UpstreamConnection;
  /** The upstream's ParameterStatus values, with the client's settings applied. */
  readonly parameters: ReadonlyMap<string, string>;
  readonly reused: boolean;
  /** How long the acquire queued for a slot (the pool's wait, without connecting or resetting). */
  readonly waitedMs: number;
  /**
   * Gives the connection back. When the connection says it is `reusable`
   * (idle, outside a transaction and COPY, never cancelled, nothing read
   * ahead) it is reset (DISCARD ALL) before anyone else gets it; otherwise
   * it is closed. A user that left it mid-message calls `discard()` first.
   */
  release(): void;
}

/** A lease before acquire() adds what it knows (the wait). */
type LentConnection = Omit<Lease, 'waitedMs'>;

interface Idle {
  readonly connection: UpstreamConnection;
  readonly parameters: ReadonlyMap<string, string>;
  /** The client startup settings in place (the reset re-applies the last client's). */
  readonly settings: Readonly<Record<string, string>>;
  readonly since: number;
  /**
   * Given back by a transaction-pooled session as it was (settings and
   * prepared statements of its clients, tracked by them): reset before a
   * session-pooled lease or an HTTP query gets it.
   */
  readonly kept?: true;
}

/** A connection lent for one transaction of a transaction-pooled session (PooledUpstream). */
export interface TransactionLease {
  readonly connection: UpstreamConnection;
  /**
   * The session settings the pool knows are on it (a connection reset for
   * the next session keeps its last client's startup settings); null when
   * it comes from a transaction-pooled session, which tracks them itself.
   */
  readonly settings: Readonly<Record<string, string>> | null;
  /** How long the acquire queued for a slot. */
  readonly waitedMs: number;
  /**
   * Gives it back. `keep`: to the pool as it is, without a reset (the
   * session state on it is tracked by the transaction-pooled sessions);
   * otherwise, or when it is not `reusable`, it is closed.
   */
  release(keep: boolean): void;
}

/**
 * An acquire waiting for a slot, queued per (user, pool key): the users
 * waiting for a pool take turns (FairQueue).
 */
interface Waiter {
  readonly state: KeyState;
  readonly user: string | undefined;
  readonly shortLived: boolean;
  /** Hands the waiter the slot taken for it. */
  readonly grant: (slot: Slot) => void;
}

/** A slot taken for an acquire: the idle connection claimed with it, if any, and the release of the user's share. */
interface Slot {
  readonly idle: Idle | null;
  readonly releaseUser: () => void;
}

/**
 * An idle connection is watched (its EOF or a FATAL shows at once), so one
 * that is lent again soon with the settings it already has needs no round
 * trip; after this long idle, a query proves it still works (as PgBouncer's
 * server_check_delay), since a silent network loss shows no EOF.
 */
const LIVENESS_CHECK_AFTER_MS = 30_000;

interface KeyState {
  /** What the key is called in metrics (its target's label), once known. */
  label: UpstreamTarget['label'] | null;
  /** ParameterStatus values of the key's last new connection (told to transaction-pooled logins). */
  parameters: ReadonlyMap<string, string> | null;
  /** Acquires of the key queued for a slot. */
  waiting: number;
  /**
   * Its connections, busy and idle, at most: the last acquire's target's
   * `poolSize` (a database's limit, changed at any time) within maxPerKey.
   */
  size: number;
  /** When that size was read (UpstreamTarget.poolSizeReadAt): an older read does not change it. */
  sizeReadAt: number;
  busy: number;
  /** Connections being opened or reset count as busy. */
  readonly idle: Idle[];
  /** Busy slots per user (acquire's `user`). */
  readonly users: Map<string, number>;
}

/**
 * Session pooling of upstream connections per (cluster, database, role).
 * Connections are opened with neutral startup parameters; each client's
 * settings are applied with set_config() after acquire, so a reset
 * (DISCARD ALL) returns a connection to a state no client chose.
 */
export class UpstreamPool {
  private readonly keys = new Map<string, KeyState>();
  private readonly repairs = new Map<string, Promise<void>>();
  /** Acquires waiting for a slot, per (user, key), the users taking turns. */
  private readonly waiting = new FairQueue<Waiter>();
  /** Busy slots per user over every key. */
  private readonly userSlots = new Map<string, number>();
  private budget: UpstreamBudget | null = null;
  private readonly reaper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: PoolOptions) {
    this.reaper = setInterval(() => this.closeIdle(), Math.min(options.idleTimeoutMs, 10_000));
    this.reaper.unref();
  }

  /** Sets (or lifts, with null) the cluster-wide budget; applies to acquires from now on. */
  setBudget(budget: UpstreamBudget | null): void {
    this.budget = budget;
    this.dispatch();
  }

  /**
   * A connection for `user` (who counts against the per-user shares; none
   * given: only the pool and budget limits apply). A `shortLived` lease (an
   * HTTP query) may use the part of the budget sessions may not. `signal`:
   * its client went or gave up, so an acquire still queued leaves the queue
   * at once (rejecting with the signal's reason) instead of keeping its
   * place until a slot or the timeout comes.
   */
  async acquire(
    target: UpstreamTarget,
    settings: Readonly<Record<string, string>>,
    user?: string,
    shortLived = false,
    signal?: AbortSignal,
  ): Promise<Lease> {
    const key = `${target.host}:${target.port}/${target.database}/${target.user}`;
    const state = this.stateOf(key, target);
    const askedAt = performance.now();
    const { idle, releaseUser } = await this.takeSlot(key, state, user, shortLived, signal);
    const waitedMs = performance.now() - askedAt;
    let lease: LentConnection;
    try {
      lease = await this.lendSlot(key, state, target, settings, idle);
    } catch (err) {
      releaseUser();
      throw err;
    }
    const { connection, parameters, reused } = lease;
    return {
      connection,
      parameters,
      reused,
      waitedMs,
      release: () => {
        releaseUser();
        lease.release();
      },
    };
  }

  /**
   * A connection for one transaction of a transaction-pooled session, in
   * turn with every other acquire of the key: no reset and no settings
   * applied (the session applies what differs), so that a transaction
   * costs no round trip of the pool's own. `signal`: as acquire's.
   */
  async acquireForTransaction(
    target: UpstreamTarget,
    user?: string,
    signal?: AbortSignal,
  ): Promise<TransactionLease> {
    const key = `${target.host}:${target.port}/${target.database}/${target.user}`;
    const state = this.stateOf(key, target);
    const askedAt = performance.now();
    const { idle, releaseUser } = await this.takeSlot(key, state, user, false, signal);
    const waitedMs = performance.now() - askedAt;
    let lent: { connection: UpstreamConnection; settings: Idle['settings'] | null };
    try {
      // Usually an idle one, taken without another await.
      lent = this.idleForTransaction(state, idle) ?? (await this.newForTransaction(target, state));
    } catch (err) {
      releaseUser();
      this.freeSlot(state);
      throw err;
    }
    const { connection } = lent;
    let released = false;
    return {
      connection,
      settings: lent.settings,
      waitedMs,
      release: (keep) => {
        if (released) return;
        released = true;
        releaseUser();
        if (keep && connection.reusable && !this.closed) {
          this.handOn(state, connection);
        } else {
          connection.discard();
          this.freeSlot(state);
        }
      },
    };
  }

  /**
   * A transaction's connection given back as it is: to the next waiter at
   * once if one fits (usually, while clients queue for the pool), else idle
   * and watched. Handed on directly, it is not watched in between: its
   * socket stays paused for the moment until the waiter's session reads it,
   * and whatever PostgreSQL said meanwhile reaches that session.
   */
  private handOn(state: KeyState, connection: UpstreamConnection): void {
    const idle: Idle = {
      connection,
      parameters: connection.parameters,
      settings: {},
      since: Date.now(),
      kept: true,
    };
    state.idle.push(idle);
    this.freeSlot(state);
    if (state.idle.includes(idle)) connection.watchWhileIdle();
  }

  /**
   * The parameters a login to `target` is told (server_version, encoding,
   * ...), known once the key had a connection; null before.
   */
  knownParameters(target: UpstreamTarget): ReadonlyMap<string, string> | null {
    const key = `${target.host}:${target.port}/${target.database}/${target.user}`;
    return this.keys.get(key)?.parameters ?? null;
  }

  /**
   * An idle connection as it is (the claimed one, or another if that one
   * died), with the settings known to be on it (see
   * TransactionLease.settings); null when none is left.
   */
  private idleForTransaction(
    state: KeyState,
    claimed: Idle | null,
  ): { connection: UpstreamConnection; settings: Idle['settings'] | null } | null {
    for (let idle = claimed ?? state.idle.pop(); idle; idle = state.idle.pop()) {
      if (idle.connection.reusable) {
        return { connection: idle.connection, settings: idle.kept ? null : idle.settings };
      }
      idle.connection.discard();
    }
    return null;
  }

  /** A new connection for a transaction (its settings: none yet). */
  private async newForTransaction(
    target: UpstreamTarget,
    state: KeyState,
  ): Promise<{ connection: UpstreamConnection; settings: Idle['settings'] | null }> {
    const connection = await this.connect(target);
    state.parameters = connection.parameters;
    return { connection, settings: {} };
  }

  /**
   * A connection for a slot already taken: the idle one claimed with it,
   * another idle one if that one died, or a new one. The slot is freed when
   * this fails.
   */
  private async lendSlot(
    key: string,
    state: KeyState,
    target: UpstreamTarget,
    settings: Readonly<Record<string, string>>,
    claimed: Idle | null,
  ): Promise<LentConnection> {
    try {
      for (let idle = claimed ?? state.idle.pop(); idle; idle = state.idle.pop()) {
        if (!idle.connection.reusable) {
          // Closed, or PostgreSQL said something while it sat idle (a FATAL before closing).
          idle.connection.discard();
          continue;
        }
        if (idle.kept) {
          // A transaction-pooled session's state is on it: a session or HTTP query starts clean.
          const neutral = await this.reset(idle.connection, {}).catch(() => null);
          if (!neutral || !idle.connection.reusable) {
            idle.connection.discard();
            continue;
          }
          idle = {
            connection: idle.connection,
            parameters: neutral,
            settings: {},
            since: idle.since,
          };
        }
        let parameters: ReadonlyMap<string, string>;
        try {
          parameters =
            sameSettings(idle.settings, settings) &&
            Date.now() - idle.since < LIVENESS_CHECK_AFTER_MS
              ? idle.parameters
              : await applySettings(idle.connection, idle.parameters, settings, idle.settings);
        } catch (err) {
          if (err instanceof UpstreamSettingError) {
            // The connection is fine (its settings rolled back); the client's setting is not.
            this.keepIdle(state, idle.connection, idle.parameters, idle.settings);
            throw err;
          }
          idle.connection.discard(); // died while idle: try the next one
          continue;
        }
        return this.lease(key, state, idle.connection, parameters, settings, true);
      }
      const connection = await this.connect(target);
      state.parameters = connection.parameters;
      try {
        const parameters = await applySettings(connection, connection.parameters, settings, {});
        return this.lease(key, state, connection, parameters, settings, false);
      } catch (err) {
        if (err instanceof UpstreamSettingError) {
          this.keepIdle(state, connection, connection.parameters, {});
        } else {
          connection.discard();
        }
        throw err;
      }
    } catch (err) {
      this.freeSlot(state);
      throw err;
    }
  }

  /**
   * A new upstream session that carries no planted role or database
   * setting. When the upstream refuses the role (a tenant changed its
   * password) or the session shows settings nobody provisioned (HARD-04),
   * the target's repair runs (once at a time per role) and the connect is
   * tried once more.
   */
  private async connect(target: UpstreamTarget): Promise<UpstreamConnection> {
    try {
      return await this.connectChecked(target);
    } catch (err) {
      if (!target.repair || !needsRepair(err)) throw err;
      this.options.log.warn(
        `upstream session as ${target.user} refused or not as provisioned (${(err as Error).message}); repairing the role`,
      );
    }
    await this.repairOnce(target, target.repair);
    return this.connectChecked(target);
  }

  private async connectChecked(target: UpstreamTarget): Promise<UpstreamConnection> {
    const connection = await this.connectWithRetry(target);
    try {
      await assertNoPlantedSettings(connection, target.provisionedSettings ?? []);
    } catch (err) {
      connection.discard();
      throw err;
    }
    return connection;
  }

  /** Concurrent sessions that find the same role broken share one repair. */
  private repairOnce(target: UpstreamTarget, repair: () => Promise<void>): Promise<void> {
    const key = `${target.host}:${target.port}/${target.database}`;
    let running = this.repairs.get(key);
    if (!running) {
      running = repair().finally(() => this.repairs.delete(key));
      this.repairs.set(key, running);
    }
    return running;
  }

  /**
   * A new upstream session, retried with backoff while the upstream is
   * unreachable or starting up (57P03). Refusals that will not pass by
   * waiting (53300, bad credentials) fail at once; nothing of a client's is
   * ever replayed, only the connection setup (FAULT-01d).
   */
  private async connectWithRetry(target: UpstreamTarget): Promise<UpstreamConnection> {
    const deadline = Date.now() + this.options.connectRetryMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      const started = performance.now();
      const took = () => (performance.now() - started) / 1000;
      try {
        const connection = await connectUpstream(target, this.options.connectTimeoutMs);
        this.options.connected?.(took(), null);
        return connection;
      } catch (err) {
        this.options.connected?.(took(), connectFailure(err));
        if (!isTransient(err) || Date.now() + delay > deadline) throw err;
        this.options.log.debug(`upstream not available yet (${(err as Error).message}); retrying`);
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** Closes every idle connection; busy ones close when released. */
  close(): void {
    this.closed = true;
    clearInterval(this.reaper);
    for (const state of this.keys.values()) {
      for (const idle of state.idle.splice(0)) idle.connection.discard();
    }
  }

  /** The budget, when set and sessions have every connection of their part busy (idle ones could be closed). */
  get exhaustedBudget(): UpstreamBudget | null {
    return this.budget && this.stats.busy >= this.budget.forSessions ? this.budget : null;
  }

  get stats(): { busy: number; idle: number } {
    let busy = 0;
    let idle = 0;
    for (const state of this.keys.values()) {
      busy += state.busy;
      idle += state.idle.length;
    }
    return { busy, idle };
  }

  private lease(
    key: string,
    state: KeyState,
    connection: UpstreamConnection,
    parameters: ReadonlyMap<string, string>,
    settings: Readonly<Record<string, string>>,
    reused: boolean,
  ): LentConnection {
    let released = false;
    return {
      connection,
      parameters,
      reused,
      release: () => {
        if (released) return;
        released = true;
        if (!connection.reusable || this.closed) {
          connection.discard();
          this.freeSlot(state);
          return;
        }
        void this.reset(connection, settings).then(
          (neutral) => {
            if (neutral && !this.closed && connection.reusable) {
              this.keepIdle(state, connection, neutral, settings);
            } else {
              connection.discard();
            }
            this.freeSlot(state);
          },
          () => {
            connection.discard();
            this.freeSlot(state);
          },
        );
        this.options.log.debug(`upstream connection to ${key} returned`);
      },
    };
  }

  /** Puts an idle connection in the pool, watched so that its EOF or a FATAL shows while it waits. */
  private keepIdle(
    state: KeyState,
    connection: UpstreamConnection,
    parameters: ReadonlyMap<string, string>,
    settings: Readonly<Record<string, string>>,
    kept?: true,
  ): void {
    connection.watchWhileIdle();
    state.idle.push({ connection, parameters, settings, since: Date.now(), kept });
  }

  /**
   * DISCARD ALL and a fresh random seed (resetSession), with the last
   * client's settings applied again; null when the connection is not
   * cleanly idle afterwards or would show something of the previous session.
   */
  private async reset(
    connection: UpstreamConnection,
    settings: Readonly<Record<string, string>>,
  ): Promise<ReadonlyMap<string, string> | null> {
    const result = await resetSession(connection, settings);
    connection.sessionReset();
    if (!result.clean) return null;
    const parameters = new Map(connection.parameters);
    for (const [name, value] of result.parameters) parameters.set(name, value);
    return parameters;
  }

  /** The key's state, its size as `target` says now (see KeyState.size). */
  private stateOf(key: string, target: UpstreamTarget): KeyState {
    const { maxPerKey } = this.options;
    const size = Math.min(target.poolSize ?? maxPerKey, maxPerKey);
    let state = this.keys.get(key);
    if (!state) {
      state = {
        label: null,
        parameters: null,
        waiting: 0,
        size,
        sizeReadAt: target.poolSizeReadAt ?? 0,
        busy: 0,
        idle: [],
        users: new Map(),
      };
      this.keys.set(key, state);
    }
    state.label ??= target.label ?? null;
    const readAt = target.poolSizeReadAt ?? 0;
    if (readAt < state.sizeReadAt) return state;
    state.sizeReadAt = readAt;
    if (size !== state.size) {
      state.size = size;
      this.closeIdleOverSize(state);
      // A larger size may serve waiters at once.
      this.dispatch();
    }
    return state;
  }

  /**
   * A size lowered below what the key holds: its idle connections over it
   * are closed, the ones idle the longest first (those in use finish their
   * lease, and are closed when given back while the key is still over).
   */
  private closeIdleOverSize(state: KeyState): void {
    while (state.idle.length > 0 && state.busy + state.idle.length > state.size) {
      state.idle.shift()!.connection.discard();
    }
  }

  /** Each pool (database and role) that has a name, for metrics: in use, idle, waiting. */
  keyStats(): PoolKeyStats[] {
    const stats: PoolKeyStats[] = [];
    for (const state of this.keys.values()) {
      if (!state.label) continue;
      stats.push({
        ...state.label,
        inUse: state.busy,
        idle: state.idle.length,
        waiting: state.waiting,
      });
    }
    return stats;
  }

  /**
   * A slot is a busy connection (lent, being opened or being reset); busy
   * plus idle stays within the key's size, and busy plus idle of every key within
   * the budget. Every limit is checked and the slot taken (with an idle
   * connection, if there is one) in one synchronous step, so that two
   * acquires never count on the same free slot. When none is free the
   * acquire queues (see Waiter) until dispatch() hands it one, the timeout
   * passes or `signal` aborts.
   */
  private takeSlot(
    key: string,
    state: KeyState,
    user: string | undefined,
    shortLived: boolean,
    signal: AbortSignal | undefined,
  ): Promise<Slot> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error);
    const flow = `${user ?? ''}\0${key}`;
    // Behind its own earlier waiters, even if a slot fits it now.
    if (!this.waiting.has(flow) && !this.fullLimit(state, user, shortLived)) {
      return Promise.resolve(this.claim(state, user));
    }
    return new Promise<Slot>((resolve, reject) => {
      const abandoned = () => {
        if (!this.waiting.remove(flow, waiter)) return;
        state.waiting--;
        clearTimeout(timer);
        reject(signal!.reason as Error);
      };
      const timer = setTimeout(() => {
        if (!this.waiting.remove(flow, waiter)) return;
        signal?.removeEventListener('abort', abandoned);
        state.waiting--;
        const full = this.fullLimit(state, user, shortLived) ?? {
          limit: 'pool',
          size: state.size,
          of: state.size,
        };
        reject(new PoolExhaustedError(full.limit, full.size, full.of));
      }, this.options.acquireTimeoutMs);
      const waiter: Waiter = {
        state,
        user,
        shortLived,
        grant: (slot) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', abandoned);
          state.waiting--;
          resolve(slot);
        },
      };
      this.waiting.enqueue(flow, waiter);
      state.waiting++;
      signal?.addEventListener('abort', abandoned, { once: true });
    });
  }

  /** Takes a slot of `state` for `user` (the limits were checked): an idle connection with it if any. */
  private claim(state: KeyState, user: string | undefined): Slot {
    state.busy++;
    const idle = state.idle.pop() ?? null;
    if (user === undefined) return { idle, releaseUser: () => undefined };
    count(state.users, user, +1);
    count(this.userSlots, user, +1);
    let released = false;
    return {
      idle,
      releaseUser: () => {
        if (released) return;
        released = true;
        count(state.users, user, -1);
        count(this.userSlots, user, -1);
        this.dispatch();
      },
    };
  }

  /** Hands free slots to waiters, the users taking turns. */
  private dispatch(): void {
    this.waiting.dispatch(
      (waiter) => !this.fullLimit(waiter.state, waiter.user, waiter.shortLived),
      (waiter) => waiter.grant(this.claim(waiter.state, waiter.user)),
    );
  }

  /**
   * The limit that keeps `user` from a slot of `state` now, or null. A
   * plain record, not the error: the check runs for every waiter at every
   * freed slot, and an Error captures a stack trace each time (it was 9 % of
   * the gateway's CPU under transaction pooling).
   */
  private fullLimit(
    state: KeyState,
    user: string | undefined,
    shortLived: boolean,
  ): FullLimit | null {
    const { maxPerUserPerKey = 0 } = this.options;
    const budget = this.budget;
    if (user !== undefined) {
      if (maxPerUserPerKey > 0 && (state.users.get(user) ?? 0) >= maxPerUserPerKey) {
        return { limit: 'user-pool', size: maxPerUserPerKey, of: state.size };
      }
      if (budget && (this.userSlots.get(user) ?? 0) >= budget.perUser) {
        return { limit: 'user-budget', size: budget.perUser, of: budget.total };
      }
    }
    if (state.idle.length > 0) return null;
    if (state.busy >= state.size) return { limit: 'pool', size: state.size, of: state.size };
    if (budget) {
      const { busy, idle } = this.stats;
      const limit = shortLived ? budget.total : budget.forSessions;
      if (busy + idle >= limit && !this.closeOldestIdle()) {
        return { limit: 'budget', size: limit, of: budget.total };
      }
    }
    return null;
  }

  /** Makes room in the budget: the connection idle the longest, of any key, is closed. */
  private closeOldestIdle(): boolean {
    let oldest: { state: KeyState; index: number } | null = null;
    for (const state of this.keys.values()) {
      state.idle.forEach((idle, index) => {
        if (!oldest || idle.since < oldest.state.idle[oldest.index]!.since) {
          oldest = { state, index };
        }
      });
    }
    if (!oldest) return false;
    const { state, index } = oldest as { state: KeyState; index: number };
    state.idle.splice(index, 1)[0]!.connection.discard();
    return true;
  }

  private freeSlot(state: KeyState): void {
    state.busy--;
    this.closeIdleOverSize(state);
    this.dispatch();
  }

  private closeIdle(): void {
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const state of this.keys.values()) {
      const keep = state.idle.filter(
        (idle) => idle.since >= cutoff && !idle.connection.socket.destroyed,
      );
      for (const idle of state.idle) if (!keep.includes(idle)) idle.connection.discard();
      state.idle.splice(0, state.idle.length, ...keep);
    }
  }
}

function connectFailure(err: unknown): ConnectFailure {
  if (err instanceof UpstreamConnectError && err.sqlstate === '53300') return 'too_many';
  const message = (err as Error).message ?? '';
  if (/ECONNREFUSED|ENOENT|ECONNRESET/.test(message)) return 'refused';
  if (/^no answer from |ETIMEDOUT/.test(message)) return 'timeout';
  return 'other';
}

/** Worth waiting for: nothing listening yet, or PostgreSQL starting up or recovering. */
function isTransient(err: unknown): boolean {
  if (!(err instanceof UpstreamConnectError)) return false;
  return (
    err.sqlstate === '57P03' ||
    // ENOENT: the Unix-domain socket is not there yet.
    (err.sqlstate === undefined && /ECONNREFUSED|ENOENT/.test(err.message))
  );
}

/**
 * Repairing the role may help: planted settings, or PostgreSQL itself
 * refused the session (a changed password, a planted setting that fails
 * the startup); not a network failure, a full cluster (53xxx) or one
 * starting up.
 */
function needsRepair(err: unknown): boolean {
  if (err instanceof PlantedSettingsError) return true;
  return (
    err instanceof UpstreamConnectError &&
    err.sqlstate !== undefined &&
    !isTransient(err) &&
    !err.sqlstate.startsWith('53')
  );
}

/**
 * The client's startup settings, applied with set_config over those in
 * place (`current`, undone first with RESET ALL, which keeps the startup
 * packet's fixed settings, as DISCARD ALL does). One round trip, which
 * also proves an idle connection still works; on an error the implicit
 * transaction rolls back and the settings in place stay.
 */
async function applySettings(
  connection: UpstreamConnection,
  base: ReadonlyMap<string, string>,
  settings: Readonly<Record<string, string>>,
  current: Readonly<Record<string, string>>,
): Promise<ReadonlyMap<string, string>> {
  const calls = setConfigCalls(settings);
  const statements = [
    ...(Object.keys(current).length > 0 ? ['RESET ALL'] : []),
    ...(calls.length > 0 ? [`SELECT ${calls.join(', ')}`] : []),
  ];
  const result = await runSimpleQuery(connection, statements.join('; '));
  if (result.error) {
    throw new UpstreamSettingError(result.error.M ?? 'invalid setting', result.error.C);
  }
  const parameters = new Map(base);
  for (const [name, value] of result.parameters) parameters.set(name, value);
  return parameters;
}

/** The same settings, in any order. */
function sameSettings(
  a: Readonly<Record<string, string>>,
  b: Readonly<Record<string, string>>,
): boolean {
  const names = Object.keys(a);
  return (
    names.length === Object.keys(b).length &&
    names.every((name) => Object.hasOwn(b, name) && a[name] === b[name])
  );
}

/** A client's startup setting was refused by PostgreSQL (e.g. an unknown time zone). */
export class UpstreamSettingError extends Error {
  constructor(
    message: string,
    readonly sqlstate: string | undefined,
  ) {
    super(message);
  }
}

function count(counts: Map<string, number>, key: string, delta: number): void {
  const value = (counts.get(key) ?? 0) + delta;
  if (value > 0) counts.set(key, value);
  else counts.delete(key);
}
