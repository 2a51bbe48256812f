import { Buffer } from 'node:buffer';
import { MAX_CANCEL_KEY_LENGTH, MIN_CANCEL_KEY_LENGTH } from './message-types.js';
import { PgErrors } from './pg-error.js';
import type { TransactionStatus } from './backend-messages.js';

/*
 * Parsers for backend message bodies received from the upstream server. Strings are decoded
 * leniently: the upstream is authenticated by then, and losing its error text to one bad byte
 * would hide the reason a connection failed.
 */

function upstreamCString(body: Buffer, offset: number, what: string): [string, number] {
  const end = body.indexOf(0, offset);
  if (end === -1) throw PgErrors.protocolViolation(`missing terminator in ${what}`);
  return [body.toString('utf8', offset, end), end + 1];
}

/** ErrorResponse / NoticeResponse: (Byte1 code, String value)* Byte1 0. Keyed by code char. */
export function parseErrorFields(body: Buffer): Record<string, string> {
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  let offset = 0;
  while (offset < body.length && body[offset] !== 0) {
    const code = String.fromCharCode(body[offset]);
    const [value, next] = upstreamCString(body, offset + 1, 'error response field');
    fields[code] = value;
    offset = next;
  }
  if (offset !== body.length - 1) {
    throw PgErrors.protocolViolation('invalid error response: expected terminator as last byte');
  }
  return fields;
}

export interface AuthenticationRequest {
  code: number;
  data: Buffer;
}

/** Authentication ('R'): Int32 code followed by code-specific data. */
export function parseAuthentication(body: Buffer): AuthenticationRequest {
  if (body.length < 4) throw PgErrors.protocolViolation('invalid authentication request');
  return { code: body.readInt32BE(0), data: body.subarray(4) };
}

export function parseParameterStatus(body: Buffer): [name: string, value: string] {
  const [name, offset] = upstreamCString(body, 0, 'ParameterStatus');
  const [value, end] = upstreamCString(body, offset, 'ParameterStatus');
  if (end !== body.length) throw PgErrors.protocolViolation('invalid ParameterStatus message');
  return [name, value];
}

export interface BackendKey {
  processId: number;
  secretKey: Buffer;
}

/** BackendKeyData: Int32 pid (read unsigned, as everywhere in this codec) and a 4..256 byte key. */
export function parseBackendKeyData(body: Buffer): BackendKey {
  const keyLength = body.length - 4;
  if (keyLength < MIN_CANCEL_KEY_LENGTH || keyLength > MAX_CANCEL_KEY_LENGTH) {
    throw PgErrors.protocolViolation('invalid BackendKeyData message');
  }
  return { processId: body.readUInt32BE(0), secretKey: Buffer.from(body.subarray(4)) };
}

export function parseReadyForQuery(body: Buffer): TransactionStatus {
  const status = body.length === 1 ? String.fromCharCode(body[0]) : '';
  if (status !== 'I' && status !== 'T' && status !== 'E') {
    throw PgErrors.protocolViolation('invalid ReadyForQuery message');
  }
  return status;
}
