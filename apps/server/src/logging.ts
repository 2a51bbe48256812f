import { ConsoleLogger, Logger, type LogLevel as NestLogLevel } from '@nestjs/common';
import type { LogSink } from '#engine';
import type { LogLevel } from './config/config';

/** Nest log levels enabled by POSTERN_LOG_LEVEL. */
export function nestLogLevels(level: LogLevel): NestLogLevel[] {
  const order: LogLevel[] = ['error', 'warn', 'info', 'debug'];
  const enabled = order.slice(0, order.indexOf(level) + 1);
  return enabled.map((l) => (l === 'info' ? 'log' : l));
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

/**
 * Nest's console logger with every message (and stack trace) escaped: the single place all
 * log lines of the process go through, Nest's own included. Nest's colours are added after.
 */
export class EscapingConsoleLogger extends ConsoleLogger {
  protected override stringifyMessage(message: unknown, logLevel: NestLogLevel): string {
    // Strings are escaped before Nest colours them; anything else is inspected first.
    if (typeof message === 'string') {
      return String(super.stringifyMessage(escapeLogText(message), logLevel));
    }
    return escapeLogText(String(super.stringifyMessage(message, logLevel)));
  }

  protected override formatContext(context: string): string {
    return super.formatContext(escapeLogText(context));
  }

  /** Nest calls this for every error line, with no stack most of the time. */
  protected override printStackTrace(stack: string | undefined): void {
    if (typeof stack === 'string') super.printStackTrace(escapeLogText(stack));
  }
}

/** The process-wide logger for POSTERN_LOG_LEVEL. */
export function consoleLogger(level: LogLevel): ConsoleLogger {
  return new EscapingConsoleLogger({ logLevels: nestLogLevels(level) });
}

/** Adapts a Nest logger context to the pure libraries' LogSink. */
export function logSink(context: string): LogSink {
  const logger = new Logger(context);
  return {
    error: (m) => logger.error(escapeLogText(m)),
    warn: (m) => logger.warn(escapeLogText(m)),
    info: (m) => logger.log(escapeLogText(m)),
    debug: (m) => logger.debug(escapeLogText(m)),
  };
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
