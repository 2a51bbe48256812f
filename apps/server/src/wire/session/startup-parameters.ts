import { PgErrors } from '#wire';

/**
 * Startup parameters that would change who the session is or take it out of
 * the gateway's hands, refused with 08P01 before authentication (PROTO-07):
 * - `role`, `session_authorization`: another identity than the database's
 *   reader or writer role;
 * - `replication`: a walsender instead of a session (the relay speaks the
 *   normal protocol only);
 * - `local_preload_libraries`: loaded at backend start, and pinned empty by
 *   the gateway on every upstream connection;
 * - `is_superuser`, `session_preload_libraries`: internal or superuser-only,
 *   named so the answer does not depend on the pooled connection's state.
 * Everything else is applied upstream as the client's session setting, and
 * PostgreSQL decides: an unknown name, a bad value or a parameter this role
 * may not set gets PostgreSQL's own error and SQLSTATE.
 */
const REFUSED = new Set([
  'role',
  'session_authorization',
  'replication',
  'local_preload_libraries',
  'session_preload_libraries',
  'is_superuser',
]);

/** Consumed by the gateway itself (`_pq_.*` were answered by NegotiateProtocolVersion). */
const GATEWAY_KEYS = new Set(['user', 'database']);

/**
 * The client's session settings from its StartupMessage, in the order
 * PostgreSQL applies them: `options` first, then the named parameters, a
 * later value of the same setting replacing an earlier one. Names are
 * compared case-insensitively, as PostgreSQL does, and kept lowercase.
 */
export function upstreamParameters(params: ReadonlyMap<string, string>): Record<string, string> {
  const settings = new Map<string, string>();
  const set = (name: string, value: string) => {
    const key = checked(name);
    settings.delete(key); // a later value is also applied later
    settings.set(key, value);
  };
  const options = params.get('options');
  if (options !== undefined) for (const [name, value] of parseOptions(options)) set(name, value);
  for (const [name, value] of params) {
    if (GATEWAY_KEYS.has(name) || name === 'options' || name.startsWith('_pq_.')) continue;
    set(name, value);
  }
  return Object.fromEntries(settings);
}

function checked(name: string): string {
  const key = name.toLowerCase();
  if (REFUSED.has(key) || key === '' || key.includes('\0')) {
    throw PgErrors.protocolViolation(`unsupported startup parameter: ${name}`);
  }
  return key;
}

/**
 * Splits `options` as PostgreSQL's pg_split_opts does (whitespace separates,
 * backslash escapes the next character) and accepts `-c name=value`,
 * `-cname=value` and `--name=value`. PostgreSQL's other command-line
 * switches (`-B`, `-d`, `-f`, ...) are refused: most name server-wide
 * settings no session may change, and none is used by drivers.
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
