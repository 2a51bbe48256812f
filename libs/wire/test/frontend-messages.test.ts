import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import {
  BackendType,
  FrontendType,
  parsePasswordMessage,
  parseSaslInitialResponse,
  parseSaslResponse,
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

const clientFirst = 'n,,n=*,r=rOprNGfwEbeRWgbNEkqO';

describe('parseSaslInitialResponse', () => {
  test('mechanism and data', () => {
    const body = bytes().cstring('SCRAM-SHA-256').int32(clientFirst.length).raw(clientFirst).body();
    const parsed = parseSaslInitialResponse(body);
    assert.equal(parsed.mechanism, 'SCRAM-SHA-256');
    assert.equal(parsed.data?.toString(), clientFirst);
  });

  test('HARD-17: length -1 means no initial response at all (null), unlike an empty one', () => {
    const parsed = parseSaslInitialResponse(bytes().cstring('SCRAM-SHA-256').int32(-1).body());
    assert.deepEqual(parsed, { mechanism: 'SCRAM-SHA-256', data: null });
  });

  test('length 0 is empty data', () => {
    const parsed = parseSaslInitialResponse(bytes().cstring('SCRAM-SHA-256').int32(0).body());
    assert.deepEqual(parsed.data, Buffer.alloc(0));
  });

  test('declared length longer than the data', () => {
    assertViolation(() =>
      parseSaslInitialResponse(bytes().cstring('SCRAM-SHA-256').int32(10).raw('abc').body()),
    );
  });

  test('declared length shorter than the data (trailing bytes)', () => {
    assertViolation(() =>
      parseSaslInitialResponse(bytes().cstring('SCRAM-SHA-256').int32(2).raw('abc').body()),
    );
  });

  test('-1 followed by data', () => {
    assertViolation(() =>
      parseSaslInitialResponse(bytes().cstring('SCRAM-SHA-256').int32(-1).raw('x').body()),
    );
  });

  test('negative lengths other than -1, and a huge length', () => {
    for (const len of [-2, -0x80000000, 0x7fffffff]) {
      assertViolation(() =>
        parseSaslInitialResponse(bytes().cstring('SCRAM-SHA-256').int32(len).body()),
      );
    }
  });

  test('missing or truncated length word', () => {
    assertViolation(() => parseSaslInitialResponse(bytes().cstring('SCRAM-SHA-256').body()));
    assertViolation(() =>
      parseSaslInitialResponse(bytes().cstring('SCRAM-SHA-256').raw([0, 0, 0]).body()),
    );
  });

  test('unterminated mechanism name', () => {
    assertViolation(() => parseSaslInitialResponse(Buffer.from('SCRAM-SHA-256')));
    assertViolation(() => parseSaslInitialResponse(Buffer.alloc(0)));
  });
});

describe('parseSaslResponse', () => {
  test('returns the whole body', () => {
    const body = Buffer.from('c=biws,r=abc,p=xyz');
    assert.deepEqual(parseSaslResponse(body), body);
  });
});

describe('parsePasswordMessage', () => {
  test('one terminated string', () => {
    assert.equal(parsePasswordMessage(bytes().cstring('pässword').body()), 'pässword');
    assert.equal(parsePasswordMessage(Buffer.from([0])), '');
  });

  test('missing terminator, embedded NUL, trailing bytes, empty body', () => {
    assertViolation(() => parsePasswordMessage(Buffer.from('secret')));
    assertViolation(() => parsePasswordMessage(Buffer.from('sec\0ret\0')));
    assertViolation(() => parsePasswordMessage(Buffer.from('secret\0\0')));
    assertViolation(() => parsePasswordMessage(Buffer.alloc(0)));
  });

  test('invalid UTF-8', () => {
    assertViolation(() => parsePasswordMessage(Buffer.from([0xc3, 0x28, 0])));
  });
});

describe('message type constants', () => {
  test('frontend types are the protocol characters', () => {
    const expected: Record<keyof typeof FrontendType, string> = {
      Query: 'Q',
      Parse: 'P',
      Bind: 'B',
      Execute: 'E',
      Sync: 'S',
      Terminate: 'X',
      PasswordOrSasl: 'p',
      CopyData: 'd',
      CopyDone: 'c',
      CopyFail: 'f',
      Flush: 'H',
      Describe: 'D',
      Close: 'C',
      FunctionCall: 'F',
    };
    for (const [name, char] of Object.entries(expected)) {
      assert.equal(FrontendType[name as keyof typeof FrontendType], char.charCodeAt(0), name);
    }
  });

  test('backend types are the protocol characters', () => {
    const expected: Record<keyof typeof BackendType, string> = {
      Authentication: 'R',
      BackendKeyData: 'K',
      BindComplete: '2',
      CloseComplete: '3',
      CommandComplete: 'C',
      CopyData: 'd',
      CopyDone: 'c',
      CopyInResponse: 'G',
      CopyOutResponse: 'H',
      CopyBothResponse: 'W',
      DataRow: 'D',
      EmptyQueryResponse: 'I',
      ErrorResponse: 'E',
      FunctionCallResponse: 'V',
      NegotiateProtocolVersion: 'v',
      NoData: 'n',
      NoticeResponse: 'N',
      NotificationResponse: 'A',
      ParameterDescription: 't',
      ParameterStatus: 'S',
      ParseComplete: '1',
      PortalSuspended: 's',
      ReadyForQuery: 'Z',
      RowDescription: 'T',
    };
    for (const [name, char] of Object.entries(expected)) {
      assert.equal(BackendType[name as keyof typeof BackendType], char.charCodeAt(0), name);
    }
  });
});
