import { Buffer } from 'node:buffer';
import { decodeUtf8 } from './cstring.js';
import {
  MAX_CANCEL_KEY_LENGTH,
  MIN_CANCEL_KEY_LENGTH,
  PROTOCOL_MAJOR,
  StartupCode,
} from './message-types.js';
import { PgErrors } from './pg-error.js';

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: Buffer }
  /** PostgreSQL answers nothing on a cancel connection, not even to a malformed request. */
  | { kind: 'malformed-cancel'; reason: string }
  | { kind: 'startup'; majorVersion: number; minorVersion: number; params: Map<string, string> };

const LAYOUT_ERROR = 'invalid startup packet layout: expected terminator as last byte';

/**
 * Parses the body of an untyped startup frame (what FrameReader.readStartupFrame returns).
 * Which parameters are acceptable is the caller's decision; this only checks the layout.
 */
export function parseStartupPacket(body: Buffer): StartupPacket {
  if (body.length < 4) throw PgErrors.protocolViolation('invalid length of startup packet');
  const code = body.readUInt32BE(0);
  switch (code) {
    case StartupCode.SslRequest:
    case StartupCode.GssEncRequest:
      // PostgreSQL ignores trailing bytes here; we refuse them so nothing can ride along
      // with a request that precedes the TLS handshake.
      if (body.length !== 4) throw PgErrors.protocolViolation('invalid length of startup packet');
      return { kind: code === StartupCode.SslRequest ? 'ssl' : 'gssenc' };
    case StartupCode.CancelRequest:
      return parseCancelRequest(body);
  }
  const majorVersion = code >>> 16;
  const minorVersion = code & 0xffff;
  if (majorVersion !== PROTOCOL_MAJOR) {
    throw PgErrors.unsupportedProtocol(majorVersion, minorVersion);
  }
  return { kind: 'startup', majorVersion, minorVersion, params: parseParams(body.subarray(4)) };
}

function parseCancelRequest(body: Buffer): StartupPacket {
  if (body.length < 8) {
    return { kind: 'malformed-cancel', reason: 'invalid length of cancel request packet' };
  }
  const keyLength = body.length - 8;
  if (keyLength < MIN_CANCEL_KEY_LENGTH || keyLength > MAX_CANCEL_KEY_LENGTH) {
    return {
      kind: 'malformed-cancel',
      reason: 'invalid length of cancel key in cancel request packet',
    };
  }
  // Copied so the key does not pin the (possibly much larger) receive buffer.
  return {
    kind: 'cancel',
    processId: body.readUInt32BE(4),
    secretKey: Buffer.from(body.subarray(8)),
  };
}

/**
 * Layout: (name NUL value NUL)* NUL. Stricter than PostgreSQL in two ways, both to keep the
 * gateway's view of the parameters identical to what it forwards: an empty name before the
 * final terminator is refused (PostgreSQL would stop reading there), and so is a duplicate
 * name (PostgreSQL lets the last one win).
 */
function parseParams(region: Buffer): Map<string, string> {
  if (region.length === 0 || region[region.length - 1] !== 0) {
    throw PgErrors.protocolViolation(LAYOUT_ERROR);
  }
  const last = region.length - 1;
  const params = new Map<string, string>();
  let offset = 0;
  while (offset < last) {
    const nameEnd = region.indexOf(0, offset);
    if (nameEnd === offset) {
      throw PgErrors.protocolViolation('invalid startup packet layout: empty parameter name');
    }
    // The value must end before the final terminator, or the pairs are unbalanced.
    const valueEnd = nameEnd < last ? region.indexOf(0, nameEnd + 1) : -1;
    if (valueEnd === -1 || valueEnd === last) throw PgErrors.protocolViolation(LAYOUT_ERROR);
    const name = decodeUtf8(region.subarray(offset, nameEnd), 'startup packet');
    const value = decodeUtf8(region.subarray(nameEnd + 1, valueEnd), 'startup packet');
    if (params.has(name)) {
      throw PgErrors.protocolViolation(`duplicate startup parameter "${name}"`);
    }
    params.set(name, value);
    offset = valueEnd + 1;
  }
  return params;
}
