import {
  L_CAT,
  MAPPED_TO_NOTHING,
  NON_ASCII_SPACE,
  PROHIBITED_OUTPUT,
  RAND_AL_CAT,
  UNASSIGNED,
  inTable,
} from './saslprep-tables';

/**
 * SASLprep (RFC 4013) exactly as PostgreSQL applies it to SCRAM passwords
 * (src/common/saslprep.c, used by pg_be_scram_build_secret and by libpq), because a
 * verifier built here must match the one PostgreSQL or libpq builds from the same password
 * (docs/security.md SCRAM-04):
 *
 * 1. Pure ASCII is used as is, with no checks at all (so "foo\x07bar" is kept).
 * 2. Input that is not valid UTF-8 is used as raw bytes.
 * 3. Map: C.1.2 non-ASCII spaces become U+0020 (checked first, so U+200B, which is in both
 *    tables, becomes a space), B.1 characters are removed. Empty result: raw bytes.
 * 4. The mapped string is checked for prohibited output (C.1.2-C.9), unassigned code
 *    points (A.1, Unicode 3.2) and the RFC 3454 §6 bidi rules. PostgreSQL checks the mapped
 *    but NOT normalised array; we do the same. Any failure: raw bytes, never an error,
 *    where a strict RFC 4013 implementation would refuse the password.
 * 5. Otherwise the result is the NFKC normalisation of the mapped string.
 *
 * Not reproduced: PostgreSQL reads C strings, so bytes after a NUL are ignored there. Callers
 * reject passwords containing NUL before they get here (docs/security.md SCRAM-09c). Nor is
 * the 1024-byte "password too long" limit of older PostgreSQL releases.
 *
 * May return the very buffer it was given (when the raw bytes are used).
 */
export function saslprepBytes(password: string | Uint8Array): Buffer {
  const raw = toBuffer(password);
  return prepare(raw) ?? raw;
}

/**
 * The string form: the prepared password, or the input itself when PostgreSQL would use
 * the raw bytes. A JS string with a lone surrogate has no exact UTF-8 form; Node encodes the
 * surrogate as U+FFFD, which is prohibited (C.6), so such input comes back unchanged and
 * both forms yield the same bytes. Callers holding bytes should use saslprepBytes.
 */
export function saslprep(password: string): string {
  const prepared = prepare(Buffer.from(password, 'utf8'));
  return prepared === null ? password : prepared.toString('utf8');
}

/** The prepared bytes, or null when the raw bytes are to be used unchanged. */
function prepare(raw: Buffer): Buffer | null {
  if (isAscii(raw)) return null;

  const text = decodeUtf8(raw);
  if (text === null) return null;

  const mapped: number[] = [];
  for (const char of text) {
    const codePoint = char.codePointAt(0) as number;
    if (inTable(codePoint, NON_ASCII_SPACE)) mapped.push(0x20);
    else if (!inTable(codePoint, MAPPED_TO_NOTHING)) mapped.push(codePoint);
  }
  if (mapped.length === 0) return null;
  if (mapped.some((cp) => inTable(cp, PROHIBITED_OUTPUT) || inTable(cp, UNASSIGNED))) return null;
  if (!bidiAcceptable(mapped)) return null;

  const normalized = normalizeNfkc(mapped);
  return normalized === null ? null : Buffer.from(normalized, 'utf8');
}

function toBuffer(value: string | Uint8Array): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.isBuffer(value)
    ? value
    : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function isAscii(bytes: Buffer): boolean {
  for (const byte of bytes) if (byte >= 0x80) return false;
  return true;
}

// WHATWG strict UTF-8 rejects what pg_utf8_islegal rejects: overlong forms, surrogates
// (ED A0..BF), code points above U+10FFFF and truncated sequences. ignoreBOM keeps a leading
// U+FEFF as a character (it is then mapped to nothing, as in PostgreSQL) instead of eating it.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeUtf8(bytes: Buffer): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * RFC 3454 §6: if the string contains any RandALCat character, it must contain no LCat
 * character, and must start and end with a RandALCat character. (Requirement 1, the C.8
 * characters, is already part of PROHIBITED_OUTPUT.)
 */
function bidiAcceptable(codePoints: number[]): boolean {
  if (!codePoints.some((cp) => inTable(cp, RAND_AL_CAT))) return true;
  if (codePoints.some((cp) => inTable(cp, L_CAT))) return false;
  return (
    inTable(codePoints[0], RAND_AL_CAT) && inTable(codePoints[codePoints.length - 1], RAND_AL_CAT)
  );
}

/**
 * NFKC by ICU. Only code points assigned in Unicode 3.2 reach this point (A.1 is rejected
 * above), and NFKC is stable for those across Unicode versions, so ICU and PostgreSQL's own
 * tables agree. A failure here must not take the process down (SCRAM-04c): raw bytes.
 */
function normalizeNfkc(codePoints: number[]): string | null {
  try {
    let text = '';
    for (const cp of codePoints) text += String.fromCodePoint(cp);
    return text.normalize('NFKC');
  } catch {
    return null;
  }
}
