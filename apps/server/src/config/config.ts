import path from 'node:path';

/** How the wire listener treats plaintext clients (CONTRACT.md, `POSTERN_TLS`). */
export type TlsMode = 'require' | 'prefer' | 'off';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** The validated, frozen settings of one Postern process. */
export interface PosternConfig {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly httpPort: number;
  readonly tls: TlsMode;
  readonly tlsCertPath: string;
  readonly tlsKeyPath: string;
  /** True when neither certificate setting was given: dev certificates may be generated. */
  readonly tlsDevCertificates: boolean;
  readonly certsDir: string;
  readonly adminPassword: string | undefined;
  readonly upstreamUrl: string | undefined;
  readonly logLevel: LogLevel;
  readonly authTimeoutMs: number;
  /** Offer AuthenticationCleartextPassword (TLS only) instead of SCRAM. */
  readonly authCleartext: boolean;
  /**
   * Failed wire logins of one user name from one address before that pair is blocked (the
   * name from all addresses together: five times as many; an address: fifty times as many).
   */
  readonly loginMaxFailures: number;
  readonly loginBlockMs: number;
  readonly maxMessageLength: number;
  readonly pool: {
    /** Upstream connections per (database, role). */
    readonly size: number;
    readonly idleTimeoutMs: number;
    /** How long a login waits for a pooled connection before 53300. */
    readonly acquireTimeoutMs: number;
    /** Connections of one (database, role) pool one user may hold at once. */
    readonly sizePerUser: number;
  };
  /**
   * The upstream connection budget: at most this many tenant connections
   * (pooled, busy or idle) at once, within what the cluster allows.
   */
  readonly upstream: {
    /** A cap of our own below the cluster's; 0: the cluster's limit alone. */
    readonly maxConnections: number;
    /** Kept free of tenant connections for the gateway itself (control plane, provisioning). */
    readonly reserve: number;
    /** Of the budget, kept for HTTP queries: wire sessions may hold the rest. */
    readonly httpReserve: number;
    /** The budget's share one user may hold; 0: half the budget. */
    readonly maxConnectionsPerUser: number;
  };
  /** Largest single row (or COPY message) an HTTP query reads, checked before buffering. */
  readonly httpMaxRowBytes: number;
  /** Guardrails for every session; 0 turns one off. */
  readonly guardrails: {
    readonly statementTimeoutMs: number;
    readonly idleInTransactionTimeoutMs: number;
    readonly idleSessionTimeoutMs: number;
    readonly maxResultRows: number;
    readonly maxResultBytes: number;
  };
  readonly maxConnections: number;
  readonly maxConnectionsPerUser: number;
  /**
   * Connections that have not finished logging in (HARD-01), in total and per source
   * address; one more is refused with 53300 before anything is read from it.
   */
  readonly maxUnauthenticated: number;
  readonly maxUnauthenticatedPerAddress: number;
  /** Databases one owner (a user or an organisation) may have. */
  readonly maxDatabasesPerOwner: number;
  readonly shutdownGraceMs: number;
}

/** A setting that cannot be used; the message names the variable, never its value. */
export class ConfigError extends Error {}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the environment once at boot. Every problem is reported with the
 * variable's name only: a value may be a password.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): PosternConfig {
  const certPath = env.POSTERN_TLS_CERT;
  const keyPath = env.POSTERN_TLS_KEY;
  if ((certPath === undefined) !== (keyPath === undefined)) {
    throw new ConfigError(
      'POSTERN_TLS_CERT and POSTERN_TLS_KEY must be set together (or neither, for dev certificates)',
    );
  }
  const certsDir = path.resolve(cwd, 'certs');
  const host = nonEmpty(env, 'POSTERN_HOST') ?? '127.0.0.1';
  const port = portSetting(env, 'POSTERN_PORT', 5433);
  const httpPort = portSetting(env, 'POSTERN_HTTP_PORT', 8433);
  if (port !== 0 && port === httpPort) {
    throw new ConfigError('POSTERN_PORT and POSTERN_HTTP_PORT must differ');
  }
  const adminPassword = env.POSTERN_ADMIN_PASSWORD;
  if (adminPassword !== undefined && adminPassword.length < 8) {
    throw new ConfigError('POSTERN_ADMIN_PASSWORD must be at least 8 characters long');
  }
  const upstreamUrl = nonEmpty(env, 'POSTERN_UPSTREAM_URL');
  if (upstreamUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(upstreamUrl);
    } catch {
      throw new ConfigError('POSTERN_UPSTREAM_URL is not a valid URL');
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      throw new ConfigError('POSTERN_UPSTREAM_URL must start with postgresql://');
    }
  }
  const maxUnauthenticated = countSetting(env, 'POSTERN_MAX_UNAUTHENTICATED', 256);
  const maxUnauthenticatedPerAddress = countSetting(
    env,
    'POSTERN_MAX_UNAUTHENTICATED_PER_ADDRESS',
    Math.min(64, maxUnauthenticated),
  );
  if (maxUnauthenticatedPerAddress > maxUnauthenticated) {
    throw new ConfigError(
      'POSTERN_MAX_UNAUTHENTICATED_PER_ADDRESS must not exceed POSTERN_MAX_UNAUTHENTICATED',
    );
  }
  const poolSize = countSetting(env, 'POSTERN_POOL_SIZE', 20);
  const poolSizePerUser = countSetting(env, 'POSTERN_POOL_SIZE_PER_USER', Math.ceil(poolSize / 2));
  return Object.freeze({
    dataDir: path.resolve(cwd, nonEmpty(env, 'POSTERN_DATA_DIR') ?? '.postern'),
    host,
    port,
    httpPort,
    tls: oneOf(env, 'POSTERN_TLS', ['require', 'prefer', 'off'] as const, 'require'),
    tlsCertPath: path.resolve(cwd, certPath ?? path.join(certsDir, 'server.crt')),
    tlsKeyPath: path.resolve(cwd, keyPath ?? path.join(certsDir, 'server.key')),
    tlsDevCertificates: certPath === undefined,
    certsDir,
    adminPassword,
    upstreamUrl,
    logLevel: oneOf(env, 'POSTERN_LOG_LEVEL', ['error', 'warn', 'info', 'debug'] as const, 'info'),
    authTimeoutMs: durationSetting(env, 'POSTERN_AUTH_TIMEOUT', 10_000),
    authCleartext: oneOf(env, 'POSTERN_AUTH_CLEARTEXT', ['on', 'off'] as const, 'off') === 'on',
    loginMaxFailures: countSetting(env, 'POSTERN_LOGIN_MAX_FAILURES', 10),
    loginBlockMs: durationSetting(env, 'POSTERN_LOGIN_BLOCK_DURATION', 15 * 60_000),
    maxMessageLength: 1024 * 1024 * 1024 - 1,
    pool: {
      size: poolSize,
      idleTimeoutMs: durationSetting(env, 'POSTERN_POOL_IDLE_TIMEOUT', 60_000),
      acquireTimeoutMs: durationSetting(env, 'POSTERN_POOL_TIMEOUT', 5_000),
      sizePerUser: Math.min(poolSize, poolSizePerUser),
    },
    upstream: {
      maxConnections: countSetting(env, 'POSTERN_UPSTREAM_MAX_CONNECTIONS', 0, true),
      reserve: countSetting(env, 'POSTERN_UPSTREAM_RESERVE', 20, true),
      httpReserve: countSetting(env, 'POSTERN_UPSTREAM_HTTP_RESERVE', 5, true),
      maxConnectionsPerUser: countSetting(
        env,
        'POSTERN_UPSTREAM_MAX_CONNECTIONS_PER_USER',
        0,
        true,
      ),
    },
    httpMaxRowBytes: countSetting(env, 'POSTERN_HTTP_MAX_ROW_BYTES', 16 * 1024 * 1024),
    guardrails: {
      statementTimeoutMs: durationSetting(env, 'POSTERN_STATEMENT_TIMEOUT', 0, true),
      idleInTransactionTimeoutMs: durationSetting(
        env,
        'POSTERN_IDLE_IN_TRANSACTION_TIMEOUT',
        0,
        true,
      ),
      idleSessionTimeoutMs: durationSetting(env, 'POSTERN_IDLE_SESSION_TIMEOUT', 0, true),
      maxResultRows: countSetting(env, 'POSTERN_MAX_RESULT_ROWS', 0, true),
      maxResultBytes: countSetting(env, 'POSTERN_MAX_RESULT_BYTES', 0, true),
    },
    maxConnections: countSetting(env, 'POSTERN_MAX_CONNECTIONS', 1000),
    maxConnectionsPerUser: countSetting(env, 'POSTERN_MAX_CONNECTIONS_PER_USER', 100),
    maxUnauthenticated,
    maxUnauthenticatedPerAddress,
    maxDatabasesPerOwner: countSetting(env, 'POSTERN_MAX_DATABASES_PER_USER', 10),
    shutdownGraceMs: durationSetting(env, 'POSTERN_SHUTDOWN_GRACE', 10_000, true),
  });
}

function nonEmpty(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  if (value.trim() === '') throw new ConfigError(`${name} is set but empty`);
  return value;
}

function portSetting(env: Env, name: string, fallback: number): number {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port > 65535) {
    throw new ConfigError(`${name} must be a port number between 0 and 65535`);
  }
  return port;
}

/** A count; `zeroIsOff` lets 0 mean "no limit". */
function countSetting(env: Env, name: string, fallback: number, zeroIsOff = false): number {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  const min = zeroIsOff ? 0 : 1;
  if (!/^\d+$/.test(raw) || Number(raw) < min || !Number.isSafeInteger(Number(raw))) {
    throw new ConfigError(`${name} must be an integer of at least ${min}`);
  }
  return Number(raw);
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(raw)) {
    throw new ConfigError(`${name} must be one of ${allowed.join(', ')}`);
  }
  return raw as T;
}

/** Durations accept plain milliseconds or a unit: `500ms`, `10s`, `2m`; `zeroIsOff` allows 0. */
function durationSetting(env: Env, name: string, fallbackMs: number, zeroIsOff = false): number {
  const raw = nonEmpty(env, name);
  if (raw === undefined) return fallbackMs;
  const match = /^(\d+)(ms|s|m)?$/.exec(raw.trim());
  if (!match) throw new ConfigError(`${name} must be a duration such as 500ms, 10s or 2m`);
  const value = Number(match[1]);
  const unit = match[2] ?? 'ms';
  const ms = unit === 'ms' ? value : unit === 's' ? value * 1000 : value * 60_000;
  if (ms <= 0 && !(zeroIsOff && ms === 0)) throw new ConfigError(`${name} must be positive`);
  return ms;
}
