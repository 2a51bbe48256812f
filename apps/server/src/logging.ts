import type { LoggerService } from '@nestjs/common';
import { inspect } from 'node:util';
import pino from 'pino';
import type { LogSink } from '#engine';
import type { LogLevel } from './config/config';

/**
 * The process's one logger (pino). Every line goes through it: the pure libraries' LogSinks
 * (`logSink`), Nest's own logger (`consoleLogger`), HTTP request lines and session ends.
 *
 * - Not on a terminal (a file, a pipe, a log collector): one JSON object per line, `level` as
 *   its name, `time` in ISO 8601, `context` naming the part of the gateway, `msg`.
 * - On a terminal: the same line as readable text, without colours, every field escaped.
 *
 * No ANSI code is ever written by the gateway: message text quoting clients is escaped before
 * it is logged (HARD-15), and JSON escapes control characters in every other field.
 */

export type LogFormat = 'json' | 'pretty';

/** Where log lines go: a stream or anything with `write`. */
export interface LogDestination {
  write(line: string): unknown;
}

type PinoLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';

let root = createLogger(process.stdout.isTTY ? 'pretty' : 'json', process.stdout);

/** A pino logger writing `format` lines to `destination`. */
export function createLogger(
  format: LogFormat,
  destination: LogDestination,
  level: LogLevel = 'info',
): pino.Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    format === 'json' ? destination : prettyDestination(destination),
  );
}

/** Sends the process's log lines to `destination` (tests); returns the way back. */
export function useLogDestination(format: LogFormat, destination: LogDestination): () => void {
  const previous = root;
  root = createLogger(format, destination, previous.level as LogLevel);
  return () => {
    root = previous;
  };
}

/** POSTERN_LOG_LEVEL, at start or on a later reload (SIGHUP). */
export function setLogLevel(level: LogLevel): void {
  root.level = level;
}

export function logLevel(): LogLevel {
  return root.level as LogLevel;
}

/**
 * One structured line: `fields` become JSON fields (or `key=value` on a terminal). Text a
 * client chose belongs in fields or goes through `escapeLogText` in `message`.
 */
export function logEvent(
  level: LogLevel,
  context: string,
  fields: Readonly<Record<string, unknown>>,
  message: string,
): void {
  root[level]({ context, ...fields }, escapeLogText(message));
}

const NAMED_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Log lines quote what clients sent (user names, database names, addresses, SQL): control
 * characters are written as escapes, so a newline cannot forge a line and a terminal escape
 * sequence cannot reach the operator's terminal (HARD-15). C0, DEL, C1 and the Unicode line
 * and paragraph separators are escaped; everything else is kept as it is.
 */
export function escapeLogText(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- control characters are what is matched
    /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g,
    (c) =>
      NAMED_ESCAPES[c] ??
      (c.charCodeAt(0) <= 0xff
        ? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`
        : `\\u${c.charCodeAt(0).toString(16)}`),
  );
}

/** Contexts of Nest's own start-up lines, written at debug rather than info. */
const NEST_STARTUP_CONTEXTS = new Set([
  'NestFactory',
  'InstanceLoader',
  'RoutesResolver',
  'RouterExplorer',
  'NestApplication',
]);

/**
 * Nest's logger interface over the process logger, so Nest's own lines (routes, errors of
 * its internals, the ErrorsFilter's 500s) are JSON lines like the others. Nest passes the
 * context last, and for errors the stack before it.
 */
export class PinoNestLogger implements LoggerService {
  log(message: unknown, ...params: unknown[]): void {
    this.write('info', message, params);
  }
  error(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }
  warn(message: unknown, ...params: unknown[]): void {
    this.write('warn', message, params);
  }
  debug(message: unknown, ...params: unknown[]): void {
    this.write('debug', message, params);
  }
  verbose(message: unknown, ...params: unknown[]): void {
    this.write('trace', message, params);
  }
  fatal(message: unknown, ...params: unknown[]): void {
    this.write('error', message, params);
  }

  private write(requested: PinoLevel, message: unknown, params: unknown[]): void {
    const context =
      params.length > 0 && typeof params.at(-1) === 'string' ? (params.pop() as string) : 'Nest';
    // Nest's start-up report (every module and route, some sixty lines) is for developers.
    const level = requested === 'info' && NEST_STARTUP_CONTEXTS.has(context) ? 'debug' : requested;
    if (!root.isLevelEnabled(level)) return;
    const fields: Record<string, unknown> = { context: escapeLogText(context) };
    let text: string;
    if (message instanceof Error) {
      text = message.message;
      fields.stack = escapeLogText(message.stack ?? '');
    } else {
      text = typeof message === 'string' ? message : inspect(message, { breakLength: Infinity });
    }
    const stack = params[0];
    if (level === 'error' && typeof stack === 'string' && stack.length > 0) {
      fields.stack = escapeLogText(stack);
    }
    root[level](fields, escapeLogText(text));
  }
}

/** The process-wide Nest logger, at POSTERN_LOG_LEVEL. */
export function consoleLogger(level: LogLevel): LoggerService {
  setLogLevel(level);
  return new PinoNestLogger();
}

/** Adapts a logger context to the pure libraries' LogSink. */
export function logSink(context: string): LogSink {
  return {
    error: (m) => root.error({ context }, escapeLogText(m)),
    warn: (m) => root.warn({ context }, escapeLogText(m)),
    info: (m) => root.info({ context }, escapeLogText(m)),
    debug: (m) => root.debug({ context }, escapeLogText(m)),
  };
}

const FIXED_FIELDS = new Set(['level', 'time', 'pid', 'context', 'msg']);

/** Terminal lines: `time LEVEL [context] message key=value ...`, all of it escaped. */
function prettyDestination(destination: LogDestination): LogDestination {
  return {
    write(line: string) {
      return destination.write(prettyLine(JSON.parse(line) as Record<string, unknown>) + '\n');
    },
  };
}

export function prettyLine(entry: Readonly<Record<string, unknown>>): string {
  const text = (value: unknown) =>
    escapeLogText(typeof value === 'string' ? value : JSON.stringify(value));
  const extras = Object.entries(entry)
    .filter(([key]) => !FIXED_FIELDS.has(key))
    .map(([key, value]) => ` ${escapeLogText(key)}=${text(value)}`)
    .join('');
  const level = String(entry.level).toUpperCase().padEnd(5);
  const context = entry.context === undefined ? '' : ` [${text(entry.context)}]`;
  return `${text(entry.time)} ${level}${context} ${text(entry.msg ?? '')}${extras}`;
}

/**
 * For lines a stranger can cause at will (failed TLS handshakes, refused connections): at
 * most `perMinute` lines a minute, then one line saying how many were left out.
 */
export function rateLimited(write: (line: string) => void, perMinute = 10): (line: string) => void {
  let windowStart = 0;
  let written = 0;
  let suppressed = 0;
  return (line) => {
    const now = Date.now();
    if (now - windowStart >= 60_000) {
      if (suppressed > 0) write(`(${suppressed} similar lines left out in the last minute)`);
      windowStart = now;
      written = 0;
      suppressed = 0;
    }
    if (written < perMinute) {
      written++;
      write(line);
    } else {
      suppressed++;
    }
  };
}
