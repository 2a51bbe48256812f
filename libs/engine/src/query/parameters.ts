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
 * wants a PostgreSQL array literal string such as `{1,2}`).
 */
export function parameterText(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'string':
      return value;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      return String(value);
    default:
      return JSON.stringify(value);
  }
}
