import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deriveScramVerifier, matchCleartextPassword } from '#auth';

const salt = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');
const candidates = [
  { id: 'password', verifier: deriveScramVerifier('pencil', salt, 4096) },
  { id: 'tok1', verifier: deriveScramVerifier('pst_abc_secret1', salt, 4096) },
  { id: 'tok2', verifier: deriveScramVerifier('pst_def_secret2', salt, 4096) },
];

test('a cleartext password or token matches the candidate it belongs to', () => {
  assert.equal(matchCleartextPassword('pencil', salt, 4096, candidates), 'password');
  assert.equal(matchCleartextPassword('pst_def_secret2', salt, 4096, candidates), 'tok2');
});

test('a wrong secret, or no candidates at all, matches nothing', () => {
  assert.equal(matchCleartextPassword('pencil2', salt, 4096, candidates), null);
  assert.equal(matchCleartextPassword('pencil', salt, 4096, []), null);
});

test('the password goes through SASLprep like SCRAM does (U+00AD is mapped to nothing)', () => {
  assert.equal(matchCleartextPassword('pen\u00ADcil', salt, 4096, candidates), 'password');
});
