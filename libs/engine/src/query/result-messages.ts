import { PgErrors } from '#wire';

/*
 * Parsers for the backend messages of a query result (protocol "Message
 * Formats"). The upstream is an authenticated PostgreSQL, but a short or
 * inconsistent message is still refused rather than read past its end.
 */

/** A result column as the HTTP API shows it (node-postgres' `fields`). */
export interface ResultField {
  readonly name: string;
  readonly dataTypeID: number;
}

/** RowDescription: Int16 count, then per field: name, table OID, column, type OID, size, modifier, format. */
export function parseRowDescription(body: Buffer): ResultField[] {
  const count = readInt16(body, 0);
  const fields: ResultField[] = [];
  let offset = 2;
  for (let i = 0; i < count; i++) {
    const end = body.indexOf(0, offset);
    if (end < 0 || end + 19 > body.length) throw malformed('RowDescription');
    const name = body.toString('utf8', offset, end);
    // Skip the terminator, table OID (4) and column number (2).
    const dataTypeID = body.readUInt32BE(end + 7);
    fields.push({ name, dataTypeID });
    offset = end + 19;
  }
  if (offset !== body.length) throw malformed('RowDescription');
  return fields;
}

/** DataRow: Int16 count, then per column Int32 length (-1: NULL) and that many bytes, decoded as UTF-8. */
export function parseDataRow(body: Buffer): Array<string | null> {
  const count = readInt16(body, 0);
  const values: Array<string | null> = new Array(count);
  let offset = 2;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > body.length) throw malformed('DataRow');
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length === -1) {
      values[i] = null;
      continue;
    }
    if (length < 0 || offset + length > body.length) throw malformed('DataRow');
    values[i] = body.toString('utf8', offset, offset + length);
    offset += length;
  }
  if (offset !== body.length) throw malformed('DataRow');
  return values;
}

/** What a statement did, as node-postgres reports it: `INSERT 0 3` -> INSERT, 3; `CREATE TABLE` -> CREATE, null. */
export interface CommandSummary {
  readonly command: string | null;
  readonly rowCount: number | null;
}

export function parseCommandComplete(body: Buffer): CommandSummary {
  const end = body.indexOf(0);
  if (end !== body.length - 1) throw malformed('CommandComplete');
  const tag = body.toString('utf8', 0, end);
  const words = tag.split(' ');
  const last = words[words.length - 1]!;
  const rowCount = words.length > 1 && /^\d+$/.test(last) ? Number(last) : null;
  return { command: words[0] || null, rowCount };
}

function readInt16(body: Buffer, offset: number): number {
  if (body.length < offset + 2) throw malformed('message');
  return body.readInt16BE(offset);
}

function malformed(what: string): Error {
  return PgErrors.protocolViolation(`malformed ${what} from the upstream`);
}
