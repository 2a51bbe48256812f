import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MessageSplitter, PgError, type Verdict } from '#wire';
import { bytes } from './testing/bytes';

const typed = (type: string, body: Buffer) => bytes().raw(body).typed(type);

/** Records what the inspector saw and applies scripted verdicts. */
function harness(
  verdicts: (type: string, frame: Buffer) => Verdict = () => 'forward',
  holdUpTo = 64,
) {
  const seen: string[] = [];
  const splitter = new MessageSplitter(
    {
      message(type, frame) {
        seen.push(`${String.fromCharCode(type)}:${frame.length}`);
        return verdicts(String.fromCharCode(type), Buffer.from(frame));
      },
      largeMessage(type, length) {
        seen.push(`large ${String.fromCharCode(type)}:${length + 1}`);
        return String.fromCharCode(type) === 'X' ? 'drop' : 'forward';
      },
    },
    { holdUpTo, maxLength: (type) => (type === 0x53 ? 10_000 : 1 << 30) },
  );
  return { splitter, seen };
}

const stream = Buffer.concat([
  typed('Z', Buffer.from('I')),
  typed('D', Buffer.alloc(20, 1)),
  typed('C', Buffer.from('SELECT 1\0')),
  typed('D', Buffer.alloc(200, 2)),
  typed('N', Buffer.from('notice\0')),
]);

describe('MessageSplitter', () => {
  test('forwarding everything reproduces the stream exactly, split at every offset', () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const { splitter, seen } = harness();
      const out = [
        ...splitter.push(stream.subarray(0, cut)),
        ...splitter.push(stream.subarray(cut)),
      ];
      assert.deepEqual(Buffer.concat(out), stream, `cut at ${cut}`);
      assert.ok(splitter.atBoundary);
      // A message complete in one chunk is always inspected whole; one whose
      // header arrived but not its end is streamed, being over holdUpTo=64.
      const intoBig = cut - (6 + 25 + 14);
      assert.equal(seen.includes('large D:205'), intoBig >= 5 && intoBig < 205, `cut at ${cut}`);
    }
  });

  test('byte by byte, the same bytes come out and small messages are seen whole', () => {
    const { splitter, seen } = harness();
    const out: Buffer[] = [];
    for (const byte of stream) out.push(...splitter.push(Buffer.from([byte])));
    assert.deepEqual(Buffer.concat(out), stream);
    assert.deepEqual(seen, ['Z:6', 'D:25', 'C:14', 'large D:205', 'N:12']);
  });

  test('one chunk of forwarded messages leaves as a single view of that chunk (no copy)', () => {
    const { splitter } = harness();
    const out = splitter.push(stream);
    assert.equal(out.length, 1);
    assert.equal(out[0]!.buffer, stream.buffer);
  });

  test('drop and replace act on whole messages only', () => {
    const replacement = typed('E', Buffer.from('replaced\0'));
    const { splitter } = harness((type) =>
      type === 'D' ? 'drop' : type === 'C' ? replacement : 'forward',
    );
    const out = Buffer.concat(splitter.push(stream));
    const expected = Buffer.concat([
      typed('Z', Buffer.from('I')),
      replacement,
      typed('N', Buffer.from('notice\0')),
    ]);
    assert.deepEqual(out, expected);
  });

  test('a large message can be dropped while it streams', () => {
    const big = typed('X', Buffer.alloc(500, 7));
    const after = typed('Z', Buffer.from('I'));
    const { splitter } = harness();
    const out = [
      ...splitter.push(big.subarray(0, 100)),
      ...splitter.push(big.subarray(100, 300)),
      ...splitter.push(Buffer.concat([big.subarray(300), after])),
    ];
    assert.deepEqual(Buffer.concat(out), after);
  });

  test('an incomplete small message is held, not sent (FAULT-01c)', () => {
    const { splitter } = harness();
    const message = typed('C', Buffer.from('SELECT 1\0'));
    assert.deepEqual(splitter.push(message.subarray(0, 8)), []);
    assert.equal(splitter.atBoundary, false);
  });

  test('PROTO-04: bad lengths and per-type limits throw 08P01 before the body arrives', () => {
    for (const header of ['5300004e21', '51ffffffff', '5100000003']) {
      const { splitter } = harness();
      assert.throws(
        () => splitter.push(Buffer.from(header, 'hex')),
        (err: unknown) => err instanceof PgError && err.sqlstate === '08P01',
      );
    }
  });
});
