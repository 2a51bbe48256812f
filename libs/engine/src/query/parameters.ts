import { isLosslessNumber, stringify } from 'lossless-json';

/**
 * A statement and its parameters as JSON gives them. Parameters travel in a
 * Bind message, never inside the SQL text, as text whose type PostgreSQL
 * infers from the placeholder (`$1`) exactly as for any driver that sends
 * untyped text parameters.
 */
export interface Statement {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/** PostgreSQL's limit: a Bind message counts parameters in an Int16. */
export const MAX_PARAMETERS = 65535;

/**
 * null -> NULL; booleans, numbers and strings -> their text; arrays and
 * objects -> JSON text (for json/jsonb placeholders; an array parameter
 * wants a PostgreSQL array literal string such as `{1,2}`). Numbers parsed
 * with lossless-json (`LosslessNumber`, as the HTTP query route parses its
 * body) keep the text they were written with, so `12345678901234567890` and
 * `1e400` reach PostgreSQL exactly, also inside arrays and objects (HARD-17).
 */
export function parameterText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (isLosslessNumber(value)) return value.value;
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return String(value);
    default:
      return stringify(value) ?? null;
  }
}
