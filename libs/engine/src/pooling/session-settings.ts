import { quoteLiteral } from '../provisioning/sql';

/**
 * A session's settings under transaction pooling: what the client set at
 * startup and with SET (not SET LOCAL), by setting name. Each upstream
 * connection keeps the settings its last client left, so before a client's
 * transaction runs on a connection the differences are applied, and after
 * a transaction that may have changed settings (SET, RESET, set_config())
 * they are read back from PostgreSQL itself: every parameter is tracked,
 * not only those PostgreSQL reports with ParameterStatus, and nothing
 * depends on parsing what SET accepts.
 */
export type SessionSettings = ReadonlyMap<string, string>;

/**
 * The session-level settings of the connection, as set_config() takes
 * them back (`setting` is in the parameter's base unit).
 */
export const SESSION_SETTINGS_QUERY =
  "SELECT name, setting FROM pg_catalog.pg_settings WHERE source = 'session' ORDER BY name";

/**
 * Settings keyed by their name in lower case: PostgreSQL compares setting
 * names case-insensitively (`TimeZone`, `timezone`), so must the diff.
 */
export function sessionSettings(
  entries: Iterable<readonly [string, string]> | Readonly<Record<string, string>>,
): SessionSettings {
  const pairs: Iterable<readonly [string, string]> =
    Symbol.iterator in entries
      ? (entries as Iterable<readonly [string, string]>)
      : Object.entries(entries);
  const settings = new Map<string, string>();
  for (const [name, value] of pairs) settings.set(name.toLowerCase(), value);
  return settings;
}

/**
 * One simple-query string that turns a connection whose session settings
 * are `current` into one whose settings are `wanted`, or null when they
 * are the same. Values go through set_config() (the same text a startup
 * packet or SET would take); settings the client does not have are RESET.
 */
export function settingsChange(current: SessionSettings, wanted: SessionSettings): string | null {
  const sets: string[] = [];
  for (const [name, value] of wanted) {
    if (current.get(name) !== value) {
      sets.push(`pg_catalog.set_config(${quoteLiteral(name)}, ${quoteLiteral(value)}, false)`);
    }
  }
  const resets: string[] = [];
  for (const name of current.keys()) {
    if (!wanted.has(name)) resets.push(`RESET ${quoteSettingName(name)}`);
  }
  if (sets.length === 0 && resets.length === 0) return null;
  const statements = sets.length ? [`SELECT ${sets.join(', ')}`, ...resets] : resets;
  return statements.join('; ');
}

/**
 * Setting names come from PostgreSQL (pg_settings) or a startup packet the
 * gateway already accepted; custom ones have a dot (`app.tenant`), each
 * part an identifier, so each part is double-quoted.
 */
function quoteSettingName(name: string): string {
  return name
    .split('.')
    .map((part) => `"${part.replaceAll('"', '""')}"`)
    .join('.');
}
