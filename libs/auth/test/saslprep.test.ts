import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deriveScramVerifier, saslprep, saslprepBytes } from '#auth';

const same = (input: string) => [input, input] as const;

test("RFC 4013 §3 examples, with PostgreSQL's raw fallback instead of errors", () => {
  const cases: ReadonlyArray<readonly [string, string]> = [
    ['I\u00ADX', 'IX'], // soft hyphen mapped to nothing
    same('user'),
    same('USER'), // case preserved
    ['\u00AA', 'a'], // NFKC
    ['\u2168', 'IX'], // NFKC
    same('\u0007'), // prohibited, but ASCII: PostgreSQL uses it as is
    same('\u0627\u0031'), // bidi violation: raw bytes
  ];
  for (const [input, expected] of cases) assert.equal(saslprep(input), expected, input);
});

test('SCRAM-04 the PostgreSQL 002_saslprep.pl table, as verifiers', () => {
  const salt = Buffer.from('0123456789abcdef');
  const key = (p: string) => deriveScramVerifier(p, salt, 1).storedKey.toString('hex');
  assert.equal(key('I\u00ADX'), key('IX'));
  assert.equal(key('\u2168'), key('IX'));
  assert.notEqual(key('ix'), key('IX'));
  assert.equal(key('\u00AA'), key('a'));
  assert.equal(key('a'), key('\u00AA'));
  assert.equal(key('foo\u0007bar'), key('foo\u0007bar'));
  assert.notEqual(key('foo\u0007bar'), key('foobar'));
  const bidi = 'foo\u0627\u0031bar';
  assert.equal(saslprep(bidi), bidi);
  assert.notEqual(key(bidi), key('foo1\u0627bar'));
  assert.notEqual(key(bidi), key('foobar'));
});

test('SCRAM-04 mapping: non-ASCII spaces, B.1, U+200B in both tables', () => {
  assert.equal(saslprep('a\u00A0b'), 'a b');
  assert.equal(saslprep('\u3000x'), ' x');
  assert.equal(saslprep('\u1680a'), ' a');
  assert.equal(saslprep('a\u200Bb'), 'a b'); // space table is checked first
  assert.equal(saslprep('\u200B'), ' ');
  assert.equal(saslprep('a\uFE00b'), 'ab');
  assert.equal(saslprep('\uFEFFabc'), 'abc'); // a leading BOM is a character here
});

test('SCRAM-04 empty after mapping is refused, so the raw bytes are used', () => {
  assert.equal(saslprep('\u00AD'), '\u00AD'); // @mongodb-js/saslprep throws a TypeError here
  assert.equal(saslprep('\u200C\u200D\uFEFF\uFE0F'), '\u200C\u200D\uFEFF\uFE0F');
  assert.equal(saslprep('\uFEFF'), '\uFEFF');
  assert.equal(saslprep(''), '');
});

test('SCRAM-04 NFKC', () => {
  assert.equal(saslprep('\uFF46\uFF55\uFF4C\uFF4C'), 'full');
  assert.equal(saslprep('\uFB01x'), 'fix');
  assert.equal(saslprep('e\u0301'), '\u00E9');
  assert.equal(saslprep('\u1100\u1161'), '\uAC00');
  assert.equal(saslprep('\u{1D400}b'), 'Ab');
  assert.equal(saslprep('\u212B'), '\u00C5');
  assert.equal(saslprep('\u00E9'.repeat(300)), '\u00E9'.repeat(300));
});

test('SCRAM-04 prohibited output and unassigned code points fall back to raw', () => {
  const raw = [
    'a\u00AD\uE000', // C.3 private use
    'a\u0085b', // C.2.2
    'a\u{E0001}', // C.9
    'a\uFFFD', // C.6
    '\u2FF0a', // C.7
    'a\uFDD0', // C.4
    'a\u200Eb\u00AD', // C.8
    'x\u00AD\u0221', // assigned in Unicode 4.0, unassigned (A.1) in 3.2
    'x\u00AD\u{1F600}', // an emoji: A.1 as well
  ];
  for (const input of raw) assert.equal(saslprep(input), input, JSON.stringify(input));
});

test('SCRAM-04 checks look at the mapped, not the normalised string, as PostgreSQL does', () => {
  // U+0340 is prohibited (C.8) but NFKC turns it into U+0300, which is not. Strict RFC 4013
  // would accept "a\u0340" as "\u00E0"; PostgreSQL refuses it and uses the raw bytes.
  assert.equal(saslprep('a\u0340'), 'a\u0340');
});

test('SCRAM-04 bidi rules (RFC 3454 §6)', () => {
  assert.equal(saslprep('\u0627\u00AD\u0628'), '\u0627\u0628'); // RandAL at both ends
  assert.equal(saslprep('\u0627\u0031\u0628'), '\u0627\u0031\u0628'); // digits are not L
  assert.equal(saslprep('\u0627a\u00AD\u0628'), '\u0627a\u00AD\u0628'); // RandAL with L
  assert.equal(saslprep('\u0627\u0628\u0031\u00AD'), '\u0627\u0628\u0031\u00AD'); // ends with EN
  assert.equal(saslprep('\u05D0\u05D1\u00AD'), '\u05D0\u05D1'); // Hebrew
  assert.equal(saslprep('\uFE8D\uFE8F'), '\u0627\u0628'); // presentation forms, NFKC
});

test('SCRAM-04b bytes: invalid UTF-8 and lone surrogates are used raw', () => {
  for (const hex of ['61ff', 'c0af', '61e282', 'f4908080', 'eda080', '636166e9']) {
    const input = Buffer.from(hex, 'hex');
    assert.equal(saslprepBytes(input).toString('hex'), hex);
  }
  assert.equal(saslprepBytes('I\u00ADX').toString('utf8'), 'IX');
  assert.equal(saslprepBytes(Buffer.from('foo\u0007bar')).toString(), 'foo\u0007bar');
  // A lone surrogate has no UTF-8 form; Node writes U+FFFD (prohibited), so: as is.
  assert.equal(saslprep('a\uD800'), 'a\uD800');
});

test('SCRAM-04c a failing normaliser falls back to the raw bytes instead of throwing', (t) => {
  t.mock.method(String.prototype, 'normalize', () => {
    throw new RangeError('simulated ICU failure');
  });
  assert.equal(saslprep('I\u00ADX'), 'I\u00ADX');
});
