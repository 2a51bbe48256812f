import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { tlsServerEndPointHash, type ChannelBinding } from '#auth';
import {
  ConnectionClosedError,
  PoolExhaustedError,
  repairRoleLogins,
  UpstreamConnectError,
  UpstreamSettingError,
  type ClusterEndpoint,
  type Lease,
  type LogSink,
} from '#engine';
import {
  backendKeyData,
  errorResponse,
  MAX_AUTH_MESSAGE_LENGTH,
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
import type { LiveSessionInfo, LiveSessions } from '../live-sessions.service';
import type { PoolService } from '../../engine/pool.service';
import type { TlsService } from '../tls.service';
import { sendCancelRequest, type CancelRegistry } from './cancel-registry';
import type { AuthenticatedLogin, LoginService } from './login.service';
import type { RelayLimits } from './relay-limits';
import { SessionRelay } from './session-relay';
import { upstreamParameters } from './startup-parameters';
import { negotiateStartup, type StartupResult } from './startup-phase';

/**
 * Fixed per role for every upstream session (startup options outrank
 * settings a tenant role may set on itself): no preloaded libraries, and
 * read-only sessions start read-only before privileges are even consulted.
 */
const WRITER_STARTUP = { local_preload_libraries: '' };
const READER_STARTUP = { ...WRITER_STARTUP, default_transaction_read_only: 'on' };

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
  private relay: SessionRelay | null = null;

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
    if (!this.relay?.isIdle()) return false;
    this.relay.endWith(PgErrors.adminShutdown());
    return true;
  }

  private async establish(deadline: NodeJS.Timeout): Promise<void> {
    const { config, tls, logins, access, cancels } = this.deps;
    const startup = await negotiateStartup(this.socket, {
      tlsMode: config.tls,
      secureContext: tls.certificates?.secureContext ?? null,
      // Only startup and authentication read through this reader (the
      // relay has its own limits); the length field counts itself.
      maxMessageLength: MAX_AUTH_MESSAGE_LENGTH + 4,
    });
    if (startup.kind === 'cancel') {
      cancels.cancel(startup.processId, startup.secretKey, this.socket.remoteAddress ?? '');
      this.socket.destroy();
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

    const login = await logins.authenticate(startup.framed, {
      username,
      databaseReference: databaseName,
      sourceAddress,
      overTls: startup.tls !== null,
      channelBinding: startup.tls ? channelBindingOf(startup.tls.socket) : null,
    });
    const granted = await access.resolve(
      { id: login.userId, slug: login.slug },
      databaseName,
      login.token,
    );
    if (!granted) throw PgErrors.databaseNotFound(databaseName);
    this.checkConnectionLimits(login, granted);
    const lease = await this.acquireUpstream(granted, settings);
    clearTimeout(deadline);
    this.startRelay(startup, login, granted, lease, settings, sourceAddress);
  }

  /** Counted over established sessions: unauthenticated sockets never use up the caps (FAULT-05d). */
  private checkConnectionLimits(login: AuthenticatedLogin, { database }: DatabaseAccess): void {
    const { config, sessions } = this.deps;
    const live = sessions.list();
    if (live.length >= config.maxConnections) {
      throw PgErrors.tooManyConnections('sorry, too many clients already');
    }
    if (live.filter((s) => s.userId === login.userId).length >= config.maxConnectionsPerUser) {
      throw PgErrors.tooManyConnections(`too many connections for user "${login.slug}"`);
    }
    const perDatabase = database.limits.maxConnections;
    if (perDatabase && live.filter((s) => s.databaseId === database.id).length >= perDatabase) {
      throw PgErrors.tooManyConnections(
        `too many connections for database "${database.ownerSlug}/${database.name}"`,
      );
    }
  }

  private async acquireUpstream(
    granted: DatabaseAccess,
    settings: Record<string, string>,
  ): Promise<Lease> {
    const { database, level } = granted;
    const readOnly = level === 'read-only';
    const role = readOnly ? database.reader : database.writer;
    const endpoint = this.deps.endpoint();
    const target = {
      host: endpoint.host,
      port: endpoint.port,
      ssl: endpoint.ssl,
      database: database.physicalName,
      user: role.role,
      password: role.password,
      startupParameters: readOnly ? READER_STARTUP : WRITER_STARTUP,
    };
    try {
      return await this.deps.pool.acquire(target, settings);
    } catch (err) {
      if (!(err instanceof UpstreamConnectError) || err.sqlstate !== SqlState.InvalidPassword) {
        throw this.upstreamFailure(err, `${database.ownerSlug}/${database.name}`);
      }
    }
    // A login sharing this role changed its password or settings (PostgreSQL
    // lets a role ALTER itself): restore them and try once more.
    this.deps.log.warn(`upstream login as ${role.role} refused; repairing the role`);
    try {
      await repairRoleLogins(endpoint, database);
      return await this.deps.pool.acquire(target, settings);
    } catch (err) {
      throw this.upstreamFailure(err, `${database.ownerSlug}/${database.name}`);
    }
  }

  private startRelay(
    startup: StartupResult,
    login: AuthenticatedLogin,
    { database, level }: DatabaseAccess,
    lease: Lease,
    settings: Record<string, string>,
    sourceAddress: string,
  ): void {
    const { framed } = startup;
    const endpoint = this.deps.endpoint();
    const upstreamKey = {
      host: endpoint.host,
      port: endpoint.port,
      processId: lease.session.backendKey.processId,
      secretKey: lease.session.backendKey.secretKey,
    };
    let cancelledByClient = false;
    const key = this.deps.cancels.register(upstreamKey, () => (cancelledByClient = true));
    for (const [name, value] of lease.parameters) framed.write(parameterStatus(name, value));
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
      upstreamProcessId: upstreamKey.processId,
    };
    const unregister = this.deps.sessions.add(info, () => this.terminate());
    const expiry = this.endAtTokenExpiry(info, login.token?.expiresAt ?? null);
    const relay = new SessionRelay(this.current, lease.session.socket, this.limitsFor(database), {
      cancelUpstream: () => sendCancelRequest(upstreamKey),
      statement: (query) =>
        this.deps.sessions.update(info.id, { query, queryStartedAt: new Date() }),
      state: (state) => this.deps.sessions.update(info.id, { state }),
      gatewayPid: (upstreamPid) => this.deps.sessions.byUpstreamPid(upstreamPid)?.id,
      ended: (reusable) => {
        key.release();
        unregister();
        if (expiry) clearTimeout(expiry);
        // A connection a client ever cancelled on is not handed to anyone else (PgBouncer #717).
        lease.release(reusable && !cancelledByClient);
      },
    });
    this.relay = relay;
    this.deps.log.info(
      `session ${info.id}: ${info.user} on ${info.database} as ${level} (${login.method}` +
        `${info.tokenId ? `, token ${info.tokenId}` : ''}${info.tlsVersion ? `, ${info.tlsVersion}` : ''}` +
        `${lease.reused ? ', pooled upstream' : ''})`,
    );
    relay.start(framed.detach());
  }

  /** The global guardrails, overridden by the database's own. */
  private limitsFor(database: DatabaseRecord): RelayLimits {
    const { guardrails, maxMessageLength } = this.deps.config;
    // maxConnections is checked at login, not by the relay.
    const { statementTimeoutMs, idleInTransactionTimeoutMs, idleSessionTimeoutMs } =
      database.limits;
    const { maxResultRows, maxResultBytes } = database.limits;
    return {
      statementTimeoutMs: statementTimeoutMs ?? guardrails.statementTimeoutMs,
      idleInTransactionTimeoutMs:
        idleInTransactionTimeoutMs ?? guardrails.idleInTransactionTimeoutMs,
      idleSessionTimeoutMs: idleSessionTimeoutMs ?? guardrails.idleSessionTimeoutMs,
      maxResultRows: maxResultRows ?? guardrails.maxResultRows,
      maxResultBytes: maxResultBytes ?? guardrails.maxResultBytes,
      maxMessageLength,
    };
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

  private upstreamFailure(err: unknown, database: string): PgError {
    if (err instanceof PoolExhaustedError) {
      return PgErrors.tooManyConnections(`too many connections for database "${database}"`);
    }
    if (err instanceof UpstreamSettingError) {
      // The client's own startup setting, refused by PostgreSQL after login.
      return new PgError((err.sqlstate ?? SqlState.ProtocolViolation) as SqlStateCode, err.message);
    }
    if (!(err instanceof UpstreamConnectError)) return err as PgError;
    this.deps.log.warn(`upstream connection failed: ${err.message}`);
    if (err.sqlstate === SqlState.TooManyConnections) {
      return PgErrors.tooManyConnections(`too many connections for database "${database}"`);
    }
    if (err.sqlstate === SqlState.CannotConnectNow) {
      return new PgError(
        SqlState.CannotConnectNow,
        'the database system is not accepting connections',
      );
    }
    return PgErrors.connectionFailure('could not connect to the database server');
  }

  private fail(err: unknown): void {
    if (this.relay) return;
    if (err instanceof ConnectionClosedError) {
      this.socket.destroy();
      return;
    }
    const error =
      err instanceof PgError
        ? err
        : controlPlaneUnavailable(err)
          ? PgErrors.connectionFailure('could not connect to the database server')
          : new PgError(SqlState.InternalError, 'internal error');
    if (!(err instanceof PgError)) this.deps.log.error(`session failed: ${(err as Error).stack}`);
    else this.deps.log.debug(`session refused: ${error.sqlstate} ${error.message}`);
    const target = this.current;
    if (!target.destroyed && target.writable) {
      target.end(errorResponse(error));
      setTimeout(() => target.destroy(), 1000).unref();
    } else {
      target.destroy();
    }
  }
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
 * served with (a reload between handshake and login cannot mismatch it);
 * null, so PLUS is not offered, for a signature algorithm RFC 5929 does not
 * cover.
 */
function channelBindingOf(socket: TLSSocket): ChannelBinding | null {
  const certificate = socket.getCertificate();
  if (!certificate || !('raw' in certificate)) return null;
  const data = tlsServerEndPointHash(certificate.raw);
  return data ? { type: 'tls-server-end-point', data } : null;
}
