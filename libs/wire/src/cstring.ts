import { Buffer } from 'node:buffer';
import { PgErrors } from './pg-error.js';

/*
 * Fatal decoding: lenient decoding would map different byte strings to the same U+FFFD-laden
 * name, so a role or database checked by the gateway could differ from the one PostgreSQL sees.
 * ignoreBOM keeps a leading U+FEFF in the value instead of silently dropping it.
 */
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes bytes from an untrusted peer as UTF-8, refusing invalid sequences with 08P01. */
export function decodeUtf8(bytes: Buffer, what: string): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw PgErrors.protocolViolation(`invalid UTF-8 in ${what}`);
  }
}

/**
 * Reads a NUL-terminated string starting at `offset`.
 * Returns the decoded string and the offset just past its terminator.
 */
export function readCString(body: Buffer, offset: number, what: string): [string, number] {
  const end = body.indexOf(0, offset);
  if (end === -1) throw PgErrors.protocolViolation(`missing terminator in ${what}`);
  return [decodeUtf8(body.subarray(offset, end), what), end + 1];
}
