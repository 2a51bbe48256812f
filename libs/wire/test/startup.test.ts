import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { parseStartupPacket, PgError, SqlState } from '#wire';
import { bytes, startupBody } from './testing/bytes.js';

function assertPgError(body: Buffer, sqlstate: string, message: string | RegExp): void {
  assert.throws(
    () => parseStartupPacket(body),
    (err: unknown) => {
      assert.ok(err instanceof PgError, `expected PgError, got ${String(err)}`);
      assert.equal(err.sqlstate, sqlstate);
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
  );
}

const LAYOUT = 'invalid startup packet layout: expected terminator as last byte';

describe('parseStartupPacket special requests', () => {
  test('SSLRequest', () => {
    assert.deepEqual(parseStartupPacket(bytes().int32(80877103).body()), { kind: 'ssl' });
  });

  test('GSSENCRequest', () => {
    assert.deepEqual(parseStartupPacket(bytes().int32(80877104).body()), { kind: 'gssenc' });
  });

  test('SSLRequest and GSSENCRequest with trailing bytes are refused', () => {
    for (const code of [80877103, 80877104]) {
      assertPgError(
        bytes().int32(code).int32(0).body(),
        SqlState.ProtocolViolation,
        'invalid length of startup packet',
      );
    }
  });

  test('CancelRequest with a 4-byte key (protocol 3.0)', () => {
    const key = Buffer.from([1, 2, 3, 4]);
    assert.deepEqual(parseStartupPacket(bytes().int32(80877102).int32(4242).raw(key).body()), {
      kind: 'cancel',
      processId: 4242,
      secretKey: key,
    });
  });

  test('CancelRequest with a 32-byte key (protocol 3.2) and a high pid', () => {
    const key = Buffer.alloc(32, 0xab);
    const packet = parseStartupPacket(bytes().int32(80877102).uint32(0xfffffffe).raw(key).body());
    assert.deepEqual(packet, { kind: 'cancel', processId: 0xfffffffe, secretKey: key });
  });

  test('CancelRequest with a 256-byte key is accepted', () => {
    const key = Buffer.alloc(256, 7);
    const packet = parseStartupPacket(bytes().int32(80877102).int32(1).raw(key).body());
    assert.equal(packet.kind, 'cancel');
  });

  test('HARD-14 CancelRequest key lengths 0, 3, 257 and 1000 are malformed cancels, not errors to answer', () => {
    for (const len of [0, 3, 257, 1000]) {
      assert.deepEqual(
        parseStartupPacket(bytes().int32(80877102).int32(1).raw(Buffer.alloc(len)).body()),
        {
          kind: 'malformed-cancel',
          reason: 'invalid length of cancel key in cancel request packet',
        },
      );
    }
  });

  test('HARD-14 CancelRequest without a full pid is a malformed cancel', () => {
    assert.deepEqual(parseStartupPacket(bytes().int32(80877102).int16(1).body()), {
      kind: 'malformed-cancel',
      reason: 'invalid length of cancel request packet',
    });
  });

  test('a body shorter than the version word is refused', () => {
    assertPgError(Buffer.from([0, 3, 0]), SqlState.ProtocolViolation, /invalid length/);
  });
});

describe('parseStartupPacket StartupMessage', () => {
  test('protocol 3.0 with parameters, decoded as UTF-8', () => {
    const body = startupBody(3, 0, [
      ['user', 'alice'],
      ['database', 'café'],
      ['application_name', ''],
      ['options', '-c search_path=a\\ b'],
    ]);
    assert.deepEqual(parseStartupPacket(body), {
      kind: 'startup',
      majorVersion: 3,
      minorVersion: 0,
      params: new Map([
        ['user', 'alice'],
        ['database', 'café'],
        ['application_name', ''],
        ['options', '-c search_path=a\\ b'],
      ]),
    });
  });

  test('only the terminator is an empty parameter list', () => {
    const packet = parseStartupPacket(startupBody(3, 0, []));
    assert.deepEqual(packet, {
      kind: 'startup',
      majorVersion: 3,
      minorVersion: 0,
      params: new Map(),
    });
  });

  test('protocol 3.2 is parsed as major 3 minor 2', () => {
    const packet = parseStartupPacket(startupBody(3, 2, [['user', 'u']]));
    assert.equal(packet.kind, 'startup');
    assert.equal(packet.kind === 'startup' && packet.majorVersion, 3);
    assert.equal(packet.kind === 'startup' && packet.minorVersion, 2);
  });

  test('protocol 3.9999 (libpq grease) is parsed, negotiation is the caller’s job', () => {
    const packet = parseStartupPacket(
      startupBody(3, 9999, [['_pq_.test_protocol_negotiation', 'x']]),
    );
    assert.equal(packet.kind === 'startup' && packet.minorVersion, 9999);
  });

  test('protocol 2.0 and 4.0 give 0A000 with PostgreSQL’s wording', () => {
    assertPgError(
      startupBody(2, 0, [['user', 'u']]),
      SqlState.FeatureNotSupported,
      'unsupported frontend protocol 2.0: server supports 3.0 to 3.0',
    );
    assertPgError(
      startupBody(4, 0, []),
      SqlState.FeatureNotSupported,
      'unsupported frontend protocol 4.0: server supports 3.0 to 3.0',
    );
  });

  test('1234.5681 (unknown special code) is an unsupported protocol', () => {
    assertPgError(
      bytes().int16(1234).int16(5681).byte(0).body(),
      SqlState.FeatureNotSupported,
      'unsupported frontend protocol 1234.5681: server supports 3.0 to 3.0',
    );
  });

  test('missing final terminator', () => {
    const body = bytes().int16(3).int16(0).cstring('user').cstring('alice').body();
    assertPgError(body, SqlState.ProtocolViolation, LAYOUT);
  });

  test('no parameter bytes at all', () => {
    assertPgError(bytes().int16(3).int16(0).body(), SqlState.ProtocolViolation, LAYOUT);
  });

  test('a body of As without any terminator (PROTO-01 row 2)', () => {
    const body = bytes().int16(3).int16(0).raw('A'.repeat(9996)).body();
    assertPgError(body, SqlState.ProtocolViolation, LAYOUT);
  });

  test('odd number of strings (name without value)', () => {
    const body = bytes().int16(3).int16(0).cstring('user').cstring('alice').cstring('database');
    assertPgError(body.byte(0).body(), SqlState.ProtocolViolation, LAYOUT);
  });

  test('a single name with no value', () => {
    const body = bytes().int16(3).int16(0).cstring('user').byte(0).body();
    assertPgError(body, SqlState.ProtocolViolation, LAYOUT);
  });

  test('value without a name (empty name before the end)', () => {
    const body = bytes().int16(3).int16(0).cstring('').cstring('alice').byte(0).body();
    assertPgError(body, SqlState.ProtocolViolation, /empty parameter name/);
  });

  test('duplicate parameter names', () => {
    const body = startupBody(3, 0, [
      ['user', 'alice'],
      ['user', 'postgres'],
    ]);
    assertPgError(body, SqlState.ProtocolViolation, 'duplicate startup parameter "user"');
  });

  test('invalid UTF-8 is refused rather than replaced', () => {
    const body = bytes()
      .int16(3)
      .int16(0)
      .cstring('user')
      .raw([0x61, 0xff, 0x62, 0])
      .byte(0)
      .body();
    assertPgError(body, SqlState.ProtocolViolation, /UTF-8/);
  });

  test('a leading byte-order mark is kept, not stripped', () => {
    const packet = parseStartupPacket(startupBody(3, 0, [['user', '\uFEFFadmin']]));
    assert.equal(packet.kind === 'startup' && packet.params.get('user'), '\uFEFFadmin');
  });
});
