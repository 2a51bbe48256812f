import path from 'node:path';
import { readConfigFile } from './config-file';
import {
  CONFIG_FILE_SETTING,
  OTHER_KNOWN_NAMES,
  PG_SETTING_PREFIX,
  SETTING_NAMES,
  settingsSchema,
  type ParsedSettings,
} from './settings';

/** How the wire listener treats plaintext clients (README, `POSTERN_TLS`). */
export type TlsMode = 'require' | 'prefer' | 'off';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

/** The validated, frozen settings of one Postern process. */
export interface PosternConfig {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  /** The HTTP listener's own address (default: `host`), e.g. loopback while the wire faces users. */
  readonly httpHost: string;
  readonly httpPort: number;
  /** HTTPS on the HTTP listener, with the wire's certificate (reloaded with it). */
  readonly httpTls: boolean;
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
  readonly audit: {
    /** Record every wire statement (`wire.query` events). */
    readonly statements: boolean;
    /** Events older than this are deleted; 0 keeps them forever. */
    readonly retentionMs: number;
    /** Replace literals in recorded statement text with `$?`. */
    readonly redactLiterals: boolean;
  };
  /** Settings of the embedded PostgreSQL given by the operator (`max_connections: '200'`). */
  readonly postgres: Readonly<Record<string, string>>;
}

/**
 * Settings that cannot be used, one line per problem; each names the variable (or the
 * file's key), never its value: a value may be a password.
 */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
  }
}

type Env = Readonly<Record<string, string | undefined>>;

const KNOWN_NAMES = new Set<string>([...SETTING_NAMES, ...OTHER_KNOWN_NAMES]);

/**
 * Reads the settings once at boot (and again on SIGHUP), from, in order of precedence:
 * command-line `flags` (under their environment names), the environment, the configuration
 * file, the defaults. An unknown `POSTERN_*` variable or file key is a problem too: a typo
 * must not silently leave a default in place.
 */
export function loadConfig(
  env: Env = process.env,
  cwd = process.cwd(),
  flags: Env = {},
): PosternConfig {
  const problems: string[] = [];
  for (const name of Object.keys(env)) {
    if (name.startsWith('POSTERN_') && !KNOWN_NAMES.has(name)) {
      problems.push(`${name} is not a Postern setting${suggestion(name)}`);
    }
  }
  const file = readConfigFile(flags[CONFIG_FILE_SETTING] ?? env[CONFIG_FILE_SETTING], cwd);
  problems.push(...file.problems);
  const given: Record<string, string> = { ...file.values };
  const labels: Record<string, string> = { ...file.labels };
  for (const source of [env, flags]) {
    for (const name of SETTING_NAMES) {
      const value = source[name];
      if (value === undefined) continue;
      given[name] = value;
      labels[name] =
        source === flags ? `--${name.slice(8).toLowerCase().replace(/_/g, '-')}` : name;
    }
  }
  const parsed = settingsSchema.safeParse(given, { error: () => 'is not valid' });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      problems.push(`${labels[name] ?? name} ${issue.message}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return settingsToConfig(parsed.data!, (name) => labels[name] ?? name, cwd);
}

/** Defaults and the checks that involve more than one setting. */
function settingsToConfig(
  s: ParsedSettings,
  label: (name: string) => string,
  cwd: string,
): PosternConfig {
  const problems: string[] = [];
  const certPath = s.POSTERN_TLS_CERT;
  const keyPath = s.POSTERN_TLS_KEY;
  if ((certPath === undefined) !== (keyPath === undefined)) {
    problems.push(
      `${label('POSTERN_TLS_CERT')} and ${label('POSTERN_TLS_KEY')} must be set together (or neither, for dev certificates)`,
    );
  }
  const certsDir = path.resolve(cwd, 'certs');
  const host = s.POSTERN_HOST ?? '127.0.0.1';
  const httpHost = s.POSTERN_HTTP_HOST ?? host;
  const port = s.POSTERN_PORT ?? 5433;
  const httpPort = s.POSTERN_HTTP_PORT ?? 8433;
  // The same port is fine on two distinct addresses, not when one is a wildcard.
  const wildcard = (address: string) => address === '0.0.0.0' || address === '::';
  const sameAddress = host === httpHost || wildcard(host) || wildcard(httpHost);
  if (port !== 0 && port === httpPort && sameAddress) {
    problems.push(`${label('POSTERN_PORT')} and ${label('POSTERN_HTTP_PORT')} must differ`);
  }
  const maxUnauthenticated = s.POSTERN_MAX_UNAUTHENTICATED ?? 256;
  const maxUnauthenticatedPerAddress =
    s.POSTERN_MAX_UNAUTHENTICATED_PER_ADDRESS ?? Math.min(64, maxUnauthenticated);
  if (maxUnauthenticatedPerAddress > maxUnauthenticated) {
    problems.push(
      `${label('POSTERN_MAX_UNAUTHENTICATED_PER_ADDRESS')} must not exceed ${label('POSTERN_MAX_UNAUTHENTICATED')}`,
    );
  }
  const postgres: Record<string, string> = {};
  for (const name of SETTING_NAMES) {
    const value = s[name];
    if (name.startsWith(PG_SETTING_PREFIX) && value !== undefined) {
      postgres[name.slice(PG_SETTING_PREFIX.length).toLowerCase()] = String(value);
      if (s.POSTERN_UPSTREAM_URL !== undefined) {
        problems.push(
          `${label(name)} applies to the embedded PostgreSQL only, not with ${label('POSTERN_UPSTREAM_URL')}`,
        );
      }
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const poolSize = s.POSTERN_POOL_SIZE ?? 20;
  const poolSizePerUser = s.POSTERN_POOL_SIZE_PER_USER ?? Math.ceil(poolSize / 2);
  return Object.freeze({
    dataDir: path.resolve(cwd, s.POSTERN_DATA_DIR ?? '.postern'),
    host,
    port,
    httpHost,
    httpPort,
    httpTls: s.POSTERN_HTTP_TLS === 'on',
    tls: s.POSTERN_TLS ?? 'require',
    tlsCertPath: path.resolve(cwd, certPath ?? path.join(certsDir, 'server.crt')),
    tlsKeyPath: path.resolve(cwd, keyPath ?? path.join(certsDir, 'server.key')),
    tlsDevCertificates: certPath === undefined,
    certsDir,
    adminPassword: s.POSTERN_ADMIN_PASSWORD,
    upstreamUrl: s.POSTERN_UPSTREAM_URL,
    logLevel: s.POSTERN_LOG_LEVEL ?? 'info',
    authTimeoutMs: s.POSTERN_AUTH_TIMEOUT ?? 10_000,
    authCleartext: s.POSTERN_AUTH_CLEARTEXT === 'on',
    loginMaxFailures: s.POSTERN_LOGIN_MAX_FAILURES ?? 10,
    loginBlockMs: s.POSTERN_LOGIN_BLOCK_DURATION ?? 15 * 60_000,
    maxMessageLength: 1024 * 1024 * 1024 - 1,
    pool: Object.freeze({
      size: poolSize,
      idleTimeoutMs: s.POSTERN_POOL_IDLE_TIMEOUT ?? 60_000,
      acquireTimeoutMs: s.POSTERN_POOL_TIMEOUT ?? 5_000,
      sizePerUser: Math.min(poolSize, poolSizePerUser),
    }),
    upstream: Object.freeze({
      maxConnections: s.POSTERN_UPSTREAM_MAX_CONNECTIONS ?? 0,
      reserve: s.POSTERN_UPSTREAM_RESERVE ?? 20,
      httpReserve: s.POSTERN_UPSTREAM_HTTP_RESERVE ?? 5,
      maxConnectionsPerUser: s.POSTERN_UPSTREAM_MAX_CONNECTIONS_PER_USER ?? 0,
    }),
    httpMaxRowBytes: s.POSTERN_HTTP_MAX_ROW_BYTES ?? 16 * 1024 * 1024,
    guardrails: Object.freeze({
      statementTimeoutMs: s.POSTERN_STATEMENT_TIMEOUT ?? 0,
      idleInTransactionTimeoutMs: s.POSTERN_IDLE_IN_TRANSACTION_TIMEOUT ?? 0,
      idleSessionTimeoutMs: s.POSTERN_IDLE_SESSION_TIMEOUT ?? 0,
      maxResultRows: s.POSTERN_MAX_RESULT_ROWS ?? 0,
      maxResultBytes: s.POSTERN_MAX_RESULT_BYTES ?? 0,
    }),
    maxConnections: s.POSTERN_MAX_CONNECTIONS ?? 1000,
    maxConnectionsPerUser: s.POSTERN_MAX_CONNECTIONS_PER_USER ?? 100,
    maxUnauthenticated,
    maxUnauthenticatedPerAddress,
    maxDatabasesPerOwner: s.POSTERN_MAX_DATABASES_PER_USER ?? 10,
    shutdownGraceMs: s.POSTERN_SHUTDOWN_GRACE ?? 10_000,
    audit: Object.freeze({
      statements: s.POSTERN_AUDIT_STATEMENTS !== 'off',
      retentionMs: s.POSTERN_AUDIT_RETENTION ?? 30 * 86_400_000,
      redactLiterals: s.POSTERN_AUDIT_REDACT_LITERALS === 'on',
    }),
    postgres: Object.freeze(postgres),
  });
}

/** The known name a typo most likely meant: one edit away, or the same with a word missing. */
function suggestion(name: string): string {
  const close = [...KNOWN_NAMES].find(
    (known) => editDistance(known, name) <= 2 || known.startsWith(name) || name.startsWith(known),
  );
  return close ? ` (did you mean ${close}?)` : '';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j]! + 1,
        current[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length]!;
}
