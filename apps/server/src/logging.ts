import { Logger, type LogLevel as NestLogLevel } from '@nestjs/common';
import type { LogSink } from '#engine';
import type { LogLevel } from './config/config';

/** Nest log levels enabled by POSTERN_LOG_LEVEL. */
export function nestLogLevels(level: LogLevel): NestLogLevel[] {
  const order: LogLevel[] = ['error', 'warn', 'info', 'debug'];
  const enabled = order.slice(0, order.indexOf(level) + 1);
  return enabled.map((l) => (l === 'info' ? 'log' : l));
}

/** Adapts a Nest logger context to the pure libraries' LogSink. */
export function logSink(context: string): LogSink {
  const logger = new Logger(context);
  return {
    error: (m) => logger.error(m),
    warn: (m) => logger.warn(m),
    info: (m) => logger.log(m),
    debug: (m) => logger.debug(m),
  };
}
