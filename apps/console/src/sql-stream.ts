import { ApiError, databasePath, errorFromBody, request } from './api';

export interface Field {
  readonly name: string;
  readonly dataTypeID: number;
}

/** What the runner shows: at most `shown` rows are kept, the rest only counted. */
export interface SqlResult {
  readonly fields: readonly Field[];
  readonly rows: readonly unknown[][];
  readonly rowsReceived: number;
  readonly command: string | null;
  readonly rowCount: number | null;
  /** An error PostgreSQL or a guardrail raised after rows had arrived (e.g. a row limit). */
  readonly lateError: ApiError | null;
}

/**
 * Runs one statement with the NDJSON answer, so a large result streams instead of hitting the
 * JSON answer's cap, and the browser keeps only the first `keep` rows. Aborting `signal` hangs
 * up, and the gateway cancels the statement in PostgreSQL.
 */
export async function runStatement(
  database: string,
  sql: string,
  keep: number,
  signal: AbortSignal,
  onProgress: (received: number) => void,
): Promise<SqlResult> {
  const response = await request('POST', `${databasePath(database)}/query`, {
    body: { sql },
    signal,
    accept: 'application/x-ndjson',
  });
  let fields: Field[] = [];
  const rows: unknown[][] = [];
  let received = 0;
  let command: string | null = null;
  let rowCount: number | null = null;
  let lateError: ApiError | null = null;
  const handle = (line: string) => {
    if (!line.trim()) return;
    const item = JSON.parse(line) as unknown;
    if (Array.isArray(item)) {
      received++;
      if (rows.length < keep) rows.push(item);
      return;
    }
    const record = item as Record<string, unknown>;
    if (Array.isArray(record.fields)) fields = record.fields as Field[];
    else if (record.error) lateError = errorFromBody(400, record.error as Record<string, unknown>);
    else if ('command' in record) {
      command = (record.command as string | null) ?? null;
      rowCount = (record.rowCount as number | null) ?? null;
    }
  };
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += value;
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      handle(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
    }
    onProgress(received);
  }
  handle(buffer);
  return { fields, rows, rowsReceived: received, command, rowCount, lateError };
}

/** Names of the built-in types the gateway reports by OID. */
const TYPE_NAMES: Record<number, string> = {
  16: 'bool',
  17: 'bytea',
  18: 'char',
  19: 'name',
  20: 'int8',
  21: 'int2',
  23: 'int4',
  25: 'text',
  26: 'oid',
  114: 'json',
  142: 'xml',
  650: 'cidr',
  700: 'float4',
  701: 'float8',
  869: 'inet',
  829: 'macaddr',
  1000: 'bool[]',
  1001: 'bytea[]',
  1005: 'int2[]',
  1007: 'int4[]',
  1009: 'text[]',
  1016: 'int8[]',
  1021: 'float4[]',
  1022: 'float8[]',
  1042: 'bpchar',
  1043: 'varchar',
  1015: 'varchar[]',
  1082: 'date',
  1083: 'time',
  1114: 'timestamp',
  1184: 'timestamptz',
  1186: 'interval',
  1231: 'numeric[]',
  1266: 'timetz',
  1560: 'bit',
  1562: 'varbit',
  1700: 'numeric',
  2950: 'uuid',
  2951: 'uuid[]',
  3802: 'jsonb',
  3807: 'jsonb[]',
  199: 'json[]',
  1115: 'timestamp[]',
  1182: 'date[]',
  1185: 'timestamptz[]',
  2249: 'record',
  2278: 'void',
  705: 'unknown',
  3614: 'tsvector',
  3904: 'int4range',
  3926: 'int8range',
};

export function typeName(oid: number): string {
  return TYPE_NAMES[oid] ?? `oid ${oid}`;
}

/** Right-aligned in the grid. */
export function isNumericType(oid: number): boolean {
  return [20, 21, 23, 26, 700, 701, 1700].includes(oid);
}
