import type { AuditEventInput } from '#control';
import type { PosternMetrics } from './metrics';

/**
 * Metrics derived from audit events, which every login and HTTP query records with what
 * the metrics need: the transport (`wire.login`, `http.login`), whether a token was used,
 * the outcome and whether the throttle refused it; for queries the number of statements.
 * (Rows are not taken from here: the event has a row count for single statements only.)
 */
export function recordAuditEvent(metrics: PosternMetrics, event: AuditEventInput): void {
  const detail = event.detail ?? {};
  switch (event.kind) {
    case 'wire.login':
    case 'http.login': {
      const throttled = detail.throttled === true || detail.reason === 'throttled';
      metrics.login(
        event.kind === 'wire.login' ? 'wire' : 'http',
        event.method?.endsWith('(token)') ? 'token' : 'password',
        event.outcome === 'success' ? 'success' : throttled ? 'throttled' : 'failure',
      );
      return;
    }
    case 'http.query': {
      const statements = typeof detail.statements === 'number' ? detail.statements : 1;
      metrics.statementsRun('http', event.outcome === 'success' ? 'ok' : 'error', statements);
      return;
    }
  }
}
