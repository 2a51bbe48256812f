import { PgErrors } from '#wire';

/**
 * Session settings a client may choose at startup (directly or as `-c` in
 * `options`); PostgreSQL compares setting names case-insensitively. The
 * timeouts are here because drivers (node-postgres) send them.
 */
const ALLOWED_SETTINGS = new Map(
  [
    'application_name',
    'client_encoding',
    'DateStyle',
    'TimeZone',
    'IntervalStyle',
    'extra_float_digits',
    'search_path',
    'statement_timeout',
    'lock_timeout',
    'idle_in_transaction_session_timeout',
  ].map((name) => [name.toLowerCase(), name]),
);

/** Consumed by the gateway itself (`_pq_.*` were answered by NegotiateProtocolVersion). */
const GATEWAY_KEYS = new Set(['user', 'database']);

/**
 * The upstream startup parameters for a client's StartupMessage. Anything a
 * client could use to pick a role, a replication connection or weaken
 * read-only mode (`role`, `session_authorization`, `replication`,
 * `default_transaction_read_only`, ...) and every unknown key is refused
 * with 08P01 before any upstream exists (PROTO-07, PgBouncer's rule).
 */
export function upstreamParameters(params: ReadonlyMap<string, string>): Record<string, string> {
  const forwarded: Record<string, string> = {};
  for (const [name, value] of params) {
    if (GATEWAY_KEYS.has(name) || name.startsWith('_pq_.')) continue;
    if (name === 'options') {
      for (const [key, setting] of parseOptions(value)) forwarded[allowed(key)] = setting;
      continue;
    }
    forwarded[allowed(name)] = value;
  }
  return forwarded;
}

function allowed(name: string): string {
  const canonical = ALLOWED_SETTINGS.get(name.toLowerCase());
  if (!canonical) throw PgErrors.protocolViolation(`unsupported startup parameter: ${name}`);
  return canonical;
}

/**
 * Splits `options` as PostgreSQL's pg_split_opts does (whitespace separates,
 * backslash escapes the next character) and accepts only `-c name=value`,
 * `-cname=value` and `--name=value`.
 */
export function parseOptions(options: string): Array<[string, string]> {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  for (let i = 0; i < options.length; i++) {
    const ch = options[i]!;
    if (ch === '\\' && i + 1 < options.length) {
      word += options[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (inWord) words.push(word);

  const settings: Array<[string, string]> = [];
  for (let i = 0; i < words.length; i++) {
    const current = words[i]!;
    let assignment: string | undefined;
    if (current === '-c') assignment = words[++i];
    else if (current.startsWith('-c')) assignment = current.slice(2);
    else if (current.startsWith('--')) assignment = current.slice(2);
    const eq = assignment?.indexOf('=') ?? -1;
    if (assignment === undefined || eq <= 0) {
      throw PgErrors.protocolViolation(`unsupported startup option: ${current}`);
    }
    // PostgreSQL treats '-' in option names as '_'.
    settings.push([assignment.slice(0, eq).replace(/-/g, '_'), assignment.slice(eq + 1)]);
  }
  return settings;
}
