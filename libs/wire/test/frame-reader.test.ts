import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { FrameReader, PgError, SqlState } from '#wire';
import { bytes, prng, startupBody } from './testing/bytes.js';

type Frame = { kind: 'startup'; body: Buffer } | { kind: 'typed'; type: number; body: Buffer };

const MAX = 64 * 1024;

/** Two untyped frames (SSLRequest, StartupMessage) followed by typed ones, as a client sends. */
function clientStream(): { stream: Buffer; frames: Frame[]; startupCount: number } {
  const ssl = bytes().int32(80877103);
  const startup = bytes().raw(
    startupBody(3, 0, [
      ['user', 'alice'],
      ['database', 'app'],
    ]),
  );
  const password = bytes().cstring('s3cret');
  const query = bytes().cstring('SELECT 1');
  const big = bytes().cstring('SELECT ' + 'x'.repeat(3000));
  const empty = bytes();
  const frames: Frame[] = [
    { kind: 'startup', body: ssl.body() },
    { kind: 'startup', body: startup.body() },
    { kind: 'typed', type: 0x70, body: password.body() },
    { kind: 'typed', type: 0x51, body: query.body() },
    { kind: 'typed', type: 0x51, body: big.body() },
    { kind: 'typed', type: 0x53, body: empty.body() },
    { kind: 'typed', type: 0x58, body: empty.body() },
  ];
  const stream = Buffer.concat([
    ssl.untyped(),
    startup.untyped(),
    password.typed('p'),
    query.typed('Q'),
    big.typed('Q'),
    empty.typed('S'),
    empty.typed('X'),
  ]);
  return { stream, frames, startupCount: 2 };
}

/** Reads every complete frame, startup frames first, as the gateway's phases would. */
function drain(reader: FrameReader, startupCount: number, out: Frame[]): void {
  for (;;) {
    const startups = out.filter((f) => f.kind === 'startup').length;
    if (startups < startupCount) {
      const body = reader.readStartupFrame();
      if (body === null) return;
      out.push({ kind: 'startup', body: Buffer.from(body) });
    } else {
      const msg = reader.readMessage();
      if (msg === null) return;
      out.push({ kind: 'typed', type: msg.type, body: Buffer.from(msg.body) });
    }
  }
}

function feed(chunks: Buffer[], startupCount: number): Frame[] {
  const reader = new FrameReader({ maxMessageLength: MAX });
  const out: Frame[] = [];
  for (const chunk of chunks) {
    reader.push(chunk);
    drain(reader, startupCount, out);
  }
  assert.equal(reader.bufferedLength, 0);
  return out;
}

function assertPgError(fn: () => unknown, sqlstate: string, message: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PgError, `expected PgError, got ${String(err)}`);
    assert.equal(err.sqlstate, sqlstate);
    assert.equal(err.message, message);
    assert.equal(err.severity, 'FATAL');
    return true;
  });
}

describe('FrameReader framing', () => {
  const { stream, frames, startupCount } = clientStream();

  test('the whole stream in one chunk yields every frame', () => {
    assert.deepEqual(feed([stream], startupCount), frames);
  });

  test('a split at every byte offset yields the same frames', () => {
    for (let i = 0; i <= stream.length; i++) {
      const got = feed([stream.subarray(0, i), stream.subarray(i)], startupCount);
      assert.deepEqual(got, frames, `split at ${i}`);
    }
  });

  test('two splits around every offset of the small frames yield the same frames', () => {
    for (let i = 0; i <= 120; i++) {
      for (let j = i; j <= 120; j++) {
        const chunks = [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)];
        assert.deepEqual(feed(chunks, startupCount), frames, `split at ${i}, ${j}`);
      }
    }
  });

  test('byte by byte yields the same frames', () => {
    const chunks = [...stream].map((b) => Buffer.from([b]));
    assert.deepEqual(feed(chunks, startupCount), frames);
  });

  test('random chunk sizes, small and large, yield the same frames', () => {
    const rand = prng(42);
    for (let round = 0; round < 200; round++) {
      const chunks: Buffer[] = [];
      for (let at = 0; at < stream.length;) {
        const size = rand() < 0.5 ? 1 + Math.floor(rand() * 8) : 1 + Math.floor(rand() * 2000);
        chunks.push(stream.subarray(at, at + size));
        at += size;
      }
      assert.deepEqual(feed(chunks, startupCount), frames, `round ${round}`);
    }
  });

  test('1000 pipelined queries in one chunk all come out, in order', () => {
    const parts = [];
    for (let i = 0; i < 1000; i++) parts.push(bytes().cstring(`SELECT ${i}`).typed('Q'));
    const reader = new FrameReader({ maxMessageLength: MAX });
    reader.push(Buffer.concat(parts));
    for (let i = 0; i < 1000; i++) {
      const msg = reader.readMessage();
      assert.ok(msg);
      assert.equal(msg.type, 0x51);
      assert.equal(msg.body.toString('utf8'), `SELECT ${i}\0`);
    }
    assert.equal(reader.readMessage(), null);
    assert.equal(reader.bufferedLength, 0);
  });

  test('a frame inside one chunk is returned without copying', () => {
    const chunk = Buffer.concat([bytes().raw('x'.repeat(600)).typed('d'), Buffer.from('Q')]);
    const reader = new FrameReader({ maxMessageLength: MAX });
    reader.push(chunk);
    const msg = reader.readMessage();
    assert.ok(msg);
    assert.equal(msg.body.buffer, chunk.buffer);
    assert.equal(msg.body.byteOffset, chunk.byteOffset + 5);
  });

  test('bodies already returned are not overwritten by later small chunks', () => {
    const reader = new FrameReader({ maxMessageLength: MAX });
    const first = bytes().cstring('first').typed('Q');
    const second = bytes().cstring('second').typed('Q');
    for (const b of first) reader.push(Buffer.from([b]));
    const a = reader.readMessage();
    assert.ok(a);
    for (const b of second) reader.push(Buffer.from([b]));
    const b = reader.readMessage();
    assert.ok(b);
    assert.equal(a.body.toString(), 'first\0');
    assert.equal(b.body.toString(), 'second\0');
  });

  test('an empty chunk changes nothing', () => {
    const reader = new FrameReader({ maxMessageLength: MAX });
    reader.push(Buffer.alloc(0));
    assert.equal(reader.bufferedLength, 0);
    assert.equal(reader.readMessage(), null);
    assert.equal(reader.readStartupFrame(), null);
  });
});

describe('FrameReader typed message limits', () => {
  test('a 2 GB length is rejected from the 5 header bytes alone', () => {
    const reader = new FrameReader({ maxMessageLength: 1024 * 1024 * 1024 });
    reader.push(Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]));
    assertPgError(() => reader.readMessage(), SqlState.ProtocolViolation, 'invalid message length');
  });

  test('a header split before its fifth byte is not judged early', () => {
    const reader = new FrameReader({ maxMessageLength: 1024 });
    reader.push(Buffer.from([0x51, 0x7f, 0xff, 0xff]));
    assert.equal(reader.readMessage(), null);
    reader.push(Buffer.from([0xff]));
    assertPgError(() => reader.readMessage(), SqlState.ProtocolViolation, 'invalid message length');
  });

  test('negative lengths (0xFFFFFFFF, 0x80000000) are rejected', () => {
    for (const header of [
      [0x51, 0xff, 0xff, 0xff, 0xff],
      [0x51, 0x80, 0, 0, 0],
    ]) {
      const reader = new FrameReader({ maxMessageLength: 1024 });
      reader.push(Buffer.from(header));
      assertPgError(
        () => reader.readMessage(),
        SqlState.ProtocolViolation,
        'invalid message length',
      );
    }
  });

  test('lengths below 4 are rejected, 4 is an empty body', () => {
    for (const len of [0, 1, 2, 3]) {
      const reader = new FrameReader({ maxMessageLength: 1024 });
      reader.push(Buffer.from([0x53, 0, 0, 0, len]));
      assertPgError(
        () => reader.readMessage(),
        SqlState.ProtocolViolation,
        'invalid message length',
      );
    }
    const reader = new FrameReader({ maxMessageLength: 1024 });
    reader.push(Buffer.from([0x53, 0, 0, 0, 4]));
    assert.deepEqual(reader.readMessage(), { type: 0x53, body: Buffer.alloc(0) });
  });

  test('maxMessageLength bounds the length field, which counts itself', () => {
    const atLimit = new FrameReader({ maxMessageLength: 1000 });
    atLimit.push(bytes().raw(Buffer.alloc(996)).typed('d'));
    assert.equal(atLimit.readMessage()?.body.length, 996);

    const over = new FrameReader({ maxMessageLength: 1000 });
    over.push(bytes().raw(Buffer.alloc(997)).typed('d').subarray(0, 5));
    assertPgError(() => over.readMessage(), SqlState.ProtocolViolation, 'invalid message length');
  });

  test('an invalid maxMessageLength is a programming error', () => {
    for (const maxMessageLength of [0, 3, 1.5, NaN, 2 ** 31]) {
      assert.throws(() => new FrameReader({ maxMessageLength }), RangeError);
    }
  });
});

describe('FrameReader startup frame limits', () => {
  function startupHeader(len: number): Buffer {
    return bytes().uint32(len).body();
  }

  test('lengths 7 and 10001 are rejected from the length word alone', () => {
    for (const len of [0, 4, 7, 10001, 10009, 0x7fffffff, 0xffffffff]) {
      const reader = new FrameReader({ maxMessageLength: MAX });
      reader.push(startupHeader(len));
      assertPgError(
        () => reader.readStartupFrame(),
        SqlState.ProtocolViolation,
        'invalid length of startup packet',
      );
    }
  });

  test('lengths 8 and 10000 are accepted', () => {
    for (const len of [8, 10000]) {
      const reader = new FrameReader({ maxMessageLength: MAX });
      reader.push(startupHeader(len));
      assert.equal(reader.readStartupFrame(), null);
      reader.push(Buffer.alloc(len - 4, 1));
      assert.equal(reader.readStartupFrame()?.length, len - 4);
    }
  });

  test('fewer than 4 bytes is incomplete, not an error', () => {
    const reader = new FrameReader({ maxMessageLength: MAX });
    reader.push(Buffer.from([0xff, 0xff, 0xff]));
    assert.equal(reader.readStartupFrame(), null);
  });
});

describe('FrameReader bufferedLength and takeBuffered', () => {
  test('bytes after an SSLRequest in the same chunk are visible (CVE-2021-23214)', () => {
    const ssl = bytes().int32(80877103).untyped();
    const injected = bytes().cstring('SELECT evil()').typed('Q');
    const reader = new FrameReader({ maxMessageLength: MAX });
    reader.push(Buffer.concat([ssl, injected]));
    assert.equal(reader.bufferedLength, ssl.length + injected.length);
    assert.deepEqual(reader.readStartupFrame(), bytes().int32(80877103).body());
    assert.equal(reader.bufferedLength, injected.length);
  });

  test('an SSLRequest alone leaves nothing buffered', () => {
    const reader = new FrameReader({ maxMessageLength: MAX });
    reader.push(bytes().int32(80877103).untyped());
    assert.ok(reader.readStartupFrame());
    assert.equal(reader.bufferedLength, 0);
  });

  test('takeBuffered returns the unconsumed bytes across chunks and clears them', () => {
    const reader = new FrameReader({ maxMessageLength: MAX });
    const msg = bytes().cstring('SELECT 1').typed('Q');
    const rest = Buffer.from('leftover bytes across several chunks', 'utf8');
    const all = Buffer.concat([msg, rest]);
    reader.push(all.subarray(0, 3));
    reader.push(all.subarray(3, 20));
    reader.push(all.subarray(20));
    assert.ok(reader.readMessage());
    assert.equal(reader.bufferedLength, rest.length);
    assert.deepEqual(reader.takeBuffered(), rest);
    assert.equal(reader.bufferedLength, 0);
    assert.deepEqual(reader.takeBuffered(), Buffer.alloc(0));
    assert.equal(reader.readMessage(), null);
  });

  test('the reader keeps working after takeBuffered', () => {
    const reader = new FrameReader({ maxMessageLength: MAX });
    reader.push(Buffer.from('junk'));
    reader.takeBuffered();
    reader.push(bytes().cstring('x').typed('Q'));
    assert.equal(reader.readMessage()?.body.toString(), 'x\0');
  });
});
