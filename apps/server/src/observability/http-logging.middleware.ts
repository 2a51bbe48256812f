import { Injectable, type NestMiddleware } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { logEvent } from '../logging';
import { PosternMetrics } from './metrics';

/** Probes and scrapes arrive every few seconds: their lines are `debug`. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);
/** Where the middleware is mounted: Express reports it as the route when no handler matched. */
export const EVERY_PATH = '*path';
const QUERY_ROUTE = /\/databases\/:owner\/:name\/query$/;

/**
 * One line and two metrics per HTTP request, when its answer is finished (or the client
 * left): method, route template, path, status, duration and client address. Never headers
 * (Authorization, cookies), query strings or bodies: those carry passwords and tokens.
 */
/** What Express adds to a request: the mount point and the matched route. */
type ExpressRequest = IncomingMessage & {
  readonly originalUrl?: string;
  readonly baseUrl?: string;
  readonly route?: { readonly path?: unknown };
};

@Injectable()
export class HttpRequestLogging implements NestMiddleware {
  constructor(private readonly metrics: PosternMetrics) {}

  use(req: ExpressRequest, res: ServerResponse, next: () => void): void {
    const started = process.hrtime.bigint();
    const path = (req.originalUrl ?? req.url ?? '').split('?')[0]!;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      // The template (`/api/v1/databases/:owner/:name`), bounded; never the path itself.
      const routePath = req.route?.path;
      const route =
        typeof routePath === 'string' && routePath !== `/${EVERY_PATH}`
          ? (req.baseUrl ?? '') + routePath
          : 'unmatched';
      const status = res.writableFinished ? res.statusCode : 499; // 499: the client left first
      this.metrics.httpRequest(req.method ?? 'unknown', route, status, seconds);
      if (QUERY_ROUTE.test(route)) this.metrics.statement('http', seconds);
      logEvent(
        QUIET_ROUTES.has(route) ? 'debug' : 'info',
        'HTTP',
        {
          event: 'http.request',
          method: req.method ?? 'unknown',
          route,
          path,
          status,
          durationMs: Math.round(seconds * 1e6) / 1e3,
          client: req.socket.remoteAddress ?? null,
        },
        `${req.method ?? 'unknown'} ${path} ${status}`,
      );
    };
    res.once('finish', finish);
    res.once('close', finish);
    next();
  }
}
