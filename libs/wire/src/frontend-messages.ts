import { Buffer } from 'node:buffer';
import { decodeUtf8, readCString } from './cstring.js';
import { PgErrors } from './pg-error.js';

/*
 * Parsers for the bodies of authentication-phase 'p' messages. The type byte is shared, so the
 * caller picks the parser from the state it is in (password requested, SASL started or not).
 */

export interface SaslInitialResponse {
  mechanism: string;
  /**
   * The initial response; null when the length was -1 (none sent): PostgreSQL then answers
   * an empty SASLContinue and reads the client-first-message from the next SASLResponse.
   */
  data: Buffer | null;
}

/** SASLInitialResponse: String mechanism, Int32 length (-1: no data), Byte[length] data. */
export function parseSaslInitialResponse(body: Buffer): SaslInitialResponse {
  const [mechanism, offset] = readCString(body, 0, 'SASLInitialResponse');
  if (body.length - offset < 4) {
    throw PgErrors.protocolViolation('invalid SASLInitialResponse: missing data length');
  }
  const length = body.readInt32BE(offset);
  const rest = body.length - offset - 4;
  // Exact match both ways: trailing bytes would be data that the SASL exchange never sees.
  if (length === -1 ? rest !== 0 : length !== rest) {
    throw PgErrors.protocolViolation(
      'invalid SASLInitialResponse: data length does not match message length',
    );
  }
  return { mechanism, data: length === -1 ? null : body.subarray(offset + 4) };
}

/** SASLResponse: the whole body is mechanism data. */
export function parseSaslResponse(body: Buffer): Buffer {
  return body;
}

/** PasswordMessage: one NUL-terminated string filling the whole body. */
export function parsePasswordMessage(body: Buffer): string {
  const end = body.indexOf(0);
  if (end === -1 || end !== body.length - 1) {
    throw PgErrors.protocolViolation('invalid password packet layout');
  }
  return decodeUtf8(body.subarray(0, end), 'password packet');
}
