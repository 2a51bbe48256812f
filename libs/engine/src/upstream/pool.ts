import { FrameReader } from '#wire';
import { quoteLiteral } from '../provisioning/sql';
import { FramedSocket } from '../net/framed-socket';
import type { LogSink } from '../log';
import {
  connectUpstream,
  UpstreamConnectError,
  type UpstreamSession,
  type UpstreamTarget,
} from './upstream-connect';
import { assertNoPlantedSettings, PlantedSettingsError } from './session-check';
import { resetSession } from './session-reset';
import { runSimpleQuery } from './simple-query';

export interface PoolOptions {
  /** Upstream connections per (cluster, database, role), busy and idle together. */
  readonly maxPerKey: number;
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
}

/** No slot freed up within acquireTimeoutMs (the client gets 53300). */
export class PoolExhaustedError extends Error {}

/** An upstream session lent to one client session. */
export interface Lease {
  readonly session: UpstreamSession;
  /** The upstream's ParameterStatus values, with the client's settings applied. */
  readonly parameters: ReadonlyMap<string, string>;
  readonly reused: boolean;
  /**
   * Gives the connection back. `reusable` only when it is idle, outside a
   * transaction and COPY, with no message half-sent either way; it is then
   * reset (DISCARD ALL) before anyone else gets it. Otherwise it is closed.
   */
  release(reusable: boolean): void;
}

interface Idle {
  readonly session: UpstreamSession;
  readonly parameters: ReadonlyMap<string, string>;
  readonly since: number;
}

interface KeyState {
  busy: number;
  /** Connections being opened or reset count as busy. */
  readonly idle: Idle[];
  readonly waiters: Array<() => void>;
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
  private readonly reaper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: PoolOptions) {
    this.reaper = setInterval(() => this.closeIdle(), Math.min(options.idleTimeoutMs, 10_000));
    this.reaper.unref();
  }

  async acquire(
    target: UpstreamTarget,
    settings: Readonly<Record<string, string>>,
  ): Promise<Lease> {
    const key = `${target.host}:${target.port}/${target.database}/${target.user}`;
    const state = this.stateOf(key);
    await this.takeSlot(state);
    try {
      for (let idle = state.idle.pop(); idle; idle = state.idle.pop()) {
        if (idle.session.socket.destroyed) continue;
        let parameters: ReadonlyMap<string, string>;
        try {
          parameters = await applySettings(idle.session, idle.parameters, settings);
        } catch (err) {
          if (err instanceof UpstreamSettingError) {
            state.idle.push(idle); // the connection is fine; the client's setting is not
            throw err;
          }
          idle.session.socket.destroy(); // died while idle: try the next one
          continue;
        }
        return this.lease(key, state, idle.session, parameters, true);
      }
      const session = await this.connect(target);
      try {
        const parameters = await applySettings(session, session.parameters, settings);
        return this.lease(key, state, session, parameters, false);
      } catch (err) {
        if (err instanceof UpstreamSettingError) {
          state.idle.push({ session, parameters: session.parameters, since: Date.now() });
        } else {
          session.socket.destroy();
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
  private async connect(target: UpstreamTarget): Promise<UpstreamSession> {
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

  private async connectChecked(target: UpstreamTarget): Promise<UpstreamSession> {
    const session = await this.connectWithRetry(target);
    try {
      await assertNoPlantedSettings(session, target.provisionedSettings ?? []);
    } catch (err) {
      session.socket.destroy();
      throw err;
    }
    return session;
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
  private async connectWithRetry(target: UpstreamTarget): Promise<UpstreamSession> {
    const deadline = Date.now() + this.options.connectRetryMs;
    for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
      try {
        return await connectUpstream(target, this.options.connectTimeoutMs);
      } catch (err) {
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
      for (const idle of state.idle.splice(0)) idle.session.socket.destroy();
    }
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
    session: UpstreamSession,
    parameters: ReadonlyMap<string, string>,
    reused: boolean,
  ): Lease {
    let released = false;
    return {
      session,
      parameters,
      reused,
      release: (reusable) => {
        if (released) return;
        released = true;
        if (!reusable || this.closed || session.socket.destroyed) {
          session.socket.destroy();
          this.freeSlot(state);
          return;
        }
        void this.reset(session).then(
          (neutral) => {
            if (neutral && !this.closed) {
              state.idle.push({ session, parameters: neutral, since: Date.now() });
            } else {
              session.socket.destroy();
            }
            this.freeSlot(state);
          },
          () => {
            session.socket.destroy();
            this.freeSlot(state);
          },
        );
        this.options.log.debug(`upstream connection to ${key} returned`);
      },
    };
  }

  /**
   * DISCARD ALL and a fresh random seed (resetSession); null when the
   * connection is not cleanly idle afterwards or would show something of
   * the previous session.
   */
  private async reset(session: UpstreamSession): Promise<ReadonlyMap<string, string> | null> {
    const framed = frame(session);
    try {
      const result = await resetSession(framed);
      if (!result.clean) return null;
      const parameters = new Map(session.parameters);
      for (const [name, value] of result.parameters) parameters.set(name, value);
      return parameters;
    } finally {
      framed.detach();
    }
  }

  private stateOf(key: string): KeyState {
    let state = this.keys.get(key);
    if (!state) {
      state = { busy: 0, idle: [], waiters: [] };
      this.keys.set(key, state);
    }
    return state;
  }

  /**
   * A slot is a busy connection (lent, being opened or being reset); busy
   * plus idle stays within maxPerKey. Taking an idle one needs no new slot.
   */
  private async takeSlot(state: KeyState): Promise<void> {
    const deadline = Date.now() + this.options.acquireTimeoutMs;
    while (state.idle.length === 0 && state.busy >= this.options.maxPerKey) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new PoolExhaustedError('no upstream connection available');
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          state.waiters.splice(state.waiters.indexOf(wake), 1);
          resolve();
        }, remaining);
        state.waiters.push(wake);
      });
    }
    state.busy++;
  }

  private freeSlot(state: KeyState): void {
    state.busy--;
    state.waiters.shift()?.();
  }

  private closeIdle(): void {
    const cutoff = Date.now() - this.options.idleTimeoutMs;
    for (const state of this.keys.values()) {
      const keep = state.idle.filter(
        (idle) => idle.since >= cutoff && !idle.session.socket.destroyed,
      );
      for (const idle of state.idle) if (!keep.includes(idle)) idle.session.socket.destroy();
      state.idle.splice(0, state.idle.length, ...keep);
    }
  }
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

function frame(session: UpstreamSession): FramedSocket {
  return new FramedSocket(session.socket, new FrameReader({ maxMessageLength: 1 << 30 }));
}

/**
 * The client's startup settings, applied with set_config (the same raw
 * string semantics as a startup packet, e.g. for search_path lists). One
 * round trip, which also proves an idle connection still works.
 */
async function applySettings(
  session: UpstreamSession,
  base: ReadonlyMap<string, string>,
  settings: Readonly<Record<string, string>>,
): Promise<ReadonlyMap<string, string>> {
  const entries = Object.entries(settings);
  const calls = entries.map(
    ([name, value]) =>
      `pg_catalog.set_config(${quoteLiteral(name)}, ${quoteLiteral(value)}, false)`,
  );
  const framed = frame(session);
  try {
    const result = await runSimpleQuery(framed, calls.length ? `SELECT ${calls.join(', ')}` : '');
    if (result.error) {
      throw new UpstreamSettingError(result.error.M ?? 'invalid setting', result.error.C);
    }
    const parameters = new Map(base);
    for (const [name, value] of result.parameters) parameters.set(name, value);
    return parameters;
  } finally {
    framed.detach();
  }
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
