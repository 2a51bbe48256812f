import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  BackendType,
  FrameReader,
  parseAuthentication,
  parseBackendKeyData,
  parseErrorFields,
  parseParameterStatus,
  parseReadyForQuery,
  PgError,
  SqlState,
} from '#wire';
import { bytes } from './testing/bytes.js';

function assertViolation(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PgError, `expected PgError, got ${String(err)}`);
    assert.equal(err.sqlstate, SqlState.ProtocolViolation);
    return true;
  });
}

describe('parseErrorFields', () => {
  test('fields keyed by code character', () => {
    const body = bytes()
      .byte('S')
      .cstring('FATAL')
      .byte('V')
      .cstring('FATAL')
      .byte('C')
      .cstring('28P01')
      .byte('M')
      .cstring('password authentication failed for user "app"')
      .byte('R')
      .cstring('auth_failed')
      .byte(0)
      .body();
    assert.deepEqual(
      { ...parseErrorFields(body) },
      {
        S: 'FATAL',
        V: 'FATAL',
        C: '28P01',
        M: 'password authentication failed for user "app"',
        R: 'auth_failed',
      },
    );
  });

  test('an empty field list', () => {
    assert.deepEqual({ ...parseErrorFields(Buffer.from([0])) }, {});
  });

  test('malformed: empty body, missing final NUL, unterminated value, trailing bytes', () => {
    assertViolation(() => parseErrorFields(Buffer.alloc(0)));
    assertViolation(() => parseErrorFields(bytes().byte('M').cstring('x').body()));
    assertViolation(() => parseErrorFields(bytes().byte('M').raw('x').body()));
    assertViolation(() => parseErrorFields(bytes().byte('M').body()));
    assertViolation(() => parseErrorFields(bytes().byte(0).byte('M').cstring('x').body()));
  });

  test('works on a frame read from the upstream stream', () => {
    const frame = bytes().byte('C').cstring('57P01').byte(0).typed('E');
    const reader = new FrameReader({ maxMessageLength: 30000 });
    reader.push(frame);
    const msg = reader.readMessage();
    assert.ok(msg);
    assert.equal(msg.type, BackendType.ErrorResponse);
    assert.equal(parseErrorFields(msg.body).C, '57P01');
  });
});

describe('parseAuthentication', () => {
  test('code and data', () => {
    const parsed = parseAuthentication(bytes().int32(11).raw('r=abc').body());
    assert.equal(parsed.code, 11);
    assert.equal(parsed.data.toString(), 'r=abc');
    assert.deepEqual(parseAuthentication(bytes().int32(0).body()), {
      code: 0,
      data: Buffer.alloc(0),
    });
  });

  test('too short', () => {
    assertViolation(() => parseAuthentication(Buffer.from([0, 0, 0])));
  });
});

describe('parseParameterStatus', () => {
  test('name and value', () => {
    const body = bytes().cstring('TimeZone').cstring('UTC').body();
    assert.deepEqual(parseParameterStatus(body), ['TimeZone', 'UTC']);
  });

  test('missing value, unterminated, trailing bytes', () => {
    assertViolation(() => parseParameterStatus(bytes().cstring('TimeZone').body()));
    assertViolation(() => parseParameterStatus(bytes().cstring('a').raw('b').body()));
    assertViolation(() => parseParameterStatus(bytes().cstring('a').cstring('b').byte(1).body()));
  });
});

describe('parseBackendKeyData', () => {
  test('4- and 32-byte keys', () => {
    const key = Buffer.from([1, 2, 3, 4]);
    assert.deepEqual(parseBackendKeyData(bytes().int32(77).raw(key).body()), {
      processId: 77,
      secretKey: key,
    });
    const key32 = Buffer.alloc(32, 5);
    assert.deepEqual(parseBackendKeyData(bytes().uint32(0x80000001).raw(key32).body()), {
      processId: 0x80000001,
      secretKey: key32,
    });
  });

  test('keys shorter than 4 or longer than 256 bytes', () => {
    for (const len of [0, 3, 257]) {
      assertViolation(() => parseBackendKeyData(bytes().int32(1).raw(Buffer.alloc(len)).body()));
    }
    assertViolation(() => parseBackendKeyData(Buffer.alloc(2)));
  });
});

describe('parseReadyForQuery', () => {
  test('I, T, E', () => {
    assert.equal(parseReadyForQuery(Buffer.from('I')), 'I');
    assert.equal(parseReadyForQuery(Buffer.from('T')), 'T');
    assert.equal(parseReadyForQuery(Buffer.from('E')), 'E');
  });

  test('anything else', () => {
    for (const body of ['', 'X', 'II', 'i']) {
      assertViolation(() => parseReadyForQuery(Buffer.from(body)));
    }
  });
});
