import { readFile } from 'node:fs/promises';
import type { Server as TlsServer } from 'node:tls';
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CertificateStore, ensureDevCertificates } from '#tls';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { logSink, rateLimited } from '../logging';

/**
 * The certificate of the wire listener (and of the HTTP listener with POSTERN_HTTP_TLS=on):
 * loaded (or generated for dev) at start, reloaded when its files change or on SIGHUP.
 */
@Injectable()
export class TlsService implements OnModuleInit, OnModuleDestroy {
  private readonly log = logSink('TLS');
  private store: CertificateStore | undefined;
  private unwatch: (() => void) | undefined;
  private readonly httpsServers: TlsServer[] = [];
  private readonly handshakeFailures = rateLimited((line) => this.log.info(line));

  constructor(@Inject(POSTERN_CONFIG) private readonly config: PosternConfig) {}

  async onModuleInit(): Promise<void> {
    if (this.config.tls === 'off' && !this.config.httpTls) return;
    if (this.config.tlsDevCertificates) {
      await ensureDevCertificates(this.config.certsDir, (line) => this.log.info(line));
    }
    this.store = await CertificateStore.load(this.config.tlsCertPath, this.config.tlsKeyPath);
    this.unwatch = this.store.watch((err) => this.reported(err));
    process.on('SIGHUP', this.onSighup);
  }

  onModuleDestroy(): void {
    this.unwatch?.();
    process.off('SIGHUP', this.onSighup);
  }

  /** SIGHUP re-reads the certificate files now, as PostgreSQL's reload does. */
  private readonly onSighup = () => {
    this.store?.reload().then(
      (changed) => (changed ? this.reported() : this.log.info('SIGHUP: certificate unchanged')),
      (err: Error) => this.reported(err),
    );
  };

  private reported(err?: Error): void {
    if (err) {
      this.log.warn(`certificate reload failed, keeping the current one: ${err.message}`);
      return;
    }
    this.installOnHttps().then(
      () => this.log.info('certificate reloaded; new connections use it'),
      (failure: Error) => this.log.warn(`certificate reload on HTTPS failed: ${failure.message}`),
    );
  }

  /**
   * Serves the HTTP listener (created by Nest as HTTPS without credentials) with the
   * current certificate, now and after every reload. Called before it listens.
   */
  async serveHttps(server: TlsServer): Promise<void> {
    this.httpsServers.push(server);
    await this.installOnHttps();
  }

  /** A node https server takes PEM text, not a SecureContext: the files are read again. */
  private async installOnHttps(): Promise<void> {
    if (this.httpsServers.length === 0) return;
    const [cert, key] = await Promise.all([
      readFile(this.config.tlsCertPath),
      readFile(this.config.tlsKeyPath),
    ]);
    for (const server of this.httpsServers) {
      server.setSecureContext({ cert, key, minVersion: 'TLSv1.2' });
    }
  }

  /**
   * A client's failed handshake is the client's problem (scanners, wrong CA, plaintext after
   * 'S'): one info line without a stack, rate-limited, as PostgreSQL logs it (HARD-17).
   */
  reportHandshakeFailure(source: string, err: Error): void {
    const cause = err.cause instanceof Error ? err.cause : err;
    const reason = (cause as { reason?: unknown }).reason;
    this.handshakeFailures(
      `TLS handshake failed from ${source}: ${typeof reason === 'string' ? reason : cause.message}`,
    );
  }

  /** The wire's certificates; null when TLS is off on the wire. */
  get certificates(): CertificateStore | null {
    return this.config.tls === 'off' ? null : (this.store ?? null);
  }
}
