import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  authenticationCleartextPassword,
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  backendKeyData,
  errorResponse,
  negotiateProtocolVersion,
  noticeResponse,
  parameterStatus,
  PgError,
  PgErrors,
  readyForQuery,
  SqlState,
  sslResponse,
} from '#wire';
import { bytes } from './testing/bytes.js';

describe('backend message writers, byte-exact', () => {
  test('AuthenticationOk and AuthenticationCleartextPassword', () => {
    assert.deepEqual(authenticationOk(), bytes().int32(0).typed('R'));
    assert.deepEqual(authenticationCleartextPassword(), bytes().int32(3).typed('R'));
    assert.deepEqual(authenticationOk(), Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 0]));
  });

  test('AuthenticationSASL with two mechanisms', () => {
    const expected = bytes()
      .int32(10)
      .cstring('SCRAM-SHA-256-PLUS')
      .cstring('SCRAM-SHA-256')
      .byte(0)
      .typed('R');
    assert.deepEqual(authenticationSasl(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']), expected);
  });

  test('AuthenticationSASLContinue and AuthenticationSASLFinal, string or Buffer', () => {
    const first = 'r=abc,s=c2FsdA==,i=4096';
    assert.deepEqual(authenticationSaslContinue(first), bytes().int32(11).raw(first).typed('R'));
    assert.deepEqual(
      authenticationSaslContinue(Buffer.from(first)),
      bytes().int32(11).raw(first).typed('R'),
    );
    assert.deepEqual(authenticationSaslFinal('v=xyz'), bytes().int32(12).raw('v=xyz').typed('R'));
  });

  test('ParameterStatus', () => {
    assert.deepEqual(
      parameterStatus('server_version', '15.18'),
      bytes().cstring('server_version').cstring('15.18').typed('S'),
    );
  });

  test('BackendKeyData with 4- and 32-byte keys', () => {
    const key4 = Buffer.from([0xde, 0xad, 0xbe, 0xef]);
    assert.deepEqual(backendKeyData(1234, key4), bytes().int32(1234).raw(key4).typed('K'));
    assert.equal(backendKeyData(1234, key4).length, 1 + 4 + 8);
    const key32 = Buffer.alloc(32, 9);
    assert.deepEqual(
      backendKeyData(0xfffffff0, key32),
      bytes().uint32(0xfffffff0).raw(key32).typed('K'),
    );
  });

  test('BackendKeyData refuses keys outside 4..256 bytes', () => {
    assert.throws(() => backendKeyData(1, Buffer.alloc(3)), RangeError);
    assert.throws(() => backendKeyData(1, Buffer.alloc(257)), RangeError);
  });

  test('ReadyForQuery', () => {
    assert.deepEqual(readyForQuery('I'), bytes().byte('I').typed('Z'));
    assert.deepEqual(readyForQuery('T'), bytes().byte('T').typed('Z'));
    assert.deepEqual(readyForQuery('E'), Buffer.from([0x5a, 0, 0, 0, 5, 0x45]));
  });

  test('ErrorResponse from a PgError with detail and hint', () => {
    const err = PgErrors.tlsRequired('alice', 'app');
    const expected = bytes()
      .byte('S')
      .cstring('FATAL')
      .byte('V')
      .cstring('FATAL')
      .byte('C')
      .cstring('28000')
      .byte('M')
      .cstring('connection requires TLS')
      .byte('D')
      .cstring(err.detail ?? '')
      .byte('H')
      .cstring('Connect with sslmode=require or stronger.')
      .byte(0)
      .typed('E');
    assert.deepEqual(errorResponse(err), expected);
  });

  test('ErrorResponse from plain fields, without detail or hint', () => {
    const expected = bytes()
      .byte('S')
      .cstring('ERROR')
      .byte('V')
      .cstring('ERROR')
      .byte('C')
      .cstring('42501')
      .byte('M')
      .cstring('permission denied for table t')
      .byte(0)
      .typed('E');
    const got = errorResponse({
      severity: 'ERROR',
      sqlstate: SqlState.InsufficientPrivilege,
      message: 'permission denied for table t',
    });
    assert.deepEqual(got, expected);
  });

  test('ErrorResponse replaces NUL in client-supplied text instead of ending the field', () => {
    const got = errorResponse(PgErrors.databaseNotFound('a\0Mforged'));
    const expected = bytes()
      .byte('S')
      .cstring('FATAL')
      .byte('V')
      .cstring('FATAL')
      .byte('C')
      .cstring('3D000')
      .byte('M')
      .cstring('database "a\uFFFDMforged" does not exist')
      .byte(0)
      .typed('E');
    assert.deepEqual(got, expected);
  });

  test('NoticeResponse has the same layout under type N', () => {
    const notice = new PgError(SqlState.SuccessfulCompletion, 'hello', { severity: 'NOTICE' });
    const expected = bytes()
      .byte('S')
      .cstring('NOTICE')
      .byte('V')
      .cstring('NOTICE')
      .byte('C')
      .cstring('00000')
      .byte('M')
      .cstring('hello')
      .byte(0)
      .typed('N');
    assert.deepEqual(noticeResponse(notice), expected);
  });

  test('NegotiateProtocolVersion with and without options', () => {
    assert.deepEqual(
      negotiateProtocolVersion(0, ['_pq_.test_protocol_negotiation', '_pq_.foo']),
      bytes()
        .int16(3)
        .int16(0)
        .int32(2)
        .cstring('_pq_.test_protocol_negotiation')
        .cstring('_pq_.foo')
        .typed('v'),
    );
    assert.deepEqual(negotiateProtocolVersion(0, []), bytes().int32(0x30000).int32(0).typed('v'));
    assert.throws(() => negotiateProtocolVersion(-1, []), RangeError);
    assert.throws(() => negotiateProtocolVersion(0x10000, []), RangeError);
  });

  test('SSL response is a single unframed byte', () => {
    assert.deepEqual(sslResponse(true), Buffer.from('S'));
    assert.deepEqual(sslResponse(false), Buffer.from('N'));
  });

  test('strings with NUL are refused where they would corrupt framing', () => {
    assert.throws(() => parameterStatus('a\0b', 'c'), RangeError);
    assert.throws(() => authenticationSasl(['SCRAM\0']), RangeError);
    assert.throws(() => authenticationSasl([]), RangeError);
  });
});
