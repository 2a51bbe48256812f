import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ArrayLiteralError,
  byteaBytes,
  decoderFor,
  parameterText,
  parseArrayLiteral,
  parseCommandComplete,
  parseDataRow,
  parseRowDescription,
  TypeOid,
} from '#engine';

const decode = (oid: number, text: string) => decoderFor(oid)(text);

describe('decoderFor: PostgreSQL text output -> JSON', () => {
  test('numbers that fit a double stay numbers; int8 and numeric stay strings', () => {
    assert.equal(decode(TypeOid.int2, '-32768'), -32768);
    assert.equal(decode(TypeOid.int4, '2147483647'), 2147483647);
    assert.equal(decode(TypeOid.oid, '4294967295'), 4294967295);
    assert.equal(decode(TypeOid.float8, '1.5e+300'), 1.5e300);
    assert.equal(decode(TypeOid.float4, '-0.25'), -0.25);
    for (const special of ['NaN', 'Infinity', '-Infinity']) {
      assert.equal(decode(TypeOid.float8, special), special);
    }
    assert.equal(decode(TypeOid.int8, '9007199254740993'), '9007199254740993');
    assert.equal(
      decode(TypeOid.numeric, '123456789012345678901234567890.5'),
      '123456789012345678901234567890.5',
    );
  });

  test('bool, json, jsonb, bytea, uuid, text', () => {
    assert.equal(decode(TypeOid.bool, 't'), true);
    assert.equal(decode(TypeOid.bool, 'f'), false);
    assert.deepEqual(decode(TypeOid.jsonb, '{"a": [1, null, "x"]}'), { a: [1, null, 'x'] });
    assert.equal(decode(TypeOid.json, '"just a string"'), 'just a string');
    assert.equal(
      decode(TypeOid.bytea, '\\xdeadbeef00'),
      Buffer.from('deadbeef00', 'hex').toString('base64'),
    );
    assert.equal(
      decode(TypeOid.uuid, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'),
      'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
    );
    assert.equal(decode(TypeOid.text, 'NULL'), 'NULL');
    assert.equal(decode(99999, 'a user-defined type'), 'a user-defined type');
  });

  test('bytea in escape format too (a statement may SET bytea_output)', () => {
    assert.deepEqual([...byteaBytes('a\\000\\\\\\377z')], [0x61, 0, 0x5c, 0xff, 0x7a]);
  });

  test('timestamps become RFC 3339; dates, times and intervals stay as printed', () => {
    assert.equal(
      decode(TypeOid.timestamptz, '2024-02-29 23:59:59.123456+00'),
      '2024-02-29T23:59:59.123456+00:00',
    );
    assert.equal(
      decode(TypeOid.timestamptz, '1900-01-01 00:00:00+05:30'),
      '1900-01-01T00:00:00+05:30',
    );
    assert.equal(
      decode(TypeOid.timestamptz, '1850-01-01 00:00:00-00:01:15'),
      '1850-01-01T00:00:00-00:01:15',
    );
    assert.equal(decode(TypeOid.timestamp, '2024-01-02 03:04:05'), '2024-01-02T03:04:05');
    assert.equal(decode(TypeOid.timestamptz, 'infinity'), 'infinity');
    assert.equal(decode(TypeOid.timestamp, '0044-03-15 12:00:00 BC'), '0044-03-15 12:00:00 BC');
    assert.equal(decode(TypeOid.timetz, '03:04:05+02'), '03:04:05+02:00');
    assert.equal(decode(TypeOid.date, '2024-01-02'), '2024-01-02');
    assert.equal(decode(TypeOid.interval, 'P1Y2M3DT4H5M6S'), 'P1Y2M3DT4H5M6S');
  });

  test('arrays of built-in types become JSON arrays of the element mapping', () => {
    assert.deepEqual(decode(1007, '{1,NULL,-3}'), [1, null, -3]);
    assert.deepEqual(decode(1016, '{9007199254740993}'), ['9007199254740993']);
    assert.deepEqual(decode(1000, '{t,f,NULL}'), [true, false, null]);
    assert.deepEqual(decode(1009, '{"a,b","say \\"hi\\"","back\\\\slash",NULL,"NULL",""}'), [
      'a,b',
      'say "hi"',
      'back\\slash',
      null,
      'NULL',
      '',
    ]);
    assert.deepEqual(decode(1007, '{{1,2},{3,NULL}}'), [
      [1, 2],
      [3, null],
    ]);
    assert.deepEqual(decode(1007, '[0:1]={7,8}'), [7, 8]);
    assert.deepEqual(decode(1007, '{}'), []);
    assert.deepEqual(decode(3807, '{"{\\"a\\": 1}",NULL}'), [{ a: 1 }, null]);
    assert.deepEqual(decode(1001, '{"\\\\x0102"}'), [Buffer.from([1, 2]).toString('base64')]);
    assert.deepEqual(decode(1185, '{"2024-01-02 03:04:05+00"}'), ['2024-01-02T03:04:05+00:00']);
  });
});

describe('parseArrayLiteral', () => {
  const identity = (s: string) => s;

  test('whitespace around elements is dropped, escaped whitespace kept', () => {
    assert.deepEqual(parseArrayLiteral('{ a , b\\  ,  "c " }', identity), ['a', 'b ', 'c ']);
  });

  test('NULL is null only unquoted and unescaped, in any case', () => {
    assert.deepEqual(parseArrayLiteral('{null,NuLl,"null",\\NULL}', identity), [
      null,
      null,
      'null',
      'NULL',
    ]);
  });

  test('malformed literals are refused', () => {
    for (const bad of ['', '{', '{a', '{a}x', '{"a}', '{a,}', '[1:2]{a}', '{a"b}', '{{a},b']) {
      assert.throws(() => parseArrayLiteral(bad, identity), ArrayLiteralError, bad);
    }
  });

  test('a malformed array value falls back to its text', () => {
    assert.equal(decode(1007, '{1,'), '{1,');
  });
});

describe('parameterText', () => {
  test('null, booleans, numbers, strings, objects', () => {
    assert.equal(parameterText(null), null);
    assert.equal(parameterText(undefined), null);
    assert.equal(parameterText(true), 'true');
    assert.equal(parameterText(false), 'false');
    assert.equal(parameterText(-1.5), '-1.5');
    assert.equal(parameterText("'; DROP TABLE x; --"), "'; DROP TABLE x; --");
    assert.equal(parameterText({ a: [1, 'b'] }), '{"a":[1,"b"]}');
    assert.equal(parameterText([1, 2]), '[1,2]');
  });
});

describe('result messages', () => {
  test('RowDescription: names and type OIDs', () => {
    const field = (name: string, oid: number) => {
      const fixed = Buffer.alloc(18);
      fixed.writeUInt32BE(oid, 6);
      return Buffer.concat([Buffer.from(`${name}\0`), fixed]);
    };
    const count = Buffer.alloc(2);
    count.writeInt16BE(2);
    const body = Buffer.concat([count, field('id', 23), field('naïve', 3802)]);
    assert.deepEqual(parseRowDescription(body), [
      { name: 'id', dataTypeID: 23 },
      { name: 'naïve', dataTypeID: 3802 },
    ]);
    assert.throws(() => parseRowDescription(body.subarray(0, body.length - 1)));
  });

  test('DataRow: values and NULLs; a length past the end is refused', () => {
    const body = Buffer.from([0, 2, 0, 0, 0, 2, 0x68, 0x69, 0xff, 0xff, 0xff, 0xff]);
    assert.deepEqual(parseDataRow(body), ['hi', null]);
    assert.throws(() => parseDataRow(Buffer.from([0, 1, 0, 0, 0, 9, 0x68])));
  });

  test('CommandComplete tags as node-postgres reports them', () => {
    const tag = (s: string) => parseCommandComplete(Buffer.from(`${s}\0`));
    assert.deepEqual(tag('SELECT 5'), { command: 'SELECT', rowCount: 5 });
    assert.deepEqual(tag('INSERT 0 3'), { command: 'INSERT', rowCount: 3 });
    assert.deepEqual(tag('CREATE TABLE'), { command: 'CREATE', rowCount: null });
    assert.deepEqual(tag('BEGIN'), { command: 'BEGIN', rowCount: null });
  });
});
