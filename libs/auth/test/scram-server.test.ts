import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ScramError,
  deriveScramVerifier,
  mockScramSalt,
  parsePostgresScramSecret,
  scramMechanisms,
  startScramClient,
  startScramServer,
  type ScramCandidate,
  type ScramServerOptions,
} from '#auth';
import { NEON_SNAPSHOT, RFC7677, RFC7677_PG_STYLE, referenceProof } from './fixtures/scram-vectors';

const salt = Buffer.from(RFC7677.salt, 'base64');
const pencil = deriveScramVerifier('pencil', salt, 4096);

function server(overrides: Partial<ScramServerOptions> = {}) {
  return startScramServer({
    salt,
    iterations: 4096,
    candidates: [{ id: 'password', verifier: pencil }],
    channelBinding: null,
    ...overrides,
  });
}

const rfcNonce = () => RFC7677.serverNonce;

test('SCRAM-01a RFC 7677 vector through the server, byte for byte', () => {
  const first = server({ nonce: rfcNonce }).receiveClientFirst(
    'SCRAM-SHA-256',
    Buffer.from(RFC7677.clientFirst),
  );
  assert.equal(first.serverFirst, RFC7677.serverFirst);
  const result = first.next.receiveClientFinal(Buffer.from(RFC7677.clientFinal));
  assert.deepEqual(result, {
    outcome: 'ok',
    candidateId: 'password',
    serverFinal: RFC7677.serverFinal,
    channelBound: false,
  });
});

test('SCRAM-01a the literal rolpassword verifier works the same', () => {
  const parsed = parsePostgresScramSecret(RFC7677.rolpassword);
  assert.ok(parsed);
  const first = server({
    nonce: rfcNonce,
    candidates: [{ id: 'pg', verifier: parsed.verifier }],
  }).receiveClientFirst('SCRAM-SHA-256', Buffer.from(RFC7677.clientFirst));
  const result = first.next.receiveClientFinal(Buffer.from(RFC7677.clientFinal));
  assert.equal(result.outcome, 'ok');
});

test('SCRAM-01b PostgreSQL-style vector with an empty n=', () => {
  const first = server({ nonce: rfcNonce }).receiveClientFirst(
    'SCRAM-SHA-256',
    Buffer.from(RFC7677_PG_STYLE.clientFirst),
  );
  assert.equal(first.serverFirst, RFC7677.serverFirst);
  const result = first.next.receiveClientFinal(Buffer.from(RFC7677_PG_STYLE.clientFinal));
  assert.equal(result.outcome === 'ok' && result.serverFinal, RFC7677_PG_STYLE.serverFinal);
});

test('SCRAM-01c Neon snapshot vector with a fixed 18-byte server nonce', () => {
  const secret = parsePostgresScramSecret(NEON_SNAPSHOT.rolpassword);
  assert.ok(secret);
  const first = startScramServer({
    salt: secret.salt,
    iterations: secret.iterations,
    candidates: [{ id: 'neon', verifier: secret.verifier }],
    channelBinding: null,
    nonce: () => NEON_SNAPSHOT.serverNonce,
  }).receiveClientFirst('SCRAM-SHA-256', Buffer.from(NEON_SNAPSHOT.clientFirst));
  assert.equal(first.serverFirst, NEON_SNAPSHOT.serverFirst);
  const result = first.next.receiveClientFinal(Buffer.from(NEON_SNAPSHOT.clientFinal));
  assert.equal(result.outcome === 'ok' && result.serverFinal, NEON_SNAPSHOT.serverFinal);
});

test('SCRAM-01 one flipped proof bit fails (the caller answers 28P01)', () => {
  const proof = Buffer.from(RFC7677.clientFinal.split(',p=')[1], 'base64');
  proof[0] ^= 1;
  const tampered = `${RFC7677.clientFinal.split(',p=')[0]},p=${proof.toString('base64')}`;
  const first = server({ nonce: rfcNonce }).receiveClientFirst(
    'SCRAM-SHA-256',
    Buffer.from(RFC7677.clientFirst),
  );
  assert.deepEqual(first.next.receiveClientFinal(Buffer.from(tampered)), { outcome: 'failed' });
});

test('password and three tokens under one salt: each logs in and is the one reported', () => {
  const secrets = ['the password', 'pst_a_1111', 'pst_b_2222', 'pst_c_3333'];
  const candidates: ScramCandidate[] = secrets.map((s, i) => ({
    id: `secret-${i}`,
    verifier: deriveScramVerifier(s, salt, 4096),
  }));
  const login = (password: string) => {
    const client = startScramClient({ password });
    const { serverFirst, next } = server({ candidates }).receiveClientFirst(
      client.mechanism,
      Buffer.from(client.clientFirst),
    );
    const final = client.receiveServerFirst(serverFirst);
    const result = next.receiveClientFinal(Buffer.from(final.clientFinal));
    if (result.outcome === 'ok') final.receiveServerFinal(result.serverFinal); // signed by it
    return result.outcome === 'ok' ? result.candidateId : 'failed';
  };
  secrets.forEach((s, i) => assert.equal(login(s), `secret-${i}`));
  assert.equal(login('pst_d_4444'), 'failed');
  assert.equal(login('the password '), 'failed');
});

test('the proof is checked independently of the production client', () => {
  const clientFirstBare = 'n=,r=abc';
  const first = server().receiveClientFirst('SCRAM-SHA-256', Buffer.from(`n,,${clientFirstBare}`));
  const nonce = first.serverFirst.slice(2, first.serverFirst.indexOf(','));
  const withoutProof = `c=biws,r=${nonce},x=an extension`; // extensions before p= are allowed
  const authMessage = `${clientFirstBare},${first.serverFirst},${withoutProof}`;
  const proof = referenceProof('pencil', salt, 4096, authMessage);
  const result = first.next.receiveClientFinal(Buffer.from(`${withoutProof},p=${proof}`));
  assert.equal(result.outcome, 'ok');
});

test('SCRAM-07 unknown user: mock salt, full exchange, then failed', () => {
  const secret = Buffer.from('server secret for the mock salts');
  const mock = startScramServer({
    salt: mockScramSalt(secret, 'no_such_user'),
    iterations: 4096,
    candidates: [],
    channelBinding: null,
  });
  const client = startScramClient({ password: 'pencil' });
  const { serverFirst, next } = mock.receiveClientFirst(
    client.mechanism,
    Buffer.from(client.clientFirst),
  );
  assert.match(serverFirst, /^r=[^,]+,s=[A-Za-z0-9+/]{22}==,i=4096$/);
  const final = client.receiveServerFirst(serverFirst);
  assert.deepEqual(next.receiveClientFinal(Buffer.from(final.clientFinal)), { outcome: 'failed' });
});

test('SCRAM-05a a replayed client-final fails on the fresh nonce', () => {
  const client = startScramClient({ password: 'pencil' });
  const first = server().receiveClientFirst(client.mechanism, Buffer.from(client.clientFirst));
  const captured = client.receiveServerFirst(first.serverFirst).clientFinal;
  assert.equal(first.next.receiveClientFinal(Buffer.from(captured)).outcome, 'ok');

  const again = server().receiveClientFirst(client.mechanism, Buffer.from(client.clientFirst));
  assert.throws(
    () => again.next.receiveClientFinal(Buffer.from(captured)),
    (e: unknown) =>
      e instanceof ScramError && e.sqlstate === '08P01' && e.message === 'invalid SCRAM response',
  );
});

test('SCRAM-05b 10,000 server nonces: distinct, 18 random bytes each', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10_000; i++) {
    const { serverFirst } = server().receiveClientFirst('SCRAM-SHA-256', Buffer.from('n,,n=,r=c'));
    const serverNonce = serverFirst.slice('r=c'.length, serverFirst.indexOf(','));
    assert.equal(Buffer.from(serverNonce, 'base64').length, 18);
    seen.add(serverNonce);
  }
  assert.equal(seen.size, 10_000);
});

test('each step takes one message only', () => {
  const exchange = server();
  const { next } = exchange.receiveClientFirst('SCRAM-SHA-256', Buffer.from('n,,n=,r=a'));
  assert.throws(() => exchange.receiveClientFirst('SCRAM-SHA-256', Buffer.from('n,,n=,r=a')));
  const final = Buffer.from(`c=biws,r=x,p=${Buffer.alloc(32).toString('base64')}`);
  assert.throws(() => next.receiveClientFinal(final), ScramError);
  assert.throws(() => next.receiveClientFinal(final), /already received/);
});

test('mechanism list: PLUS first over TLS, plain SCRAM otherwise', () => {
  assert.deepEqual(scramMechanisms(true), ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']);
  assert.deepEqual(scramMechanisms(false), ['SCRAM-SHA-256']);
});

test('options that cannot work are programming errors', () => {
  assert.throws(() => server({ salt: Buffer.alloc(0) }), RangeError);
  assert.throws(() => server({ iterations: 0 }), RangeError);
  const short = { storedKey: Buffer.alloc(31), serverKey: Buffer.alloc(32) };
  assert.throws(() => server({ candidates: [{ id: 'x', verifier: short }] }), RangeError);
  const exchange = server({ nonce: () => 'a,b' });
  assert.throws(() => exchange.receiveClientFirst('SCRAM-SHA-256', Buffer.from('n,,n=,r=a')));
});
