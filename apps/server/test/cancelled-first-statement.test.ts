import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CancelledFirstStatement } from '../src/wire/session/cancelled-first-statement';

/** A frontend message of `type` with `body`. */
function frame(type: string, body = ''): Buffer {
  const header = Buffer.alloc(5);
  header.write(type, 0, 'latin1');
  header.writeInt32BE(4 + Buffer.byteLength(body), 1);
  return Buffer.concat([header, Buffer.from(body)]);
}

/** The backend message types in `reply`, in order. */
function types(reply: Buffer[]): string {
  let out = '';
  for (
    let data = Buffer.concat(reply);
    data.length > 0;
    data = data.subarray(1 + data.readInt32BE(1))
  ) {
    out += String.fromCharCode(data[0]!);
  }
  return out;
}

describe('CancelledFirstStatement (LAZY-14)', () => {
  test('LAZY-14 a cancelled Query fails with an ErrorResponse then ReadyForQuery; what follows is left to run', () => {
    const next = frame('Q', 'SELECT 2\0');
    const fed = new CancelledFirstStatement().feed(Buffer.concat([frame('Q', 'SELECT 1\0'), next]));
    assert.equal(types(fed.reply), 'EZ');
    assert.deepEqual(fed.rest, next);
  });

  test('LAZY-14 an extended batch fails at its first message and is skipped up to its Sync, across chunks', () => {
    const batch = Buffer.concat([
      frame('P', '\0SELECT $1\0\0\0'),
      frame('B', '\0\0\0\0\0\0\0\0'),
      frame('E', '\0\0\0\0\0'),
      frame('S'),
    ]);
    const cancelled = new CancelledFirstStatement();
    const answered: string[] = [];
    let rest: Buffer | null = null;
    // One byte at a time: headers and bodies split anywhere.
    for (let i = 0; i < batch.length && rest === null; i++) {
      const fed = cancelled.feed(batch.subarray(i, i + 1));
      answered.push(types(fed.reply));
      rest = fed.rest;
    }
    assert.equal(answered.join(''), 'EZ');
    assert.deepEqual(rest, Buffer.alloc(0));
  });

  test('LAZY-14 a Sync first ran nothing: answered with ReadyForQuery only', () => {
    const fed = new CancelledFirstStatement().feed(frame('S'));
    assert.equal(types(fed.reply), 'Z');
    assert.deepEqual(fed.rest, Buffer.alloc(0));
  });
});
