import { z } from 'zod';

/**
 * Every setting Postern reads, by its environment name, with the zod schema of its text form.
 * The file and the command-line flags are translated to these names first, so one schema
 * validates all three sources. Messages say what is wrong, never the value (it may be a
 * password); the name is put in front by the loader.
 */

/** Set but blank is an error rather than "unset": `POSTERN_PORT=` is a mistake. */
const setting = <T extends z.ZodType<unknown, string>>(inner: T) =>
  z
    .string()
    .refine((raw) => raw.trim() !== '', { error: 'is set but empty', abort: true })
    .pipe(inner)
    .optional();

const PORT = 'must be a port number between 0 and 65535';
const port = () =>
  setting(z.string().regex(/^\d+$/, PORT).transform(Number).pipe(z.number().max(65535, PORT)));

/** A count; `zeroIsOff` lets 0 mean "no limit". */
const count = (zeroIsOff = false) => {
  const min = zeroIsOff ? 0 : 1;
  const message = `must be an integer of at least ${min}`;
  return setting(
    z
      .string()
      .regex(/^\d+$/, message)
      .transform(Number)
      .pipe(z.number().min(min, message).max(Number.MAX_SAFE_INTEGER, message)),
  );
};

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+)(ms|s|m|h|d)?$/;

/** Plain milliseconds or a unit: `500ms`, `10s`, `2m`, `1h`, `7d`; `zeroIsOff` allows 0. */
const duration = (zeroIsOff = false) =>
  setting(
    z
      .string()
      .trim()
      .regex(DURATION, 'must be a duration such as 500ms, 10s, 2m or 1h')
      .transform((raw) => {
        const [, value, unit] = DURATION.exec(raw)!;
        return Number(value) * UNIT_MS[(unit ?? 'ms') as keyof typeof UNIT_MS];
      })
      .pipe(z.number().min(zeroIsOff ? 0 : 1, 'must be positive')),
  );

const oneOf = <const T extends readonly [string, ...string[]]>(values: T) =>
  setting(z.enum(values, { error: `must be one of ${values.join(', ')}` }));

const text = () => setting(z.string());

const postgresUrl = () =>
  setting(
    z
      .string()
      .refine((raw) => URL.canParse(raw), { error: 'is not a valid URL', abort: true })
      .refine((raw) => ['postgres:', 'postgresql:'].includes(new URL(raw).protocol), {
        error: 'must start with postgresql://',
      }),
  );

/** A PostgreSQL memory setting in its own syntax. */
const pgSize = () =>
  setting(z.string().regex(/^\d+(kB|MB|GB|TB)?$/, 'must be a size such as 8MB or 1GB'));

export const SETTINGS = {
  POSTERN_DATA_DIR: text(),
  POSTERN_HOST: text(),
  POSTERN_PORT: port(),
  POSTERN_HTTP_HOST: text(),
  POSTERN_HTTP_PORT: port(),
  POSTERN_HTTP_TLS: oneOf(['on', 'off']),
  POSTERN_TLS: oneOf(['require', 'prefer', 'off']),
  POSTERN_TLS_CERT: text(),
  POSTERN_TLS_KEY: text(),
  POSTERN_ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters long').optional(),
  POSTERN_UPSTREAM_URL: postgresUrl(),
  POSTERN_LOG_LEVEL: oneOf(['error', 'warn', 'info', 'debug']),
  POSTERN_AUTH_TIMEOUT: duration(),
  POSTERN_AUTH_CLEARTEXT: oneOf(['on', 'off']),
  POSTERN_LOGIN_MAX_FAILURES: count(),
  POSTERN_LOGIN_BLOCK_DURATION: duration(),
  POSTERN_POOL_SIZE: count(),
  POSTERN_POOL_SIZE_PER_USER: count(),
  POSTERN_POOL_IDLE_TIMEOUT: duration(),
  POSTERN_POOL_TIMEOUT: duration(),
  POSTERN_UPSTREAM_MAX_CONNECTIONS: count(true),
  POSTERN_UPSTREAM_RESERVE: count(true),
  POSTERN_UPSTREAM_HTTP_RESERVE: count(true),
  POSTERN_UPSTREAM_MAX_CONNECTIONS_PER_USER: count(true),
  POSTERN_HTTP_MAX_ROW_BYTES: count(),
  POSTERN_STATEMENT_TIMEOUT: duration(true),
  POSTERN_IDLE_IN_TRANSACTION_TIMEOUT: duration(true),
  POSTERN_IDLE_SESSION_TIMEOUT: duration(true),
  POSTERN_MAX_RESULT_ROWS: count(true),
  POSTERN_MAX_RESULT_BYTES: count(true),
  POSTERN_MAX_CONNECTIONS: count(),
  POSTERN_MAX_CONNECTIONS_PER_USER: count(),
  POSTERN_MAX_UNAUTHENTICATED: count(),
  POSTERN_MAX_UNAUTHENTICATED_PER_ADDRESS: count(),
  POSTERN_MAX_DATABASES_PER_USER: count(),
  POSTERN_SHUTDOWN_GRACE: duration(true),
  POSTERN_AUDIT_STATEMENTS: oneOf(['on', 'off']),
  POSTERN_AUDIT_RETENTION: duration(true),
  POSTERN_AUDIT_REDACT_LITERALS: oneOf(['on', 'off']),
  // The embedded PostgreSQL's own settings, passed to it at start (`-c name=value`).
  POSTERN_PG_MAX_CONNECTIONS: count(),
  POSTERN_PG_MAX_PREPARED_TRANSACTIONS: count(true),
  POSTERN_PG_SHARED_BUFFERS: pgSize(),
  POSTERN_PG_WORK_MEM: pgSize(),
  POSTERN_PG_MAINTENANCE_WORK_MEM: pgSize(),
  POSTERN_PG_EFFECTIVE_CACHE_SIZE: pgSize(),
  POSTERN_PG_MAX_WAL_SIZE: pgSize(),
};

export type SettingName = keyof typeof SETTINGS;
export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];

export const settingsSchema = z.object(SETTINGS);
export type ParsedSettings = z.output<typeof settingsSchema>;

export const PG_SETTING_PREFIX = 'POSTERN_PG_';

/** Where the file is: `--config` / `POSTERN_CONFIG`, else `postern.toml` in the working directory. */
export const CONFIG_FILE_SETTING = 'POSTERN_CONFIG';

/**
 * `POSTERN_*` names that are not gateway settings but are known: the command line's own
 * (`postern login` and friends) and the control-plane URL Prisma's tooling reads.
 */
export const OTHER_KNOWN_NAMES: readonly string[] = [
  CONFIG_FILE_SETTING,
  'POSTERN_URL',
  'POSTERN_TOKEN',
  'POSTERN_CONTROL_URL',
];

/** A password on a command line is visible to every local user (`ps`): no flag for it. */
export const NOT_A_FLAG: readonly SettingName[] = ['POSTERN_ADMIN_PASSWORD'];

/** `POSTERN_POOL_SIZE` <-> `--pool-size`. */
export function flagOf(name: string): string {
  return name.slice('POSTERN_'.length).toLowerCase().replace(/_/g, '-');
}
