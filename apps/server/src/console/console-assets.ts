import type { NestExpressApplication } from '@nestjs/platform-express';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { PROJECT_ROOT } from '../project-root';

/** Where `npm run build` puts the console (Vite, apps/console/vite.config.ts). */
export const CONSOLE_DIST = path.join(PROJECT_ROOT, 'dist', 'console');

/**
 * The console's pages load only what the gateway serves: no inline script or style, no other
 * origin, no framing. React and the charts set styles through the DOM (CSSOM), which
 * `style-src 'self'` allows; a `<style>` element or `style=""` attribute would not load.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The console's client routes (apps/console/src/routes.ts): these answer index.html, so a
 * reload or a bookmark works. Anything else, /api, /metrics and /healthz above all, is
 * never the page: an unknown path stays a 404.
 */
const CLIENT_ROUTE =
  /^\/(?:(?:login|overview|people|tokens|databases|sessions|audit|sql)(?:\/[^.]*)?)?$/;

export function isConsoleRoute(pathname: string): boolean {
  return CLIENT_ROUTE.test(pathname);
}

function securityHeaders(response: ServerResponse): void {
  response.setHeader('Content-Security-Policy', CONSOLE_CSP);
  response.setHeader('X-Content-Type-Options', 'nosniff');
  response.setHeader('Referrer-Policy', 'no-referrer');
  response.setHeader('X-Frame-Options', 'DENY');
}

/**
 * Serves the built console at `/`: hashed files under /assets cached for a year, the page
 * itself never cached (a new build is picked up at once). Without a build (a checkout where
 * only tsc ran) the routes say how to build it instead.
 */
export function serveConsole(app: NestExpressApplication, dist = CONSOLE_DIST): void {
  let indexHtml: Buffer | null = null;
  try {
    indexHtml = readFileSync(path.join(dist, 'index.html'));
  } catch {
    indexHtml = null;
  }
  app.useStaticAssets(path.join(dist, 'assets'), {
    prefix: '/assets/',
    index: false,
    immutable: true,
    maxAge: '365d',
    fallthrough: true,
    setHeaders: (response) => securityHeaders(response),
  });
  app.use((request: IncomingMessage, response: ServerResponse, next: () => void) => {
    const method = request.method ?? 'GET';
    const pathname = (request.url ?? '/').split('?')[0]!;
    if ((method !== 'GET' && method !== 'HEAD') || !isConsoleRoute(pathname)) return next();
    securityHeaders(response);
    response.setHeader('Cache-Control', 'no-cache');
    if (!indexHtml) {
      response.statusCode = 503;
      response.setHeader('Content-Type', 'text/plain; charset=utf-8');
      response.end('The web console is not built: run "npm run build".\n');
      return;
    }
    response.statusCode = 200;
    response.setHeader('Content-Type', 'text/html; charset=utf-8');
    response.setHeader('Content-Length', indexHtml.length);
    response.end(method === 'HEAD' ? undefined : indexHtml);
  });
}
