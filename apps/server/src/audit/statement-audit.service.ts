import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { StatementSession, type AuditEventInput, type StatementSessionInput } from '#control';
import type { PosternConfig } from '../config/config';
import { POSTERN_CONFIG } from '../config/config.module';
import { ClusterService } from '../engine/cluster.service';
import { logSink, rateLimited } from '../logging';
import { PosternMetrics } from '../observability/metrics';
import { StatementAudit, type AuditedStatement } from '../wire/session/statement-audit';
import { LiteralRedactor, REDACTED } from './literal-redaction';

/** Who ran a session's statements, for each `wire.query` event. */
export interface StatementContext {
  readonly sessionId: number;
  readonly user: string;
  readonly userId: string;
  readonly tokenId: string | null;
  readonly authMethod: string;
  readonly databaseId: string;
  readonly database: string;
  readonly level: string;
  readonly clientAddress: string;
  readonly applicationName: string;
}

/** The kinds whose `detail.statement` holds SQL text (redacted when asked). */
const STATEMENT_KINDS = new Set(['wire.query', 'http.query']);

/**
 * The audit log's operations side: per-statement events of wire sessions
 * (`wire.query`, queued for the statement log without waiting, dropped and
 * counted when its queue is full), literal redaction of recorded statements as their batch is written,
 * and the retention sweep (`POSTERN_AUDIT_RETENTION`).
 */
@Injectable()
export class StatementAuditService implements OnModuleInit, OnModuleDestroy {
  private readonly log = logSink('Audit');
  private redactor: LiteralRedactor | null = null;
  private redactorLoading: Promise<void> | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  /** One line a minute at most: a stalled control plane would otherwise flood the log. */
  private readonly warnDropped = rateLimited((line) => this.log.warn(line), 1);
  private readonly warnWriteFailed = rateLimited((line) => this.log.warn(line), 1);

  constructor(
    @Inject(POSTERN_CONFIG) private readonly config: PosternConfig,
    private readonly cluster: ClusterService,
    private readonly metrics: PosternMetrics,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.audit.redactLiterals) await this.loadRedactor();
    const { audit } = this.cluster.control;
    audit.transformBeforeWrite((event) => this.redacted(event));
    audit.statements.redactBeforeWrite((text) => this.redactedText(text));
    audit.statements.whenWriteFails((rows, err) =>
      this.warnWriteFailed(`audit: ${rows} statement event(s) not written: ${err.message}`),
    );
    this.scheduleSweep();
  }

  onModuleDestroy(): void {
    if (this.sweepTimer) clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
  }

  /** A follower for one session's statements, or null when statements are not audited. */
  follow(context: StatementContext): StatementAudit | null {
    if (!this.config.audit.statements) return null;
    const session = StatementSession.of(statementSession(context));
    return new StatementAudit((statement) => this.record(session, statement));
  }

  private record(session: StatementSession, statement: AuditedStatement): void {
    if (this.cluster.control.audit.statements.enqueue(session, statement)) return;
    this.metrics.auditEventDropped('wire.query');
    this.warnDropped(
      'audit queue full: statement events are dropped (counted in postern_audit_dropped_total); ' +
        'the control plane is not keeping up',
    );
  }

  /** Runs as each batch is written, never on the relay's path. */
  private redacted(event: AuditEventInput): AuditEventInput {
    if (!STATEMENT_KINDS.has(event.kind)) return event;
    const statement = event.detail?.statement;
    if (typeof statement !== 'string') return event;
    const text = this.redactedText(statement);
    if (text === null) return event;
    return { ...event, detail: { ...event.detail, statement: text, redacted: true } };
  }

  /** A statement's text redacted, or null when redaction is off. */
  private redactedText(statement: string): string | null {
    if (!this.config.audit.redactLiterals) return null;
    // Switched on by a reload: until the lexer is loaded, nothing of the text is kept.
    if (!this.redactor) void this.loadRedactor();
    return this.redactor ? this.redactor.redact(statement) : REDACTED;
  }

  private loadRedactor(): Promise<void> {
    this.redactorLoading ??= LiteralRedactor.load().then(
      (redactor) => void (this.redactor = redactor),
      (err: Error) => {
        this.redactorLoading = null;
        this.log.error(`literal redaction unavailable: ${err.message}`);
      },
    );
    return this.redactorLoading;
  }

  /**
   * Deletes events older than the retention, about 24 times per retention
   * period (between every second and every hour), reading the setting each
   * time (it may be reloaded). 0 keeps everything.
   */
  private scheduleSweep(): void {
    const retentionMs = this.config.audit.retentionMs;
    const every =
      retentionMs > 0 ? Math.min(3_600_000, Math.max(1000, retentionMs / 24)) : 3_600_000;
    this.sweepTimer = setTimeout(() => {
      void this.sweep().finally(() => {
        if (this.sweepTimer) this.scheduleSweep();
      });
    }, every);
    this.sweepTimer.unref();
  }

  private async sweep(): Promise<void> {
    const retentionMs = this.config.audit.retentionMs;
    if (retentionMs <= 0) return;
    try {
      const deleted = await this.cluster.control.audit.deleteOlderThan(
        new Date(Date.now() - retentionMs),
      );
      if (deleted > 0) this.log.info(`audit retention: ${deleted} event(s) deleted`);
    } catch (err) {
      this.log.warn(`audit retention sweep failed: ${(err as Error).message}`);
    }
  }
}

/** The columns a session's statement rows share. */
export function statementSession(context: StatementContext): StatementSessionInput {
  return {
    sessionId: context.sessionId,
    actor: context.user,
    actorId: context.userId,
    tokenId: context.tokenId,
    method: context.tokenId ? `${context.authMethod} (token)` : context.authMethod,
    databaseId: context.databaseId,
    database: context.database,
    level: context.level,
    source: context.clientAddress,
    applicationName: context.applicationName,
  };
}
