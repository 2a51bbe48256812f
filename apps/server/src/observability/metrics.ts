import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HotCounter, HotHistogram } from './hot-path-metrics';

/**
 * Every Prometheus metric of the gateway, on one registry, with a small typed recording API.
 *
 * Labels are bounded: no query text, no user names, no addresses, no session or token ids.
 * The one label taken from data is `database` (`owner/name`), bounded by the number of
 * databases (`POSTERN_MAX_DATABASES_PER_USER` per owner); gauges carrying it are rebuilt at
 * every scrape from the live state, so a deleted database disappears with its sessions.
 */

export type Transport = 'wire' | 'http';
export type LoginMethod = 'password' | 'token';
export type LoginOutcome = 'success' | 'failure' | 'throttled';
export type StatementOutcome = 'ok' | 'error';
export type RelayDirection = 'client_to_upstream' | 'upstream_to_client';
export type GuardrailKind =
  | 'statement_timeout'
  | 'max_result_rows'
  | 'max_result_bytes'
  | 'idle_in_transaction_timeout'
  | 'idle_session_timeout'
  | 'http_max_row_bytes'
  | 'http_result_cap';
export type CancelOutcome = 'forwarded' | 'unmatched' | 'malformed';
export type PoolAcquireOutcome = 'reused' | 'new' | 'exhausted' | 'failed';
/** The role a pooled connection runs as: the reader for read-only, the writer otherwise. */
export type PoolLevel = 'read-only' | 'read-write';
export type UpstreamConnectFailure = 'refused' | 'timeout' | 'too_many' | 'other';

/** What a pool reports of one key (database and role) at a scrape. */
export interface PoolKeyState {
  readonly database: string;
  readonly level: PoolLevel;
  readonly inUse: number;
  readonly idle: number;
  readonly waiting: number;
}

/** What a scrape reads from the live state of the process (set by the metrics collector). */
export interface LiveStateSources {
  /** Connections not yet logged in (UnauthenticatedConnections). */
  unauthenticated(): number;
  /** Established wire sessions. */
  sessions(): Iterable<{
    readonly database: string;
    readonly level: string;
    readonly tlsVersion: string | null;
  }>;
  /** Upstream connections over all pools. */
  upstream(): { readonly busy: number; readonly idle: number };
  /** Per database and role; absent until the pool reports them (a relay-side hook). */
  poolKeys?(): Iterable<PoolKeyState>;
}

/** Seconds; statements and acquires from a millisecond to a few minutes. */
const DURATION_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];
const CONNECT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class PosternMetrics {
  readonly registry = new Registry();
  private sources: LiveStateSources | null = null;

  private readonly clientConnections = new Gauge({
    name: 'postern_client_connections',
    help: 'Client connections on the wire listener by state (unauthenticated: not logged in yet, TLS not known; authenticated: established sessions) and TLS',
    labelNames: ['state', 'tls'] as const,
    registers: [this.registry],
    collect: () => this.collectConnections(),
  });

  private readonly connectionsAccepted = new Counter({
    name: 'postern_client_connections_accepted_total',
    help: 'Connections the wire listener admitted',
    registers: [this.registry],
  });

  private readonly connectionsRefused = new Counter({
    name: 'postern_client_connections_refused_total',
    help: 'Connections the wire listener refused before reading anything, by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly logins = new Counter({
    name: 'postern_logins_total',
    help: 'Login attempts by transport (wire, http), method (password, token) and outcome (success, failure, throttled)',
    labelNames: ['transport', 'method', 'outcome'] as const,
    registers: [this.registry],
  });

  private readonly sessions = new Gauge({
    name: 'postern_sessions',
    help: 'Established wire sessions per database (owner/name) and access level',
    labelNames: ['database', 'level'] as const,
    registers: [this.registry],
    collect: () => this.collectSessions(),
  });

  // The relay's hot path: each label set resolved once into a cell (hot-path-metrics.ts).
  private readonly statements = new HotCounter(
    'postern_statements_total',
    'Statements by transport and outcome (wire: recorded by the relay; http: each statement of a query request)',
    this.registry,
  );
  private readonly statementDuration = new HotHistogram(
    'postern_statement_duration_seconds',
    'Duration of statements (wire: from the message that starts one to its ReadyForQuery, recorded by the relay; http: one query request, a transaction counting once)',
    DURATION_BUCKETS,
    this.registry,
  );
  private readonly relayedBytes = new HotCounter(
    'postern_relayed_bytes_total',
    'Protocol bytes relayed by transport and direction (client_to_upstream, upstream_to_client)',
    this.registry,
  );
  private readonly relayedRows = new HotCounter(
    'postern_relayed_rows_total',
    'Rows relayed by transport and direction (upstream_to_client: DataRow and COPY OUT data; client_to_upstream: COPY IN data)',
    this.registry,
  );
  private readonly statementCells = byTransport((transport) => ({
    ok: this.statements.cell({ transport, outcome: 'ok' }),
    error: this.statements.cell({ transport, outcome: 'error' }),
  }));
  private readonly durationCells = byTransport((transport) =>
    this.statementDuration.cell({ transport }),
  );
  private readonly relayCells = byTransport((transport) => {
    const cells = (direction: RelayDirection) => ({
      bytes: this.relayedBytes.cell({ transport, direction }),
      rows: this.relayedRows.cell({ transport, direction }),
    });
    return {
      client_to_upstream: cells('client_to_upstream'),
      upstream_to_client: cells('upstream_to_client'),
    };
  });

  private readonly guardrails = new Counter({
    name: 'postern_guardrail_hits_total',
    help: 'Guardrails that stopped a statement or a session, by transport and kind',
    labelNames: ['transport', 'kind'] as const,
    registers: [this.registry],
  });

  private readonly poolConnections = new Gauge({
    name: 'postern_pool_connections',
    help: 'Pooled upstream connections per database (owner/name), level (the role: read-only or read-write) and state (in_use, idle)',
    labelNames: ['database', 'level', 'state'] as const,
    registers: [this.registry],
    collect: () => this.collectPoolKeys(),
  });

  private readonly poolWaiting = new Gauge({
    name: 'postern_pool_waiting',
    help: 'Acquires waiting for a pooled upstream connection per database and level',
    labelNames: ['database', 'level'] as const,
    registers: [this.registry],
  });

  private readonly poolAcquireDuration = new Histogram({
    name: 'postern_pool_acquire_duration_seconds',
    help: 'Time to get an upstream connection from the pool, per database, level and outcome (reused, new, exhausted, failed)',
    labelNames: ['database', 'level', 'outcome'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  private readonly upstreamConnections = new Gauge({
    name: 'postern_upstream_connections',
    help: 'Upstream connections over all pools by state (busy, idle)',
    labelNames: ['state'] as const,
    registers: [this.registry],
    collect: () => this.collectUpstream(),
  });

  private readonly upstreamConnectDuration = new Histogram({
    name: 'postern_upstream_connect_duration_seconds',
    help: 'Time to open and log in a new upstream connection (startup, SCRAM, session check), by outcome (ok, failed)',
    labelNames: ['outcome'] as const,
    buckets: CONNECT_BUCKETS,
    registers: [this.registry],
  });

  private readonly upstreamConnectFailures = new Counter({
    name: 'postern_upstream_connect_failures_total',
    help: 'New upstream connections that failed, by reason (refused, timeout, too_many, other)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  private readonly cancels = new Counter({
    name: 'postern_cancel_requests_total',
    help: 'CancelRequests received by outcome (forwarded: matched a session; unmatched; malformed)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  private readonly auditDropped = new Counter({
    name: 'postern_audit_dropped_total',
    help: 'Audit events dropped because the write queue was full (the control plane was not keeping up)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  private readonly httpRequests = new Counter({
    name: 'postern_http_requests_total',
    help: 'HTTP requests by method, route (the route template, or "unmatched") and status code',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  private readonly httpDuration = new Histogram({
    name: 'postern_http_request_duration_seconds',
    help: 'HTTP request duration by method and route, to the last byte of the answer',
    labelNames: ['method', 'route'] as const,
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  constructor(options: { processMetrics?: boolean } = {}) {
    // Process metrics (CPU, memory, event loop lag, handles, GC) under the same prefix.
    if (options.processMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: 'postern_' });
    }
    // Counters show 0 before their first event, so rate() works from the first scrape.
    this.auditDropped.inc({ kind: 'wire.query' }, 0);
    for (const transport of ['wire', 'http'] as const) {
      for (const method of ['password', 'token'] as const) {
        for (const outcome of ['success', 'failure', 'throttled'] as const) {
          this.logins.inc({ transport, method, outcome }, 0);
        }
      }
    }
  }

  /** Where gauges read the live state from at each scrape. */
  setSources(sources: LiveStateSources): void {
    this.sources = sources;
  }

  /** The exposition text (`GET /metrics`). */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  // ---- wired in this module (wire listener, audit events, HTTP middleware) ----

  connectionAccepted(): void {
    this.connectionsAccepted.inc();
  }

  connectionRefused(reason: 'unauthenticated_limit'): void {
    this.connectionsRefused.inc({ reason });
  }

  login(transport: Transport, method: LoginMethod, outcome: LoginOutcome): void {
    this.logins.inc({ transport, method, outcome });
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  // ---- recorded by the relay, the pool, the upstream connector and the cancel registry ----

  /** `count` statements that ended with `outcome`. */
  statementsRun(transport: Transport, outcome: StatementOutcome, count = 1): void {
    this.statementCells[transport][outcome].value += count;
  }

  /** One statement's duration (wire) or one query request's (http). */
  statement(transport: Transport, seconds: number): void {
    this.durationCells[transport].observe(seconds);
  }

  relayed(transport: Transport, direction: RelayDirection, bytes: number, rows = 0): void {
    const cells = this.relayCells[transport][direction];
    cells.bytes.value += bytes;
    cells.rows.value += rows;
  }

  guardrail(transport: Transport, kind: GuardrailKind): void {
    this.guardrails.inc({ transport, kind });
  }

  cancel(outcome: CancelOutcome): void {
    this.cancels.inc({ outcome });
  }

  poolAcquire(
    database: string,
    level: PoolLevel,
    seconds: number,
    outcome: PoolAcquireOutcome,
  ): void {
    this.poolAcquireDuration.observe({ database, level, outcome }, seconds);
  }

  upstreamConnect(seconds: number, failure: UpstreamConnectFailure | null): void {
    this.upstreamConnectDuration.observe({ outcome: failure ? 'failed' : 'ok' }, seconds);
    if (failure) this.upstreamConnectFailures.inc({ reason: failure });
  }

  /** An audit event the full queue could not take. */
  auditEventDropped(kind: 'wire.query'): void {
    this.auditDropped.inc({ kind });
  }

  // ---- scrape-time gauges ----

  private collectConnections(): void {
    this.clientConnections.reset();
    if (!this.sources) return;
    this.clientConnections.set(
      { state: 'unauthenticated', tls: 'unknown' },
      this.sources.unauthenticated(),
    );
    const established = { yes: 0, no: 0 };
    for (const session of this.sources.sessions()) established[session.tlsVersion ? 'yes' : 'no']++;
    for (const tls of ['yes', 'no'] as const) {
      this.clientConnections.set({ state: 'authenticated', tls }, established[tls]);
    }
  }

  private collectSessions(): void {
    this.sessions.reset();
    if (!this.sources) return;
    // Per database, then level: no key built per session (a scrape runs every 10 s over all).
    const counts = new Map<string, Map<string, number>>();
    for (const { database, level } of this.sources.sessions()) {
      let levels = counts.get(database);
      if (!levels) counts.set(database, (levels = new Map()));
      levels.set(level, (levels.get(level) ?? 0) + 1);
    }
    for (const [database, levels] of counts) {
      for (const [level, count] of levels) this.sessions.set({ database, level }, count);
    }
  }

  private collectUpstream(): void {
    if (!this.sources) return;
    const { busy, idle } = this.sources.upstream();
    this.upstreamConnections.set({ state: 'busy' }, busy);
    this.upstreamConnections.set({ state: 'idle' }, idle);
  }

  private collectPoolKeys(): void {
    this.poolConnections.reset();
    this.poolWaiting.reset();
    const keys = this.sources?.poolKeys?.();
    if (!keys) return;
    for (const key of keys) {
      const { database, level } = key;
      this.poolConnections.set({ database, level, state: 'in_use' }, key.inUse);
      this.poolConnections.set({ database, level, state: 'idle' }, key.idle);
      this.poolWaiting.set({ database, level }, key.waiting);
    }
  }
}

function byTransport<T>(make: (transport: Transport) => T): Record<Transport, T> {
  return { wire: make('wire'), http: make('http') };
}
