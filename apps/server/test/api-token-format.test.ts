import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  apiTokenId,
  isApiTokenId,
  looksLikeApiToken,
  newApiToken,
} from '../src/identity/api-token-format';

test('tokens are pst_<12 base62>_<32 base62>, split unambiguously on "_"', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const { id, token } = newApiToken();
    assert.match(token, /^pst_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}$/);
    assert.equal(apiTokenId(token), id);
    assert.equal(token.split('_').length, 3);
    assert.ok(isApiTokenId(id));
    assert.ok(looksLikeApiToken(token));
    assert.ok(Buffer.byteLength(token) <= 72, 'bcrypt sees the whole token');
    seen.add(token);
  }
  assert.equal(seen.size, 200);
});

test('malformed tokens have no id', () => {
  const { token } = newApiToken();
  for (const bad of [
    '',
    'pst_',
    token.slice(0, -1),
    `${token}x`,
    token.replace('pst_', 'pss_'),
    token.replace(/_([^_]*)$/, '-$1'),
    `pst_${'a'.repeat(12)}_${'b'.repeat(31)}!`,
  ]) {
    assert.equal(apiTokenId(bad), null, bad);
  }
});

test('every base62 character occurs (no bias towards a subset)', () => {
  const counts = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    for (const ch of newApiToken().token.slice(17)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  }
  assert.equal(counts.size, 62);
});
