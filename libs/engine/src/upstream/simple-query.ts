import { BackendType, parseErrorFields, parseParameterStatus, parseReadyForQuery } from '#wire';
import type { TransactionStatus } from '#wire';
import { parseDataRow } from '../query/result-messages';
import type { UpstreamConnection } from './upstream-connection';

/** The outcome of a query the gateway itself ran on an upstream session. */
export interface SimpleQueryResult {
  /** ParameterStatus changes the query caused (SET of reported settings). */
  readonly parameters: ReadonlyMap<string, string>;
  /** Rows of every statement, as text (the gateway's own small checks). */
  readonly rows: ReadonlyArray<ReadonlyArray<string | null>>;
  readonly error: Readonly<Record<string, string>> | null;
  readonly status: TransactionStatus;
}

/**
 * Runs one simple-protocol Query on an idle upstream session and reads up
 * to ReadyForQuery (session resets, settings and checks: small results).
 */
export async function runSimpleQuery(
  connection: UpstreamConnection,
  sql: string,
  maxMessageLength?: number,
): Promise<SimpleQueryResult> {
  const framed = connection.framed(maxMessageLength);
  const text = Buffer.from(`${sql}\0`, 'utf8');
  const header = Buffer.alloc(5);
  header.write('Q', 0, 'latin1');
  header.writeInt32BE(text.length + 4, 1);
  framed.write(Buffer.concat([header, text]));
  connection.sent();
  const parameters = new Map<string, string>();
  const rows: Array<Array<string | null>> = [];
  let error: Record<string, string> | null = null;
  for (;;) {
    const { type, body } = await framed.nextMessage();
    if (type === BackendType.ParameterStatus) {
      const [name, value] = parseParameterStatus(body);
      parameters.set(name, value);
    } else if (type === BackendType.DataRow) {
      rows.push(parseDataRow(body));
    } else if (type === BackendType.ErrorResponse) {
      error ??= parseErrorFields(body);
    } else if (type === BackendType.ReadyForQuery) {
      const status = parseReadyForQuery(body);
      connection.ready(status);
      return { parameters, rows, error, status };
    }
  }
}
