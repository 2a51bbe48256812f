import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_SCRAM_ITERATIONS,
  deriveScramVerifier,
  formatPostgresScramSecret,
  mockScramSalt,
  newScramSalt,
  parsePostgresScramSecret,
} from '#auth';
import { PG_SECRETS } from './fixtures/pg-saslprep-secrets';
import { NEON_SNAPSHOT, RFC7677 } from './fixtures/scram-vectors';

const salt = Buffer.from(RFC7677.salt, 'base64');

test('SCRAM-01 RFC 7677 StoredKey and ServerKey', () => {
  const v = deriveScramVerifier(RFC7677.password, salt, RFC7677.iterations);
  assert.equal(v.storedKey.toString('base64'), RFC7677.storedKey);
  assert.equal(v.serverKey.toString('base64'), RFC7677.serverKey);
});

test('SCRAM-01 rolpassword form of the RFC 7677 vector', () => {
  const v = deriveScramVerifier(RFC7677.password, salt, RFC7677.iterations);
  assert.equal(formatPostgresScramSecret(salt, RFC7677.iterations, v), RFC7677.rolpassword);
});

test('parsePostgresScramSecret reads what PostgreSQL and formatPostgresScramSecret write', () => {
  const parsed = parsePostgresScramSecret(RFC7677.rolpassword);
  assert.ok(parsed);
  assert.equal(parsed.iterations, 4096);
  assert.equal(parsed.salt.toString('base64'), RFC7677.salt);
  assert.equal(parsed.verifier.storedKey.toString('base64'), RFC7677.storedKey);
  assert.equal(parsed.verifier.serverKey.toString('base64'), RFC7677.serverKey);
  assert.ok(parsePostgresScramSecret(NEON_SNAPSHOT.rolpassword));
});

test('SCRAM-06a unusable stored secrets are refused, not half-parsed', () => {
  const keys = `$${RFC7677.storedKey}:${RFC7677.serverKey}`;
  const bad = [
    `SCRAM-SHA-256$0:${RFC7677.salt}${keys}`,
    `SCRAM-SHA-256$-1:${RFC7677.salt}${keys}`,
    `SCRAM-SHA-256$2147483648:${RFC7677.salt}${keys}`,
    `SCRAM-SHA-256$4096x:${RFC7677.salt}${keys}`,
    `SCRAM-SHA-256$:${RFC7677.salt}${keys}`,
    `SCRAM-SHA-256$04096:${RFC7677.salt}${keys}`,
    `SCRAM-SHA-256$4096:not*base64${keys}`,
    `SCRAM-SHA-256$4096:${RFC7677.salt}$AAAA:${RFC7677.serverKey}`,
    `SCRAM-SHA-1$4096:${RFC7677.salt}${keys}`,
    'md5c4ca4238a0b923820dcc509a6f75849b',
    '',
  ];
  for (const secret of bad) assert.equal(parsePostgresScramSecret(secret), null, secret);
  assert.ok(parsePostgresScramSecret(`SCRAM-SHA-256$2147483647:${RFC7677.salt}${keys}`));
});

test('SCRAM-04b verifiers match the secrets PostgreSQL 15 built for the same bytes', () => {
  assert.ok(PG_SECRETS.length >= 50);
  for (const { name, password, rolpassword } of PG_SECRETS) {
    const pg = parsePostgresScramSecret(rolpassword);
    assert.ok(pg, name);
    const ours = deriveScramVerifier(password, pg.salt, pg.iterations);
    assert.equal(ours.storedKey.toString('base64'), pg.verifier.storedKey.toString('base64'), name);
    assert.equal(ours.serverKey.toString('base64'), pg.verifier.serverKey.toString('base64'), name);
  }
});

test("SCRAM-06c new salts are 16 random bytes; default iterations are PostgreSQL's 4096", () => {
  assert.equal(DEFAULT_SCRAM_ITERATIONS, 4096);
  const salts = new Set(Array.from({ length: 100 }, () => newScramSalt().toString('hex')));
  assert.equal(salts.size, 100);
  for (const s of salts) assert.equal(s.length, 32);
});

test('deriveScramVerifier refuses nonsense parameters', () => {
  assert.throws(() => deriveScramVerifier('x', salt, 0), RangeError);
  assert.throws(() => deriveScramVerifier('x', salt, 1.5), RangeError);
  assert.throws(() => deriveScramVerifier('x', Buffer.alloc(0), 4096), RangeError);
  assert.throws(() => formatPostgresScramSecret(salt, 2 ** 31, deriveScramVerifier('x', salt, 1)));
});

test('SCRAM-07 mock salt: stable per name, different across names and secrets', () => {
  const secret = Buffer.from('a server secret of some length!!');
  const a1 = mockScramSalt(secret, 'no_such_user');
  const a2 = mockScramSalt(secret, 'no_such_user');
  const b = mockScramSalt(secret, 'no_such_user2');
  const other = mockScramSalt(Buffer.from('another server secret, elsewhere'), 'no_such_user');
  assert.equal(a1.length, 16);
  assert.deepEqual(a1, a2);
  assert.notDeepEqual(a1, b);
  assert.notDeepEqual(a1, other);
  // Same shape as a real salt on the wire: 16 bytes, 24 base64 characters.
  assert.equal(a1.toString('base64').length, newScramSalt().toString('base64').length);
  assert.throws(() => mockScramSalt(Buffer.alloc(0), 'x'), RangeError);
});
