import { Buffer } from 'node:buffer';
import {
  AuthCode,
  BackendType,
  MAX_CANCEL_KEY_LENGTH,
  MIN_CANCEL_KEY_LENGTH,
  PROTOCOL_MAJOR,
} from './message-types.js';
import type { PgError, PgSeverity } from './pg-error.js';

export type TransactionStatus = 'I' | 'T' | 'E';

export interface ErrorFields {
  severity: PgSeverity;
  sqlstate: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** Frames a typed message: one allocation for the header, one concat for the whole. */
function message(type: number, parts: readonly Buffer[]): Buffer {
  let bodyLength = 0;
  for (const part of parts) bodyLength += part.length;
  const header = Buffer.allocUnsafe(5);
  header[0] = type;
  header.writeInt32BE(bodyLength + 4, 1);
  return Buffer.concat([header, ...parts], 5 + bodyLength);
}

function int32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeInt32BE(value);
  return out;
}

function uint32(value: number): Buffer {
  const out = Buffer.allocUnsafe(4);
  out.writeUInt32BE(value);
  return out;
}

/** A NUL inside a string would end it early and let the rest be read as further fields. */
function cstring(value: string): Buffer {
  if (value.includes('\0')) throw new RangeError('protocol string contains a NUL character');
  return Buffer.from(value + '\0', 'utf8');
}

const NUL = Buffer.from([0]);

function authentication(code: number, data?: Buffer): Buffer {
  return message(BackendType.Authentication, data ? [int32(code), data] : [int32(code)]);
}

function bytes(data: string | Buffer): Buffer {
  return typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
}

export function authenticationOk(): Buffer {
  return authentication(AuthCode.Ok);
}

export function authenticationCleartextPassword(): Buffer {
  return authentication(AuthCode.CleartextPassword);
}

export function authenticationSasl(mechanisms: readonly string[]): Buffer {
  if (mechanisms.length === 0) throw new RangeError('AuthenticationSASL needs a mechanism');
  return message(BackendType.Authentication, [
    int32(AuthCode.Sasl),
    ...mechanisms.map(cstring),
    NUL,
  ]);
}

export function authenticationSaslContinue(data: string | Buffer): Buffer {
  return authentication(AuthCode.SaslContinue, bytes(data));
}

export function authenticationSaslFinal(data: string | Buffer): Buffer {
  return authentication(AuthCode.SaslFinal, bytes(data));
}

export function parameterStatus(name: string, value: string): Buffer {
  return message(BackendType.ParameterStatus, [cstring(name), cstring(value)]);
}

/** processId is sent as an unsigned 32-bit value, matching parseStartupPacket's reading. */
export function backendKeyData(processId: number, secretKey: Buffer): Buffer {
  if (secretKey.length < MIN_CANCEL_KEY_LENGTH || secretKey.length > MAX_CANCEL_KEY_LENGTH) {
    throw new RangeError(`cancel key length ${secretKey.length} is outside 4..256`);
  }
  return message(BackendType.BackendKeyData, [uint32(processId), secretKey]);
}

export function readyForQuery(status: TransactionStatus): Buffer {
  return message(BackendType.ReadyForQuery, [Buffer.from(status, 'latin1')]);
}

/*
 * Error text often quotes client input; an error path that throws is worse than a mangled
 * character, so NULs are replaced here rather than rejected as in cstring().
 */
function field(code: string, value: string): Buffer {
  return Buffer.from(code + value.replaceAll('\0', '\uFFFD') + '\0', 'utf8');
}

function errorLike(type: number, err: PgError | ErrorFields): Buffer {
  const parts = [
    field('S', err.severity),
    // V is the never-localized severity (protocol 3.0, PostgreSQL 9.6+); ours is never localized.
    field('V', err.severity),
    field('C', err.sqlstate),
    field('M', err.message),
  ];
  if (err.detail !== undefined) parts.push(field('D', err.detail));
  if (err.hint !== undefined) parts.push(field('H', err.hint));
  parts.push(NUL);
  return message(type, parts);
}

export function errorResponse(err: PgError | ErrorFields): Buffer {
  return errorLike(BackendType.ErrorResponse, err);
}

export function noticeResponse(notice: PgError | ErrorFields): Buffer {
  return errorLike(BackendType.NoticeResponse, notice);
}

export function negotiateProtocolVersion(
  newestMinor: number,
  unsupportedOptions: readonly string[],
): Buffer {
  if (!Number.isInteger(newestMinor) || newestMinor < 0 || newestMinor > 0xffff) {
    throw new RangeError(`invalid protocol minor version ${newestMinor}`);
  }
  return message(BackendType.NegotiateProtocolVersion, [
    int32((PROTOCOL_MAJOR << 16) | newestMinor),
    int32(unsupportedOptions.length),
    ...unsupportedOptions.map(cstring),
  ]);
}

/** The one-byte answer to SSLRequest (and, with false, to GSSENCRequest); not a framed message. */
export function sslResponse(accept: boolean): Buffer {
  return Buffer.from(accept ? 'S' : 'N', 'latin1');
}
