import { ArrayLiteralError, parseArrayLiteral } from './array-literal';
import { jsonNestingDepth, MAX_JSON_DEPTH } from './json-depth';
import { ARRAY_ELEMENT_OIDS, TypeOid } from './type-oids';

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** Turns one column's text (never NULL: that is null before a decoder is asked) into JSON. */
export type ValueDecoder = (text: string) => JsonValue;

/**
 * The JSON form of PostgreSQL's text output, by type OID. Numbers that
 * always fit a double stay numbers; int8 and numeric stay strings (they
 * exceed 2^53 and double precision); everything without a JSON equivalent
 * is PostgreSQL's text. Sessions run with DateStyle ISO, IntervalStyle
 * iso_8601, TimeZone UTC and bytea_output hex (see HTTP_SESSION_SETTINGS).
 */
export function decoderFor(typeOid: number): ValueDecoder {
  const scalar = SCALAR_DECODERS.get(typeOid);
  if (scalar) return scalar;
  const element = ARRAY_ELEMENT_OIDS.get(typeOid);
  if (element === undefined) return asText;
  const decodeElement = SCALAR_DECODERS.get(element) ?? asText;
  return (text) => {
    try {
      return parseArrayLiteral(text, decodeElement) as JsonValue[];
    } catch (err) {
      // PostgreSQL's own output always parses; should it not, its text is still the truth.
      if (err instanceof ArrayLiteralError) return text;
      throw err;
    }
  };
}

const asText: ValueDecoder = (text) => text;

/** int2, int4, oid: always within a double's exact range. */
const asInteger: ValueDecoder = (text) => Number(text);

/** float4, float8: numbers, except the three values JSON has no literal for. */
const asFloat: ValueDecoder = (text) =>
  text === 'NaN' || text === 'Infinity' || text === '-Infinity' ? text : Number(text);

const asBoolean: ValueDecoder = (text) => text === 't';

/**
 * json keeps its input text, which PostgreSQL validated; a parse failure would be a bug, not data loss.
 * A value nested deeper than MAX_JSON_DEPTH stays that text: printing it as
 * JSON would overflow the stack (HARD-17).
 */
const asJson: ValueDecoder = (text) => {
  if (jsonNestingDepth(text) > MAX_JSON_DEPTH) return text;
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
};

const asBase64: ValueDecoder = (text) => byteaBytes(text).toString('base64');

/** `2024-01-02 03:04:05.5+00` -> `2024-01-02T03:04:05.5+00:00` (RFC 3339); BC dates and infinities stay as printed. */
const asTimestamp: ValueDecoder = (text) => {
  const match = /^(\d{4,}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::\d\d){0,2})?$/.exec(
    text,
  );
  if (!match) return text;
  return `${match[1]}T${match[2]}${match[3] === undefined ? '' : fullOffset(match[3])}`;
};

/** timetz: `03:04:05+05:30`; PostgreSQL drops `:00` minutes, ISO 8601 extended format keeps them. */
const asTimeTz: ValueDecoder = (text) => {
  const match = /^(\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d(?::\d\d){0,2})$/.exec(text);
  return match ? `${match[1]}${fullOffset(match[2]!)}` : text;
};

function fullOffset(offset: string): string {
  return offset.length === 3 ? `${offset}:00` : offset;
}

const SCALAR_DECODERS: ReadonlyMap<number, ValueDecoder> = new Map([
  [TypeOid.bool, asBoolean],
  [TypeOid.bytea, asBase64],
  [TypeOid.int2, asInteger],
  [TypeOid.int4, asInteger],
  [TypeOid.oid, asInteger],
  [TypeOid.float4, asFloat],
  [TypeOid.float8, asFloat],
  [TypeOid.json, asJson],
  [TypeOid.jsonb, asJson],
  [TypeOid.timestamp, asTimestamp],
  [TypeOid.timestamptz, asTimestamp],
  [TypeOid.timetz, asTimeTz],
]);

/**
 * bytea text in either output format: `hex` (`\x0a0b`), which sessions are
 * set to, or `escape` (octal `\ooo` and `\\`), should a statement SET it.
 */
export function byteaBytes(text: string): Buffer {
  if (text.startsWith('\\x')) return Buffer.from(text.slice(2), 'hex');
  const out: number[] = [];
  for (let i = 0; i < text.length;) {
    if (text[i] === '\\' && text[i + 1] === '\\') {
      out.push(0x5c);
      i += 2;
    } else if (text[i] === '\\' && /^[0-3][0-7]{2}$/.test(text.slice(i + 1, i + 4))) {
      out.push(parseInt(text.slice(i + 1, i + 4), 8));
      i += 4;
    } else {
      // Printable characters are ASCII in escape format.
      out.push(text.charCodeAt(i) & 0xff);
      i++;
    }
  }
  return Buffer.from(out);
}
