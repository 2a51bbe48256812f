import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Actor } from '../../identity/actor';

/** The parts of Express's request the admin API uses (no @types/express needed). */
export interface ApiRequest extends IncomingMessage {
  /** Set by AccessGuard on authenticated routes. */
  actor?: Actor;
  body?: unknown;
}

/** The client's address as the socket sees it (no proxy header is trusted for it). */
export function sourceAddress(request: IncomingMessage): string {
  const address = request.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}

/**
 * Whether the client reached us over TLS: directly, or through a proxy that
 * says so. Trusting the header here can only make a cookie stricter.
 */
export function isSecure(request: IncomingMessage): boolean {
  if ((request.socket as Partial<TLSSocket>).encrypted) return true;
  const forwarded = request.headers['x-forwarded-proto'];
  const proto = Array.isArray(forwarded) ? forwarded[0] : forwarded;
  return proto?.split(',')[0]?.trim().toLowerCase() === 'https';
}

/**
 * Aborted when the client hangs up before its answer was complete, so that
 * work done only for that answer (a running statement) stops too.
 */
export function abortedOnHangUp(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}
