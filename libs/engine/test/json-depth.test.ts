import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from 'lossless-json';
import { decoderFor, jsonNestingDepth, MAX_JSON_DEPTH, parameterText, TypeOid } from '#engine';

describe('HARD-17 JSON depth and exact numbers', () => {
  test('jsonNestingDepth counts brackets outside strings and stops past the limit', () => {
    assert.equal(jsonNestingDepth('1'), 0);
    assert.equal(jsonNestingDepth('[[1], {"a": [2]}]'), 3);
    assert.equal(jsonNestingDepth('["[[[[", "\\"[[["]'), 1);
    assert.equal(jsonNestingDepth('['.repeat(100_000), 10), 11);
  });

  test('json values nested past MAX_JSON_DEPTH decode as their text', () => {
    const decode = decoderFor(TypeOid.jsonb);
    const ok = '['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH);
    assert.equal(typeof decode(ok), 'object');
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    assert.equal(decode(deep), deep);
  });

  test('lossless numbers bind with the text they were written with', () => {
    const params = parse(
      '[12345678901234567890, 1e400, 0.10, {"a": [9007199254740993]}]',
    ) as unknown[];
    assert.deepEqual(params.map(parameterText), [
      '12345678901234567890',
      '1e400',
      '0.10',
      '{"a":[9007199254740993]}',
    ]);
  });
});
