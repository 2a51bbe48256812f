import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ChannelBinding } from '#auth';
import type { ServedCredentials } from '#tls';
import {
  acquireTenantConnection,
  ConnectionClosedError,
  type FramedSocket,
  gatewayProcessId,
  guardrailsFor,
  LazySessionUpstream,
  type AssignOutcome,
  PooledUpstream,
  sessionSettings,
  tenantLoginParameters,
  tenantTransactionLeases,
  UpstreamUnavailableError,
  type ClusterEndpoint,
  type Lease,
  type LogSink,
  type RelayUpstream,
  type TenantConnectionRequest,
} from '#engine';
import {
  backendKeyData,
  errorResponse,
  parameterStatus,
  PgError,
  PgErrors,
  readyForQuery,
  SqlState,
  type SqlStateCode,
} from '#wire';
import type { DatabaseRecord } from '#control';
import type { PosternConfig } from '../../config/config';
import type { DatabaseAccess, DatabaseAccessService } from '../../identity/database-access.service';
import type { LiveSessionInfo, LiveSessions } from '../../sessions/live-sessions.service';
import type { PoolService } from '../../engine/pool.service';
import type { PosternMetrics } from '../../observability/metrics';
import { acquireFailure, timedAcquire } from '../../observability/pool-acquire';
import { logSessionEnd, type SessionEnding } from '../../observability/session-end';
import type { TlsService } from '../tls.service';
import type { StatementAuditService } from '../../audit/statement-audit.service';
import type { Cancellable, CancelRegistry } from './cancel-registry';
import { CancelledFirstStatement } from './cancelled-first-statement';
import { AwaitingFirstUse, WatchedWhileAssigning } from './first-use';
import type {
  AuthenticatedLogin,
  LoginAttempt,
  LoginService,
  WireLoginFailure,
} from './login.service';
import type { RelayLimits } from './relay-limits';
import { SessionRelay, type RelayHooks, type RelayObserver } from './session-relay';
import { upstreamParameters } from './startup-parameters';
import { negotiateStartup, TlsHandshakeError, type StartupResult } from './startup-phase';

export interface SessionDependencies {
  readonly config: PosternConfig;
  readonly tls: TlsService;
  readonly logins: LoginService;
  readonly access: DatabaseAccessService;
  readonly cancels: CancelRegistry;
  readonly sessions: LiveSessions;
  readonly pool: PoolService;
  readonly endpoint: () => ClusterEndpoint;
  readonly log: LogSink;
  readonly metrics: PosternMetrics;
  readonly statementAudit: StatementAuditService;
}

/**
 * The upstream side of a session: a pooled connection for its whole life
 * (session pooling, taken at login or at first use), or a PooledUpstream
 * that holds one per transaction (transaction pooling), which looks the
 * same to the relay.
 */
type SessionUpstream = SessionUpstreamParts &
  (
    | { readonly kind: 'relayed'; readonly relayed: RelayUpstream }
    /** The relay starts on the lease's connection once the client first sends something. */
    | { readonly kind: 'first-use'; readonly lazy: LazySessionUpstream }
  );

interface SessionUpstreamParts {
  /** What a cancel with the client's key reaches, under the pid the client is told. */
  readonly cancellable: Cancellable;
  /** What the client is told at login (ParameterStatus). */
  readonly parameters: ReadonlyMap<string, string>;
  /** For the session's log line ('' for nothing to say). */
  readonly pooling: string;
  /** LiveSessions ends the session: the backend pid to terminate, or null (see SessionControl). */
  retire(): number | null;
  /** The relay ended: the connection goes back (or was discarded by the relay). */
  release(): void;
}

/** Statements a transaction-pooled client may keep prepared, and one upstream connection. */
const MAX_CLIENT_STATEMENTS = 1000;
const MAX_CONNECTION_STATEMENTS = 200;

/**
 * Where a session is after login: `starting` (a failure is the client's
 * FATAL); session pooling at first use `awaiting-first-use` (logged in, no
 * connection) then `assigning` (waiting for the pool: `abandon` ends it
 * from the gateway's side); `relaying`; `ended` (before a relay ran).
 */
type SessionStage =
  | { readonly kind: 'starting' }
  | { readonly kind: 'awaiting-first-use'; readonly waiting: AwaitingFirstUse }
  | { readonly kind: 'assigning'; readonly abandon: (error: PgError) => void }
  | { readonly kind: 'relaying'; readonly relay: SessionRelay }
  | { readonly kind: 'ended' };

/** A session assigned at first use that holds no connection yet, and what its relay will need. */
interface UnassignedSession {
  readonly lazy: LazySessionUpstream;
  readonly limits: RelayLimits;
  readonly hooks: RelayHooks;
  readonly endUnassigned: (ending: SessionEnding, sqlstate: string | null) => void;
}

/** What a session did, for its end line (the relay's summary, or none before assignment). */
interface SessionOutcome {
  readonly statements: number;
  readonly bytesFromClient: number;
  readonly bytesToClient: number;
  readonly rows: number;
  readonly ending: SessionEnding;
  readonly sqlstate: string | null;
}

/** A session that ended before it took an upstream connection. */
function unassignedOutcome(ending: SessionEnding, sqlstate: string | null): SessionOutcome {
  return { statements: 0, bytesFromClient: 0, bytesToClient: 0, rows: 0, ending, sqlstate };
}

/**
 * One client connection from accept to close: startup, authentication,
 * authorisation, an upstream connection from the pool, then the relay.
 * Every failure a client caused ends with an ErrorResponse (or a silent
 * close where PostgreSQL is silent) and never escapes as an exception.
 */
export class ClientSession {
  /** The socket errors go to: the raw one, or the TLS one after the upgrade. */
  private current: Duplex;
  private stage: SessionStage = { kind: 'starting' };

  constructor(
    private readonly socket: Socket,
    private readonly deps: SessionDependencies,
  ) {
    this.current = socket;
    socket.setNoDelay(true);
    // Detects clients that vanished without a FIN (FAULT-03d).
    socket.setKeepAlive(true, 60_000);
  }

  async run(): Promise<void> {
    // Like authentication_timeout: the whole startup, TLS handshake included,
    // has one budget from accept; expiry closes without a message (PROTO-05).
    const deadline = setTimeout(() => this.socket.destroy(), this.deps.config.authTimeoutMs);
    try {
      await this.establish(deadline);
    } catch (err) {
      this.fail(err);
    } finally {
      clearTimeout(deadline);
    }
  }

  /** Ends the session from the gateway's side, now. */
  terminate(): void {
    this.current.destroy();
    this.socket.destroy();
  }

  /** Gateway shutdown: a FATAL 57P01 now if idle, else nothing (the upstream ends it). */
  endIfIdle(): boolean {
    const stage = this.stage;
    if (stage.kind === 'awaiting-first-use') {
      stage.waiting.endWith(PgErrors.adminShutdown());
      return true;
    }
    if (stage.kind !== 'relaying' || !stage.relay.isIdle()) return false;
    stage.relay.endWith(PgErrors.adminShutdown());
    return true;
  }

  /** Holding no backend to terminate, the session ends itself, as PostgreSQL would. */
  private endHoldingNoBackend(): void {
    const stage = this.stage;
    const error = PgErrors.adminShutdown();
    if (stage.kind === 'relaying') stage.relay.endWith(error);
    else if (stage.kind === 'awaiting-first-use') stage.waiting.endWith(error);
    else if (stage.kind === 'assigning') stage.abandon(error);
  }

  private async establish(deadline: NodeJS.Timeout): Promise<void> {
    const { config, tls, logins, access, cancels } = this.deps;
    const served = tls.certificates?.served ?? null;
    const startup = await negotiateStartup(this.socket, {
      tlsMode: config.tls,
      secureContext: served?.secureContext ?? null,
      secured: (secure) => (this.current = secure),
    });
    // Nothing is ever written to a cancel connection, whatever came (HARD-14).
    if (startup.kind === 'cancel') {
      const matched = cancels.cancel(startup.processId, startup.secretKey);
      this.deps.metrics.cancel(matched ? 'forwarded' : 'unmatched');
      this.terminate();
      return;
    }
    if (startup.kind === 'malformed-cancel') {
      this.deps.metrics.cancel('malformed');
      this.deps.log.debug(`cancel request ignored: ${startup.reason}`);
      this.terminate();
      return;
    }
    if (startup.kind === 'direct-tls-without-alpn') {
      startup.socket.destroy();
      return;
    }
    if (startup.tls) this.current = startup.tls.socket;
    const username = startup.params.get('user')!;
    const databaseName = startup.params.get('database') || username;
    const settings = upstreamParameters(startup.params);
    const sourceAddress = this.socket.remoteAddress ?? 'unknown';

    const attempt: LoginAttempt = {
      username,
      databaseReference: databaseName,
      sourceAddress,
      overTls: startup.tls !== null,
      channelBinding: startup.tls && served ? channelBindingOf(served) : null,
    };
    const login = await logins.authenticate(startup.framed, attempt);
    try {
      const granted = await access.resolve(
        { id: login.userId, slug: login.slug },
        databaseName,
        login.token,
      );
      if (!granted) throw PgErrors.databaseNotFound(databaseName);
      const releaseReservation = this.checkConnectionLimits(login, granted);
      try {
        const upstream = await this.whileClientStays(startup.framed, (signal) =>
          this.upstreamFor(granted, settings, login, signal),
        );
        clearTimeout(deadline);
        this.startSession(startup, attempt, login, granted, upstream, settings);
      } finally {
        // The session is registered by now (or the login failed): the reservation has served.
        releaseReservation();
      }
    } catch (err) {
      // The secret was right, the session did not start: a failure, with why (for the admin only).
      const sqlstate = err instanceof PgError ? err.sqlstate : null;
      logins.recordFailure(
        attempt,
        login.method,
        login.userId,
        login.token?.id ?? null,
        setupFailure(sqlstate),
        sqlstate,
      );
      throw err;
    }
  }

  /**
   * Runs `wait` (a login waiting for the pool) watching its client: one
   * that leaves gives up the wait at once (`signal`), so that it holds no
   * place in the pool's queue (POOL-WAIT-01). The client, which sends
   * nothing before ReadyForQuery, is read meanwhile so that its EOF shows;
   * what it pipelines stays with `framed` for the session.
   */
  private async whileClientStays<T>(
    framed: FramedSocket,
    wait: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const giveUp = new AbortController();
    const gone = () => giveUp.abort(new ConnectionClosedError());
    const client = this.current;
    for (const event of ['end', 'close', 'error']) client.on(event, gone);
    if (client.destroyed) gone();
    framed.resumeIdle();
    try {
      return await wait(giveUp.signal);
    } finally {
      for (const event of ['end', 'close', 'error']) client.off(event, gone);
      client.pause();
    }
  }

  /**
   * Reserves a place under the connection caps before the first await, so
   * concurrent logins cannot all pass the check (HARD-13). Only
   * authenticated logins count: unauthenticated sockets never use up the
   * caps (FAULT-05d).
   */
  private checkConnectionLimits(
    login: AuthenticatedLogin,
    { database }: DatabaseAccess,
  ): () => void {
    const { config, sessions } = this.deps;
    const reserved = sessions.reserve(login.userId, database.id, {
      total: config.maxConnections,
      perUser: config.maxConnectionsPerUser,
      perDatabase: database.limits.maxConnections ?? 0,
    });
    if ('release' in reserved) return reserved.release;
    switch (reserved.full) {
      case 'total':
        throw PgErrors.tooManyConnections('sorry, too many clients already');
      case 'user':
        throw PgErrors.tooManyConnections(`too many connections for user "${login.slug}"`);
      case 'database':
        throw PgErrors.tooManyConnections(
          `too many connections for database "${database.ownerSlug}/${database.name}"`,
        );
    }
  }

  /**
   * Connections of the database's reader (read-only) or writer role. The
   * pool checks new ones for planted settings and repairs the role when it
   * is refused or tainted (a login sharing it may change its password or
   * settings: PostgreSQL lets a role ALTER itself). Session pooling takes
   * one for the session's life, at login or (`upstreamAssignment:
   * first-use`) when the client first sends something; transaction pooling
   * takes one per transaction, none at login.
   */
  private async upstreamFor(
    granted: DatabaseAccess,
    settings: Record<string, string>,
    login: AuthenticatedLogin,
    signal: AbortSignal,
  ): Promise<SessionUpstream> {
    const { database, level } = granted;
    const request: Omit<TenantConnectionRequest, 'settings' | 'shortLived'> = {
      endpoint: this.deps.endpoint(),
      database,
      readOnly: level === 'read-only',
      databaseName: `${database.ownerSlug}/${database.name}`,
      user: { id: login.userId, slug: login.slug },
      poolSize: database.limits.poolSize,
      poolSizeReadAt: database.limitsReadAt,
    };
    if (database.limits.poolMode === 'transaction') {
      return this.transactionPooled(request, settings);
    }
    if (database.limits.upstreamAssignment === 'first-use') {
      const parameters = await tenantLoginParameters(this.deps.pool, request, this.deps.log).catch(
        (err: unknown) => {
          throw upstreamRefusal(err);
        },
      );
      const lazy = new LazySessionUpstream(
        (signal) => this.sessionLease(request, settings, signal),
        gatewayProcessId(),
      );
      return {
        kind: 'first-use',
        lazy,
        cancellable: lazy,
        parameters: reportedParameters(parameters, settings),
        pooling: 'upstream at first use',
        retire: () => lazy.retire(),
        release: () => lazy.release(),
      };
    }
    const lease = await this.sessionLease(request, settings, signal);
    const { connection } = lease;
    return {
      kind: 'relayed',
      relayed: connection,
      // The backend's own pid (client fidelity), with a key of the gateway's for this session only.
      cancellable: connection,
      parameters: lease.parameters,
      pooling: lease.reused ? 'pooled upstream' : '',
      retire: () => {
        connection.retire();
        return connection.processId;
      },
      release: () => lease.release(),
    };
  }

  /**
   * A connection for a session's life, counted in the pool metrics;
   * refusals as the client's FATAL. `signal`: the wait was given up (not
   * counted: nothing was lent, nothing refused).
   */
  private async sessionLease(
    request: Omit<TenantConnectionRequest, 'settings' | 'shortLived'>,
    settings: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<Lease> {
    const level = request.readOnly ? 'read-only' : 'read-write';
    try {
      return await timedAcquire(
        this.deps.metrics,
        { database: request.databaseName, level },
        () =>
          acquireTenantConnection(
            this.deps.pool,
            { ...request, settings, shortLived: false },
            this.deps.log,
            signal,
          ),
        signal,
      );
    } catch (err) {
      if (signal?.aborted) throw err;
      throw upstreamRefusal(err);
    }
  }

  private async transactionPooled(
    request: Omit<TenantConnectionRequest, 'settings' | 'shortLived'>,
    settings: Record<string, string>,
  ): Promise<SessionUpstream> {
    const { databaseName } = request;
    const role = request.readOnly ? 'read-only' : 'read-write';
    const started = performance.now();
    const leases = await tenantTransactionLeases(this.deps.pool, request, this.deps.log).catch(
      (err: unknown) => {
        const seconds = (performance.now() - started) / 1000;
        this.deps.metrics.poolAcquire(databaseName, role, seconds, acquireFailure(err));
        throw upstreamRefusal(err);
      },
    );
    const pooled = new PooledUpstream({
      acquire: async (signal) => {
        const asked = performance.now();
        try {
          const lease = await leases.acquire(signal);
          this.deps.metrics.poolAcquire(databaseName, role, lease.waitedMs / 1000, 'reused');
          return lease;
        } catch (err) {
          if (signal.aborted) throw err; // the session ended: nothing lent, nothing refused
          const seconds = (performance.now() - asked) / 1000;
          this.deps.metrics.poolAcquire(databaseName, role, seconds, acquireFailure(err));
          throw err;
        }
      },
      settings: sessionSettings(settings),
      maxClientStatements: MAX_CLIENT_STATEMENTS,
      maxConnectionStatements: MAX_CONNECTION_STATEMENTS,
      processId: gatewayProcessId(),
    });
    return {
      kind: 'relayed',
      relayed: pooled,
      cancellable: pooled,
      parameters: reportedParameters(leases.parameters, settings),
      pooling: 'transaction pooling',
      retire: () => pooled.retire(),
      release: () => pooled.end(true),
    };
  }

  private startSession(
    startup: StartupResult,
    attempt: LoginAttempt,
    login: AuthenticatedLogin,
    { database, level }: DatabaseAccess,
    upstream: SessionUpstream,
    settings: Record<string, string>,
  ): void {
    const sourceAddress = attempt.sourceAddress;
    const { framed } = startup;
    // Session pooling from login: the backend's own pid (client fidelity); else a
    // pid of the gateway's. Either with a key of the gateway's for this session only.
    const key = this.deps.cancels.register(upstream.cancellable);
    for (const [name, value] of upstream.parameters) framed.write(parameterStatus(name, value));
    framed.write(backendKeyData(key.processId, key.secretKey));
    framed.write(readyForQuery('I'));

    const info: LiveSessionInfo = {
      id: key.processId,
      userId: login.userId,
      user: login.slug,
      databaseId: database.id,
      database: `${database.ownerSlug}/${database.name}`,
      level,
      tokenId: login.token?.id ?? null,
      clientAddress: sourceAddress,
      applicationName: settings.application_name ?? '',
      tlsVersion: startup.tls?.socket.getProtocol() ?? null,
      authMethod: login.method,
      startedAt: new Date(),
    };
    const unregister = this.deps.sessions.add(info, {
      close: () => this.terminate(),
      retire: () => {
        const pid = upstream.retire();
        if (pid === null) this.endHoldingNoBackend();
        return pid;
      },
    });
    const expiry = this.endAtTokenExpiry(info, login.token?.expiresAt ?? null);
    this.deps.logins.recordSuccess(attempt, login, {
      id: info.id,
      databaseId: info.databaseId,
      database: info.database,
      level,
    });
    const audit = this.deps.statementAudit.follow({
      sessionId: info.id,
      user: info.user,
      userId: info.userId,
      tokenId: info.tokenId,
      authMethod: info.authMethod,
      databaseId: info.databaseId,
      database: info.database,
      level,
      clientAddress: info.clientAddress,
      applicationName: info.applicationName,
    });
    const ended = (outcome: SessionOutcome) => {
      key.release();
      unregister();
      logSessionEnd({
        sessionId: info.id,
        user: info.user,
        database: info.database,
        level: info.level,
        authMethod: info.authMethod,
        tokenId: info.tokenId,
        clientAddress: info.clientAddress,
        startedAt: info.startedAt,
        endedAt: new Date(),
        ...outcome,
      });
      if (expiry) clearTimeout(expiry);
      // The connection decides: a cancelled one is never handed to anyone else (PgBouncer #717).
      upstream.release();
    };
    const hooks: RelayHooks = {
      statement: (query) =>
        this.deps.sessions.update(info.id, { query, queryStartedAt: new Date() }),
      state: (state) => this.deps.sessions.update(info.id, { state }),
      observer: this.relayObserver,
      audit: audit ?? undefined,
      ended,
    };
    this.deps.log.info(
      `session ${info.id}: ${info.user} on ${info.database} as ${level} (${login.method}` +
        `${info.tokenId ? `, token ${info.tokenId}` : ''}${info.tlsVersion ? `, ${info.tlsVersion}` : ''}` +
        `${upstream.pooling ? `, ${upstream.pooling}` : ''})`,
    );
    const limits = this.limitsFor(database);
    const pipelined = framed.detach();
    if (upstream.kind === 'relayed') {
      this.startRelay(upstream.relayed, limits, hooks, pipelined);
      return;
    }
    const { lazy } = upstream;
    const endUnassigned = (ending: SessionEnding, sqlstate: string | null) => {
      audit?.end();
      ended(unassignedOutcome(ending, sqlstate));
    };
    this.awaitFirstUse({ lazy, limits, hooks, endUnassigned }, pipelined, null);
  }

  /** The session holds no connection and waits for its client's first statement (after `cancelled`, if any). */
  private awaitFirstUse(
    session: UnassignedSession,
    pipelined: Buffer,
    cancelled: CancelledFirstStatement | null,
  ): void {
    const waiting = new AwaitingFirstUse(this.current, session.limits.idleSessionTimeoutMs, {
      firstUse: (bytes) => void this.relayAtFirstUse(session, bytes),
      ended: session.endUnassigned,
      idleTimeout: () => this.deps.metrics.guardrail('wire', 'idle_session_timeout'),
    });
    this.stage = { kind: 'awaiting-first-use', waiting };
    waiting.start(pipelined, cancelled);
  }

  private startRelay(
    upstream: RelayUpstream,
    limits: RelayLimits,
    hooks: RelayHooks,
    pipelined: Buffer,
  ): void {
    const relay = new SessionRelay(this.current, upstream, limits, hooks);
    this.stage = { kind: 'relaying', relay };
    relay.start(pipelined);
  }

  /**
   * The client of a session assigned at first use sent its first bytes:
   * the session takes its connection (waiting in turn, as a login would)
   * and relays from then on as a session pooled from login, its own
   * notifications given the pid its client was told. No connection within
   * the pool's timeout ends the session with the FATAL a login would have
   * got (53300 naming the full limit): PostgreSQL has no way to refuse a
   * connection later but to end it, and the client may be mid-pipeline.
   * Meanwhile the client is read: its leaving gives up the wait at once,
   * and a cancel fails the waiting statement with 57014 (LAZY-14), the
   * session staying unassigned.
   */
  private async relayAtFirstUse(session: UnassignedSession, bytes: Buffer): Promise<void> {
    const { lazy, limits, hooks, endUnassigned } = session;
    const refuse = (error: PgError, ending: SessionEnding) => {
      this.stage = { kind: 'ended' };
      this.endClientWith(error);
      endUnassigned(ending, error.sqlstate);
    };
    hooks.state?.('active'); // the first statement waits for its connection
    let abandoned = false;
    this.stage = {
      kind: 'assigning',
      abandon: (error) => {
        abandoned = true;
        refuse(error, 'shutdown'); // the wait is given up (the session's release)
      },
    };
    const watched = new WatchedWhileAssigning(this.current, () => lazy.release());
    watched.start();
    let outcome: AssignOutcome;
    try {
      outcome = await lazy.assign();
    } catch (err) {
      watched.stop();
      if (abandoned) return;
      const error = this.clientError(err);
      refuse(error, 'upstream_unavailable');
      return;
    }
    const pipelined = Buffer.concat([bytes, watched.stop()]);
    if (abandoned) return;
    switch (outcome.kind) {
      case 'assigned':
        this.startRelay(
          outcome.lease.connection,
          limits,
          { ...hooks, notification: (frame) => lazy.notification(frame) },
          pipelined,
        );
        return;
      case 'ended': // its client went while it waited
        this.stage = { kind: 'ended' };
        this.current.destroy();
        endUnassigned('client_disconnect', null);
        return;
      case 'cancelled':
        hooks.state?.('idle');
        this.awaitFirstUse(session, pipelined, new CancelledFirstStatement());
        return;
    }
  }

  /** The relay's traffic, counted as wire metrics (a few counter adds per chunk). */
  private get relayObserver(): RelayObserver {
    const { metrics } = this.deps;
    return {
      relayed: (direction, bytes, rows) => metrics.relayed('wire', direction, bytes, rows),
      statementEnded: (seconds, ok) => {
        metrics.statementsRun('wire', ok ? 'ok' : 'error');
        metrics.statement('wire', seconds);
      },
      guardrail: (kind) => metrics.guardrail('wire', kind),
    };
  }

  /** The global guardrails, overridden by the database's own. */
  private limitsFor(database: DatabaseRecord): RelayLimits {
    const { guardrails, maxMessageLength } = this.deps.config;
    // maxConnections is checked at login, not by the relay.
    return { ...guardrailsFor(guardrails, database.limits), maxMessageLength };
  }

  /** A session logged in with a token ends when the token expires. */
  private endAtTokenExpiry(info: LiveSessionInfo, expiresAt: Date | null): NodeJS.Timeout | null {
    if (!expiresAt) return null;
    const delay = Math.min(Math.max(0, expiresAt.getTime() - Date.now()), 2 ** 31 - 1);
    const timer = setTimeout(() => {
      void this.deps.sessions.terminate((s) => s.id === info.id, 'token expired');
    }, delay);
    timer.unref();
    return timer;
  }

  private fail(err: unknown): void {
    if (this.stage.kind !== 'starting') return;
    if (err instanceof ConnectionClosedError) {
      this.terminate();
      return;
    }
    if (err instanceof TlsHandshakeError) {
      // No TLS session to answer through, and plaintext would be garbage to the client.
      this.deps.tls.reportHandshakeFailure(this.socket.remoteAddress ?? 'unknown', err);
      this.terminate();
      return;
    }
    this.endClientWith(this.clientError(err));
  }

  /** What the client is told of a failure (logged: unexpected ones as errors). */
  private clientError(err: unknown): PgError {
    const error =
      err instanceof PgError
        ? err
        : controlPlaneUnavailable(err)
          ? PgErrors.connectionFailure('could not connect to the database server')
          : new PgError(SqlState.InternalError, 'internal error');
    if (!(err instanceof PgError)) this.deps.log.error(`session failed: ${(err as Error).stack}`);
    else this.deps.log.debug(`session refused: ${error.sqlstate} ${error.message}`);
    return error;
  }

  /** The client's last message, then its socket is closed (a second later at most). */
  private endClientWith(error: PgError): void {
    const target = this.current;
    if (!target.destroyed && target.writable) {
      target.end(errorResponse(error));
      setTimeout(() => target.destroy(), 1000).unref();
    } else {
      target.destroy();
    }
  }
}

/** Why an authenticated login got no session, from the error its client gets. */
function setupFailure(sqlstate: string | null): WireLoginFailure {
  switch (sqlstate) {
    case SqlState.InvalidCatalogName:
      return 'no-such-database';
    case SqlState.TooManyConnections:
      return 'connection-limit';
    case SqlState.ConnectionFailure:
      return 'upstream-unavailable';
    default:
      return 'session-setup-failed';
  }
}

/** Which limit refused a connection (pool, per-user share, the cluster: HARD-06), as over HTTP. */
function upstreamRefusal(err: unknown): unknown {
  return err instanceof UpstreamUnavailableError
    ? new PgError(err.sqlstate as SqlStateCode, err.message)
    : err;
}

/**
 * What a transaction-pooled client is told at login: the pool's parameters,
 * with the client's own startup values where it gave one (PostgreSQL would
 * report those after applying them; here they are applied per transaction).
 */
function reportedParameters(
  base: ReadonlyMap<string, string>,
  settings: Readonly<Record<string, string>>,
): ReadonlyMap<string, string> {
  const byLowerName = new Map([...base.keys()].map((name) => [name.toLowerCase(), name]));
  const reported = new Map(base);
  for (const [name, value] of Object.entries(settings)) {
    const reportedName = byLowerName.get(name.toLowerCase());
    if (reportedName) reported.set(reportedName, value);
  }
  return reported;
}

/**
 * The control plane lives on a PostgreSQL too: when it is unreachable or
 * restarting, a login fails like an unreachable upstream (08006), not as an
 * internal error.
 */
function controlPlaneUnavailable(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' &&
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', '57P01', '57P03', '08006'].includes(code)
  );
}

/**
 * tls-server-end-point data of the certificate this very connection was
 * served with (read with its context before the handshake, so a reload
 * between handshake and login cannot mismatch it); null, so PLUS is not
 * offered, for a signature algorithm RFC 5929 does not cover.
 */
function channelBindingOf(served: ServedCredentials): ChannelBinding | null {
  return served.endPoint ? { type: 'tls-server-end-point', data: served.endPoint } : null;
}
