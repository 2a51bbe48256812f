import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import net from 'node:net';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { ClusterService } from '../engine/cluster.service';
import { DatabaseAccessService } from '../identity/database-access.service';
import { errorResponse, PgErrors } from '#wire';
import { logSink, rateLimited } from '../logging';
import { PosternMetrics } from '../observability/metrics';
import { StatementAuditService } from '../audit/statement-audit.service';
import { CancelRegistry } from './session/cancel-registry';
import { ClientSession, type SessionDependencies } from './session/client-session';
import { LiveSessions } from '../sessions/live-sessions.service';
import { PoolService } from '../engine/pool.service';
import { LoginService } from './session/login.service';
import { TlsService } from './tls.service';
import { UnauthenticatedConnections } from './unauthenticated-connections';

/** The PostgreSQL wire listener (POSTERN_HOST:POSTERN_PORT). */
@Injectable()
export class WireServer
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly log = logSink('Wire');
  private readonly server = net.createServer({ pauseOnConnect: true });
  private readonly sessions = new Set<ClientSession>();
  private readonly dependencies: SessionDependencies;
  private readonly unauthenticated: UnauthenticatedConnections;
  private readonly reportRefusal = rateLimited((line) => this.log.warn(line));
  private listening = false;

  constructor(
    @Inject(POSTERN_CONFIG) private readonly config: PosternConfig,
    cluster: ClusterService,
    tls: TlsService,
    logins: LoginService,
    access: DatabaseAccessService,
    private readonly live: LiveSessions,
    pool: PoolService,
    private readonly metrics: PosternMetrics,
    statementAudit: StatementAuditService,
  ) {
    this.dependencies = {
      config,
      tls,
      logins,
      access,
      cancels: new CancelRegistry(),
      sessions: live,
      pool,
      endpoint: () => cluster.endpoint,
      log: this.log,
      metrics,
      statementAudit,
    };
    this.unauthenticated = new UnauthenticatedConnections({
      total: config.maxUnauthenticated,
      perAddress: config.maxUnauthenticatedPerAddress,
    });
    this.server.on('connection', (socket) => this.accept(socket));
    this.server.on('error', (err) => this.log.error(`listener error: ${err.message}`));
  }

  async onApplicationBootstrap(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.config.port, this.config.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.listening = true;
    this.log.info(`PostgreSQL wire listener on ${this.config.host}:${this.port}`);
  }

  /**
   * Graceful shutdown: stop accepting; idle sessions get FATAL 57P01 now;
   * busy ones may finish their work within POSTERN_SHUTDOWN_GRACE (each is
   * ended as soon as it is idle), then PostgreSQL terminates the rest with
   * its own 57P01 at a message boundary.
   */
  async beforeApplicationShutdown(): Promise<void> {
    this.listening = false;
    this.server.close();
    const deadline = Date.now() + this.config.shutdownGraceMs;
    while (this.sessions.size > 0 && Date.now() < deadline) {
      for (const session of this.sessions) session.endIfIdle();
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (this.sessions.size > 0) {
      const ended = await this.live.terminate(() => true, 'shutdown');
      if (ended > 0) await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  onApplicationShutdown(): void {
    for (const session of this.sessions) session.terminate();
  }

  get ready(): boolean {
    return this.listening;
  }

  /** Connections not logged in yet (a metrics gauge). */
  get unauthenticatedCount(): number {
    return this.unauthenticated.count;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  private accept(socket: net.Socket): void {
    // A client's bytes can fail a session, never the process.
    socket.on('error', (err) => this.log.debug(`client socket error: ${err.message}`));
    const address = socket.remoteAddress ?? 'unknown';
    const release = this.unauthenticated.admit(address);
    if (!release) {
      this.metrics.connectionRefused('unauthenticated_limit');
      this.refuse(socket, address);
      return;
    }
    this.metrics.connectionAccepted();
    socket.once('close', release);
    const session = new ClientSession(socket, this.dependencies);
    this.sessions.add(session);
    socket.once('close', () => this.sessions.delete(session));
    session
      .run()
      .catch((err: Error) => this.log.error(`unexpected session error: ${err.stack}`))
      .finally(release);
  }

  /**
   * Over the unauthenticated-connection limits: ErrorResponse 53300 at once, before anything
   * is read (as PostgreSQL answers when it cannot start a backend), so the refusal costs no
   * TLS handshake. A client that sent SSLRequest reads it as an error during the SSL exchange.
   * What the client sends meanwhile is discarded, not buffered.
   */
  private refuse(socket: net.Socket, address: string): void {
    this.reportRefusal(
      `refused a connection from ${address}: too many connections not yet logged in ` +
        `(${this.unauthenticated.count} in total)`,
    );
    socket.on('data', () => undefined);
    socket.resume();
    socket.end(errorResponse(PgErrors.tooManyConnections('sorry, too many clients already')));
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}
