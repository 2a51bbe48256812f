import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { OTHER_KNOWN_NAMES, PG_SETTING_PREFIX, SETTING_NAMES } from './settings';

// smol-toml ships a CommonJS build, but its typings describe the ES module only.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parse: parseToml } = require('smol-toml') as { parse(text: string): unknown };

/** The file's settings under their environment names, and where each came from. */
export interface FileSettings {
  readonly values: Record<string, string>;
  /** `pool.size in postern.toml`: how a problem names a value from the file. */
  readonly labels: Record<string, string>;
  readonly problems: string[];
}

const EMPTY: FileSettings = { values: {}, labels: {}, problems: [] };
const KNOWN = new Set<string>(SETTING_NAMES);

/**
 * The configuration file, if any: `explicit` (from `--config` or `POSTERN_CONFIG`, which must
 * exist), else `postern.toml` in `cwd` when there is one. TOML, JSON or YAML by extension.
 * A key is the setting's environment name without `POSTERN_`, in snake or camel case
 * (`pool_size`, `poolSize`), or nested in a table (`[pool] size`); the `[postgres]` table
 * holds the embedded PostgreSQL's settings (`max_connections` is `POSTERN_PG_MAX_CONNECTIONS`).
 */
export function readConfigFile(explicit: string | undefined, cwd: string): FileSettings {
  const file =
    explicit !== undefined ? path.resolve(cwd, explicit) : path.join(cwd, 'postern.toml');
  if (explicit === undefined && !existsSync(file)) return EMPTY;
  const name = path.basename(file);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ...EMPTY, problems: [`configuration file ${file} cannot be read (${code(err)})`] };
  }
  let document: unknown;
  try {
    document = parseDocument(file, text);
  } catch (err) {
    // The parsers' messages quote the offending line, which may hold a secret: position only.
    return { ...EMPTY, problems: [`${name} is not valid ${formatOf(file)}${position(err)}`] };
  }
  if (!isTable(document)) {
    return { ...EMPTY, problems: [`${name} must hold a table of settings`] };
  }
  const found: FileSettings = { values: {}, labels: {}, problems: [] };
  collect(document, [], name, found);
  return found;
}

function parseDocument(file: string, text: string): unknown {
  switch (formatOf(file)) {
    case 'JSON':
      return JSON.parse(text);
    case 'YAML':
      return parseYaml(text);
    default:
      return parseToml(text);
  }
}

function formatOf(file: string): 'TOML' | 'JSON' | 'YAML' {
  const ext = path.extname(file).toLowerCase();
  return ext === '.json' ? 'JSON' : ext === '.yaml' || ext === '.yml' ? 'YAML' : 'TOML';
}

function collect(table: Record<string, unknown>, keys: string[], file: string, into: FileSettings) {
  for (const [key, value] of Object.entries(table)) {
    const at = [...keys, key];
    const label = `${at.join('.')} in ${file}`;
    if (isTable(value)) {
      collect(value, at, file, into);
      continue;
    }
    const name = settingName(at);
    if (!KNOWN.has(name)) {
      into.problems.push(
        OTHER_KNOWN_NAMES.includes(name)
          ? `${label} cannot be set in the file`
          : `${label} is not a Postern setting`,
      );
      continue;
    }
    const text = scalarText(value);
    if (text === undefined) {
      into.problems.push(`${label} must be a single value (text, number or true/false)`);
      continue;
    }
    into.values[name] = text;
    into.labels[name] = label;
  }
}

/** `['pool', 'sizePerUser']` -> `POSTERN_POOL_SIZE_PER_USER`; `['postgres', 'work_mem']` -> `POSTERN_PG_WORK_MEM`. */
function settingName(keys: string[]): string {
  const words = keys.map((key) =>
    key
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .replace(/-/g, '_')
      .toUpperCase(),
  );
  if (words.length > 1 && words[0] === 'POSTGRES') {
    return PG_SETTING_PREFIX + words.slice(1).join('_');
  }
  return `POSTERN_${words.join('_')}`;
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  return undefined;
}

function isTable(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? 'unreadable';
}

function position(err: unknown): string {
  const { line, linePos } = err as { line?: number; linePos?: { line: number }[] };
  const at = line ?? linePos?.[0]?.line;
  return typeof at === 'number' ? ` (line ${at})` : '';
}
