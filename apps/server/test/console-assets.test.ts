import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CONSOLE_CSP, CONSOLE_DIST, isConsoleRoute } from '../src/console/console-assets';
import { OverviewHistory, type OverviewReading } from '../src/console/overview-history';

/** The problems of an HTML page under `script-src 'self'; style-src 'self'`: what it would block. */
function inlineCode(html: string): string[] {
  const problems: string[] = [];
  for (const script of html.match(/<script\b[^>]*>[\s\S]*?<\/script>/gi) ?? []) {
    if (!/\bsrc=/.test(script)) problems.push(`a script without src: ${script.slice(0, 80)}`);
    else if (!/^<script\b[^>]*><\/script>$/.test(script)) problems.push('a script with a body');
  }
  if (/<style\b/i.test(html)) problems.push('a <style> element');
  if (/\sstyle\s*=/i.test(html)) problems.push('a style="" attribute');
  if (/\son[a-z]+\s*=/i.test(html)) problems.push('an inline event handler');
  if (/(?:href|src)\s*=\s*["']?\s*javascript:/i.test(html)) problems.push('a javascript: URL');
  if (/(?:href|src)\s*=\s*["']?(?:https?:)?\/\//i.test(html)) problems.push('another origin');
  return problems;
}

describe('the console as served', () => {
  test('CONSOLE-10 the built index.html has no inline script, style or handler, and loads nothing from elsewhere', () => {
    const html = readFileSync(path.join(CONSOLE_DIST, 'index.html'), 'utf8');
    assert.deepEqual(inlineCode(html), []);
    assert.match(
      html,
      /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/,
    );
    // The check itself finds what it is for.
    assert.equal(inlineCode('<script>alert(1)</script>').length, 1);
    assert.equal(inlineCode('<div onclick="x()"></div><p style="color:red"></p>').length, 2);
    assert.equal(inlineCode('<script src="https://cdn.example/x.js"></script>').length, 1);
  });

  test('CONSOLE-01 the policy allows scripts and styles from the gateway only', () => {
    const directives = new Map(
      CONSOLE_CSP.split('; ').map((d) => [d.split(' ')[0], d.split(' ').slice(1).join(' ')]),
    );
    assert.equal(directives.get('default-src'), "'none'");
    assert.equal(directives.get('script-src'), "'self'");
    assert.equal(directives.get('style-src'), "'self'");
    assert.equal(directives.get('connect-src'), "'self'");
    assert.equal(directives.get('frame-ancestors'), "'none'");
    assert.doesNotMatch(CONSOLE_CSP, /unsafe|\*|https?:/);
  });

  test('the page answers client routes only: never the API, metrics, health, documents or files', () => {
    for (const route of [
      '/',
      '/login',
      '/overview',
      '/people/alice',
      '/databases/acme/books',
      '/sql',
      '/audit',
      '/tokens',
      '/sessions',
    ]) {
      assert.ok(isConsoleRoute(route), route);
    }
    for (const route of [
      '/api',
      '/api/v1/databases',
      '/api/docs',
      '/metrics',
      '/healthz',
      '/readyz',
      '/assets/index.js',
      '/favicon.ico',
      '/databases/a/b.js',
      '/peoplex',
      '//evil',
    ]) {
      assert.ok(!isConsoleRoute(route), route);
    }
  });
});

describe('the overview history', () => {
  const reading = (at: number, values: Partial<OverviewReading> = {}): OverviewReading => ({
    at,
    connections: 0,
    sessions: 0,
    loginsOk: 0,
    loginsFailed: 0,
    statements: 0,
    statementErrors: 0,
    statementSeconds: 0,
    upstreamBusy: 0,
    upstreamIdle: 0,
    upstreamFailures: 0,
    ...values,
  });

  test('points are differences of counters between samples: rates, mean latency, logins', () => {
    const history = new OverviewHistory();
    history.add(reading(0, { statements: 10, statementSeconds: 1, loginsOk: 1 }));
    history.add(
      reading(10_000, {
        statements: 60,
        statementSeconds: 1.5,
        loginsOk: 4,
        loginsFailed: 2,
        connections: 3,
      }),
    );
    const points = history.points(
      reading(20_000, { statements: 60, statementSeconds: 1.5, loginsOk: 4, loginsFailed: 2 }),
    );
    assert.equal(points.length, 2);
    assert.equal(points[0]!.statementsPerSecond, 5);
    assert.equal(points[0]!.meanLatencyMs, 10);
    assert.equal(points[0]!.logins, 3);
    assert.equal(points[0]!.loginFailures, 2);
    assert.equal(points[0]!.connections, 3);
    assert.equal(points[1]!.statementsPerSecond, 0);
    assert.equal(points[1]!.meanLatencyMs, null, 'no statement, no latency');
    assert.deepEqual(history.sinceOldest(reading(20_000, { loginsOk: 4, loginsFailed: 2 })), {
      logins: 3,
      loginFailures: 2,
    });
  });

  test('the ring keeps its capacity: the oldest samples go', () => {
    const history = new OverviewHistory(3);
    for (let i = 0; i < 10; i++) history.add(reading(i * 10_000, { loginsOk: i }));
    const points = history.points(reading(100_000, { loginsOk: 10 }));
    assert.equal(points.length, 3);
    assert.equal(points[0]!.at, new Date(80_000).toISOString());
    assert.deepEqual(history.sinceOldest(reading(100_000, { loginsOk: 10 })), {
      logins: 3,
      loginFailures: 0,
    });
  });
});
