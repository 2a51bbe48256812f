import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { CertificateStore, ensureDevCertificates } from '#tls';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { logSink, rateLimited } from '../logging';

/** The wire listener's certificate: loaded (or generated for dev) at start. */
@Injectable()
export class TlsService implements OnModuleInit, OnModuleDestroy {
  private readonly log = logSink('TLS');
  private store: CertificateStore | undefined;
  private unwatch: (() => void) | undefined;
  private readonly handshakeFailures = rateLimited((line) => this.log.info(line));

  constructor(@Inject(POSTERN_CONFIG) private readonly config: PosternConfig) {}

  async onModuleInit(): Promise<void> {
    if (this.config.tls === 'off') return;
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
    if (err) this.log.warn(`certificate reload failed, keeping the current one: ${err.message}`);
    else this.log.info('certificate reloaded; new connections use it');
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

  /** Null when TLS is off. */
  get certificates(): CertificateStore | null {
    return this.store ?? null;
  }
}
