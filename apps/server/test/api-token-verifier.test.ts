import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ApiTokenVerifier, type StoredToken } from '../src/identity/api-token-verifier';

const ID = 'AbCdEf012345';
const SECRET = `pst_${ID}_${'s'.repeat(32)}`;
const stored: StoredToken = {
  id: ID,
  entityId: 'user-1',
  name: 'ci',
  databaseIds: [],
  maxLevel: null,
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: null,
  createdAt: new Date(0),
  bcrypt: 'hash-of-the-secret',
};

/** A verifier over one stored token, with a hasher that counts its checks. */
function verifierWith(clock = { now: 0 }) {
  const hashed: string[] = [];
  const verifier = new ApiTokenVerifier(
    async (id) => (id === ID ? stored : null),
    async (secret, hash) => {
      hashed.push(secret);
      return hash === stored.bcrypt && secret === SECRET;
    },
    { ttlMs: 1000, maxEntries: 2 },
    () => clock.now,
  );
  return { verifier, hashed, clock };
}

const always = () => true;

test('HARD-09: an unknown token id is refused without any bcrypt check', async () => {
  const { verifier, hashed } = verifierWith();
  for (let i = 0; i < 50; i++) {
    assert.equal(
      await verifier.verify(
        `pst_ZZZZZZZZZZ${String(i).padStart(2, '0')}_${'x'.repeat(32)}`,
        always,
      ),
      null,
    );
  }
  assert.equal(await verifier.verify('pst_malformed', always), null);
  assert.deepEqual(hashed, []);
});

test('HARD-09: a known id with a wrong secret is checked only when the throttle allows it', async () => {
  const { verifier, hashed } = verifierWith();
  const wrong = `pst_${ID}_${'w'.repeat(32)}`;
  assert.equal(await verifier.verify(wrong, () => false), null);
  assert.equal(hashed.length, 0);
  assert.equal(await verifier.verify(wrong, always), null);
  assert.equal(hashed.length, 1);
});

test('HARD-09: a verified token is remembered: repeated calls pay bcrypt once, until the entry expires or the token is revoked', async () => {
  const { verifier, hashed, clock } = verifierWith();
  assert.equal(await verifier.verify(SECRET, always), stored);
  assert.equal(await verifier.verify(SECRET, () => false), stored, 'no check needed');
  assert.equal(hashed.length, 1);
  clock.now = 1000;
  assert.equal(await verifier.verify(SECRET, () => false), null, 'expired: a check is needed');
  assert.equal(await verifier.verify(SECRET, always), stored);
  verifier.forget(ID);
  assert.equal(verifier.size, 0);
  assert.equal(await verifier.verify(SECRET, () => false), null);
  assert.equal(hashed.length, 2);
});
