/** The logging the pure libraries need; the server adapts Nest's logger to it. */
export interface LogSink {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
}

export const silentLog: LogSink = { error() {}, warn() {}, info() {}, debug() {} };
