import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { safeEqual } from '#auth';

test('safeEqual: equal, different content, different length, empty', () => {
  const key = Buffer.from('0123456789abcdef0123456789abcdef');
  assert.equal(safeEqual(Buffer.from(key), key), true);
  const flipped = Buffer.from(key);
  flipped[31] ^= 1;
  assert.equal(safeEqual(flipped, key), false);
  assert.equal(safeEqual(Buffer.alloc(0), Buffer.alloc(0)), true);
  assert.equal(safeEqual(new Uint8Array([1, 2]), Buffer.from([1, 2])), true);
});

test('SCRAM-08b different lengths return false and never throw', () => {
  const key = Buffer.from('secret');
  assert.equal(safeEqual(Buffer.from('secre'), key), false);
  assert.equal(safeEqual(Buffer.from('secrets'), key), false);
  assert.equal(safeEqual(Buffer.alloc(0), key), false);
  assert.equal(safeEqual(key, Buffer.alloc(0)), false);
});

test('SCRAM-08a libs/auth compares secrets only through safeEqual', () => {
  // Tests run from dist/libs/auth/test; the sources are in libs/auth/src.
  const src = path.resolve(__dirname, '../../../../libs/auth/src');
  const files = readdirSync(src).filter((f) => f.endsWith('.ts'));
  assert.ok(files.includes('constant-time.ts'));
  for (const file of files) {
    // Code only: comments may name the forbidden calls to explain why.
    const text = readFileSync(path.join(src, file), 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/\/\/.*$/gm, '');
    assert.doesNotMatch(text, /\.equals\(|Buffer\.compare|\.compare\(/, file);
    if (file !== 'constant-time.ts') assert.doesNotMatch(text, /timingSafeEqual/, file);
  }
});
