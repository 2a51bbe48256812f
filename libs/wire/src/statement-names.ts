import { Buffer } from 'node:buffer';
import { FrontendType as FE } from './message-types.js';
import { PgErrors } from './pg-error.js';

/**
 * The prepared-statement name in the extended-query messages that carry
 * one, read and replaced without decoding the rest: transaction pooling
 * maps the client's statement names to names of its own on each upstream
 * connection. Names are compared as bytes, as PostgreSQL does.
 *
 * - Parse:    name\0 query\0 int16 n, n × oid
 * - Bind:     portal\0 statement\0 ...
 * - Describe, Close: 'S' | 'P', name\0 (only 'S' names a statement)
 */

/** Where the statement name of a whole framed message sits, or null when it names none. */
interface NameSpan {
  readonly start: number;
  /** Index of the name's NUL terminator. */
  readonly end: number;
}

function nameSpan(message: Buffer): NameSpan | null {
  const type = message[0];
  let start = 5;
  if (type === FE.Bind) {
    start = message.indexOf(0, 5) + 1;
  } else if (type === FE.Describe || type === FE.Close) {
    if (message[5] !== 0x53 /* 'S' */) return null;
    start = 6;
  } else if (type !== FE.Parse) {
    return null;
  }
  const end = start === 0 ? -1 : message.indexOf(0, start);
  if (end === -1) throw PgErrors.protocolViolation('missing terminator in a statement name');
  return { start, end };
}

/** The statement a Parse, Bind, Describe('S') or Close('S') names ('' is the unnamed one); null for other messages. */
export function statementNameOf(message: Buffer): string | null {
  const span = nameSpan(message);
  return span ? message.toString('utf8', span.start, span.end) : null;
}

/** The same message naming `name` instead (a new buffer; the length field follows). */
export function withStatementName(message: Buffer, name: string): Buffer {
  const span = nameSpan(message);
  if (!span) return message;
  const nameBytes = Buffer.from(name, 'utf8');
  const out = Buffer.allocUnsafe(message.length - (span.end - span.start) + nameBytes.length);
  message.copy(out, 0, 0, span.start);
  nameBytes.copy(out, span.start);
  message.copy(out, span.start + nameBytes.length, span.end);
  out.writeInt32BE(out.length - 1, 1);
  return out;
}

/** What follows a Parse's name (query, parameter types): equal for statements that are the same. */
export function parseDefinition(parse: Buffer): Buffer {
  const span = nameSpan(parse);
  if (!span || parse[0] !== FE.Parse) throw new TypeError('not a Parse message');
  return parse.subarray(span.end + 1);
}

/** A Parse message preparing `definition` (as read by parseDefinition) under `name`. */
export function parseMessage(name: string, definition: Buffer): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const out = Buffer.allocUnsafe(5 + nameBytes.length + 1 + definition.length);
  out[0] = FE.Parse;
  out.writeInt32BE(out.length - 1, 1);
  nameBytes.copy(out, 5);
  out[5 + nameBytes.length] = 0;
  definition.copy(out, 6 + nameBytes.length);
  return out;
}

/** Close('S', name). */
export function closeStatementMessage(name: string): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  const out = Buffer.allocUnsafe(5 + 1 + nameBytes.length + 1);
  out[0] = FE.Close;
  out.writeInt32BE(out.length - 1, 1);
  out[5] = 0x53;
  nameBytes.copy(out, 6);
  out[out.length - 1] = 0;
  return out;
}
