import { Command, InvalidArgumentError, Option } from 'commander';
import { ConfigError } from '../../server/src/config/config';
import { ApiClient, ApiError, type GrantLevel } from './api-client';
import { storedToken } from './credentials';
import { printer, type Printer } from './output';

/*
 * The program and what every command shares. `postern`: runs the gateway (`postern start`) and administers one over its
 * HTTP API, one command per route, with the caller's own credentials, so the
 * server's rules apply to the CLI exactly as to any other client. Only
 * `admin reset-password` works on the data directory, with the gateway stopped.
 */

const DEFAULT_URL = 'http://127.0.0.1:8433';
export const LEVELS = ['read-only', 'read-write', 'manager'] as const;

export const program = new Command('postern')
  .description('Postern, the identity-aware PostgreSQL gateway: run it and administer it')
  .addOption(
    new Option('--url <url>', 'gateway HTTP address').env('POSTERN_URL').default(DEFAULT_URL),
  )
  .option('--json', 'print JSON for scripts instead of tables')
  // Usage errors too are one line, like API errors (subcommands inherit this).
  .configureOutput({
    outputError: (text, write) => write(`postern: ${text.replace(/^error: /, '')}`),
  })
  .addHelpText(
    'after',
    '\nCredentials: POSTERN_TOKEN (an API token or a session token), or the session of `postern login`.',
  );

export function url(): string {
  return (program.opts().url as string).replace(/\/+$/, '');
}

export function out(): Printer {
  return printer(program.opts().json === true);
}

/** The API as the caller: POSTERN_TOKEN, else the stored login for this URL. */
export async function api(): Promise<ApiClient> {
  const token = process.env.POSTERN_TOKEN || (await storedToken(url()));
  if (!token)
    throw new ApiError(401, `not logged in to ${url()}: run postern login, or set POSTERN_TOKEN`);
  return new ApiClient(url(), token);
}

/** Runs a command body; any failure is one line on stderr and exit status 1. */
export function run<A extends unknown[]>(
  body: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (err) {
      const status = err instanceof ApiError && err.status > 0 ? ` (HTTP ${err.status})` : '';
      process.stderr.write(`postern: ${(err as Error).message}${status}\n`);
      process.exitCode = err instanceof ConfigError ? 2 : 1;
    }
  };
}

export function level(value: string): GrantLevel {
  if (!(LEVELS as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(`one of ${LEVELS.join(', ')}`);
  }
  return value as GrantLevel;
}

export function positiveInteger(value: string): number {
  if (!/^[1-9]\d*$/.test(value)) throw new InvalidArgumentError('a positive integer');
  return Number(value);
}

/** `2030-01-01T00:00:00Z`, or a duration from now: `90m`, `12h`, `30d`. */
export function expiry(value: string): string {
  const relative = /^(\d+)([mhd])$/.exec(value);
  if (!relative) {
    if (Number.isNaN(Date.parse(value)))
      throw new InvalidArgumentError('an ISO 8601 time or 90m, 12h, 30d');
    return value;
  }
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as 'm' | 'h' | 'd'];
  return new Date(Date.now() + Number(relative[1]) * unit).toISOString();
}

/**
 * A limit in milliseconds: `250ms`, `30s`, `5m`, `1h`, or a number of
 * milliseconds; `off` (or 0) switches it off; `default` stays as is (the
 * global setting: the caller sends null; commander keeps no null values).
 */
export function durationLimit(value: string): number | 'default' {
  if (value === 'default') return value;
  if (value === 'off') return 0;
  const parsed = /^(\d+)(ms|s|m|h)?$/.exec(value);
  if (!parsed) throw new InvalidArgumentError('a duration (250ms, 30s, 5m, 1h), off or default');
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(parsed[2] ?? 'ms') as 'ms'];
  return Number(parsed[1]) * unit;
}

/** A count limit: a number, `off` (0), or `default` (the global setting, as above). */
export function countLimit(value: string): number | 'default' {
  if (value === 'default') return value;
  if (value === 'off') return 0;
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('a number, off or default');
  return Number(value);
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
