import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tlsServerEndPointHash, type ChannelBinding } from '#auth';
import type { Duplex } from 'node:stream';
import {
  backendKeyData,
  errorResponse,
  parameterStatus,
  PgError,
  PgErrors,
  readyForQuery,
  SqlState,
} from '#wire';
import {
  ConnectionClosedError,
  connectUpstream,
  UpstreamConnectError,
  type ClusterEndpoint,
  type LogSink,
} from '#engine';
import type { PosternConfig } from '../../config/config';
import type { DatabaseAccessService } from '../../identity/database-access.service';
import type { TlsService } from '../tls.service';
import type { CancelRegistry } from './cancel-registry';
import type { LiveSessionInfo, LiveSessions } from '../live-sessions.service';
import type { LoginService } from './login.service';
import { relay } from './relay';
import { upstreamParameters } from './startup-parameters';
import { negotiateStartup } from './startup-phase';

export interface SessionDependencies {
  readonly config: PosternConfig;
  readonly tls: TlsService;
  readonly logins: LoginService;
  readonly access: DatabaseAccessService;
  readonly cancels: CancelRegistry;
  readonly sessions: LiveSessions;
  readonly endpoint: () => ClusterEndpoint;
  readonly log: LogSink;
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

/** Upstream session setup must fit in the same budget as the client's login. */
const UPSTREAM_CONNECT_TIMEOUT_MS = 10_000;

/**
 * One client connection from accept to close: startup, authentication,
 * authorisation, upstream connection, then relay. Every failure a client
 * caused ends with an ErrorResponse (or a silent close where PostgreSQL is
 * silent) and never escapes as an exception.
 */
export class ClientSession {
  /** The socket errors go to: the raw one, or the TLS one after the upgrade. */
  private current: Duplex;
  private relaying = false;

  constructor(
    private readonly socket: Socket,
    private readonly deps: SessionDependencies,
  ) {
    this.current = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 60_000);
  }

  async run(): Promise<void> {
    // Like authentication_timeout: the whole startup, TLS handshake included,
    // has one budget from accept; expiry closes without a message (PROTO-05).
    const deadline = setTimeout(() => this.socket.destroy(), this.deps.config.authTimeoutMs);
    try {
      await this.establish();
    } catch (err) {
      this.fail(err);
    } finally {
      clearTimeout(deadline);
    }
  }

  /** Ends the session from the gateway's side (shutdown). */
  terminate(): void {
    this.current.destroy();
    this.socket.destroy();
  }

  private async establish(): Promise<void> {
    const { config, tls, logins, access, cancels } = this.deps;
    const certificates = tls.certificates;
    const startup = await negotiateStartup(this.socket, {
      tlsMode: config.tls,
      secureContext: certificates?.secureContext ?? null,
      maxMessageLength: config.maxMessageLength,
    });
    if (startup.kind === 'cancel') {
      cancels.cancel(startup.processId, startup.secretKey);
      this.socket.destroy();
      return;
    }
    if (startup.kind === 'direct-tls-without-alpn') {
      startup.socket.destroy();
      return;
    }
    const { framed, params } = startup;
    if (startup.tls) this.current = startup.tls.socket;
    const username = params.get('user')!;
    const databaseName = params.get('database') || username;
    const forwarded = upstreamParameters(params);
    const sourceAddress = this.socket.remoteAddress ?? 'unknown';

    const login = await logins.authenticate(framed, {
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
    const { database, level } = granted;
    const role = level === 'read-only' ? database.reader : database.writer;
    const endpoint = this.deps.endpoint();
    const upstream = await connectUpstream(
      {
        host: endpoint.host,
        port: endpoint.port,
        ssl: endpoint.ssl,
        database: database.physicalName,
        user: role.role,
        password: role.password,
      },
      forwarded,
      UPSTREAM_CONNECT_TIMEOUT_MS,
    ).catch((err: unknown) => {
      throw this.upstreamFailure(err);
    });

    const key = cancels.register({
      host: endpoint.host,
      port: endpoint.port,
      processId: upstream.backendKey.processId,
      secretKey: upstream.backendKey.secretKey,
    });
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
      applicationName: forwarded.application_name ?? '',
      tlsVersion: startup.tls?.socket.getProtocol() ?? null,
      authMethod: login.method,
      startedAt: new Date(),
      upstreamProcessId: upstream.backendKey.processId,
    };
    const unregister = this.deps.sessions.add(info, () => this.terminate());
    const expiry = this.endAtTokenExpiry(info, login.token?.expiresAt ?? null);
    this.deps.log.info(
      `session ${info.id}: ${info.user} on ${info.database} as ${level} (${login.method}` +
        `${info.tokenId ? `, token ${info.tokenId}` : ''}${info.tlsVersion ? `, ${info.tlsVersion}` : ''})`,
    );
    this.relaying = true;
    relay(this.current, framed.detach(), upstream.socket, () => {
      key.release();
      unregister();
      if (expiry) clearTimeout(expiry);
    });
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

  private upstreamFailure(err: unknown): PgError {
    if (!(err instanceof UpstreamConnectError)) return err as PgError;
    this.deps.log.warn(`upstream connection failed: ${err.message}`);
    if (err.sqlstate === SqlState.TooManyConnections) {
      return PgErrors.tooManyConnections('too many connections for this database');
    }
    if (err.sqlstate === SqlState.CannotConnectNow) {
      return new PgError(SqlState.CannotConnectNow, 'the database system is not accepting connections');
    }
    return PgErrors.connectionFailure('could not connect to the database server');
  }

  private fail(err: unknown): void {
    if (this.relaying) return;
    if (err instanceof ConnectionClosedError) {
      this.socket.destroy();
      return;
    }
    const error =
      err instanceof PgError
        ? err
        : new PgError(SqlState.InternalError, 'internal error', { severity: 'FATAL' });
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
