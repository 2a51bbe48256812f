import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScramError, startScramClient, type ScramClientOptions } from '#auth';
import { RFC7677, RFC7677_PG_STYLE } from './fixtures/scram-vectors';

const rfcClient = (extra: Partial<ScramClientOptions> = {}) =>
  startScramClient({ password: 'pencil', nonce: () => RFC7677.clientNonce, ...extra });

function assertScramError(fn: () => unknown, sqlstate: string, message: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ScramError, `expected a ScramError, got ${String(e)}`);
    assert.equal(e.sqlstate, sqlstate);
    assert.match(e.message, message);
    return true;
  });
}

test('SCRAM-01a RFC 7677 vector through the client, byte for byte', () => {
  const client = rfcClient({ username: 'user' });
  assert.equal(client.mechanism, 'SCRAM-SHA-256');
  assert.equal(client.clientFirst, RFC7677.clientFirst);
  const final = client.receiveServerFirst(RFC7677.serverFirst);
  assert.equal(final.clientFinal, RFC7677.clientFinal);
  final.receiveServerFinal(RFC7677.serverFinal);
});

test('SCRAM-01b PostgreSQL style: empty n= by default, as libpq', () => {
  const client = rfcClient();
  assert.equal(client.clientFirst, RFC7677_PG_STYLE.clientFirst);
  const final = client.receiveServerFirst(Buffer.from(RFC7677.serverFirst));
  assert.equal(final.clientFinal, RFC7677_PG_STYLE.clientFinal);
  final.receiveServerFinal(Buffer.from(RFC7677_PG_STYLE.serverFinal));
});

test('SCRAM-10c a wrong server signature is refused', () => {
  const final = rfcClient().receiveServerFirst(RFC7677.serverFirst);
  // The RFC's own signature belongs to n=user, not to this AuthMessage.
  assertScramError(
    () => final.receiveServerFinal(RFC7677.serverFinal),
    '28000',
    /incorrect server signature/,
  );
});

test('SCRAM-10 server-final: e=, garbage, malformed signature', () => {
  const final = () => rfcClient().receiveServerFirst(RFC7677.serverFirst);
  const good = RFC7677_PG_STYLE.serverFinal;
  assertScramError(
    () => final().receiveServerFinal('e=invalid-proof'),
    '08P01',
    /error received from server.*invalid-proof/,
  );
  assertScramError(
    () => final().receiveServerFinal(`${good},x=1`),
    '08P01',
    /garbage at end of server-final/,
  );
  assertScramError(() => final().receiveServerFinal('v=AAAA'), '08P01', /invalid server signature/);
  assertScramError(
    () => final().receiveServerFinal('v=not*base64'),
    '08P01',
    /invalid server signature/,
  );
  assertScramError(() => final().receiveServerFinal(''), '08P01', /malformed SCRAM message/);
});

test('SCRAM-05c / SCRAM-10b a server nonce without our prefix is refused', () => {
  const bad = [
    'r=XOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
    'r=rOprNGfwEbeRWgbNEkq,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', // shorter than ours
    'r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', // no server part
    'r=rOprNGfwEbeRWgbNEkqO\x01,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', // not printable
  ];
  for (const serverFirst of bad) {
    assertScramError(() => rfcClient().receiveServerFirst(serverFirst), '08P01', /nonce mismatch/);
  }
});

test('SCRAM-06b / SCRAM-10d iteration counts out of range are refused before PBKDF2', () => {
  const withI = (i: string) => `r=${RFC7677.clientNonce}xyz,s=${RFC7677.salt},i=${i}`;
  for (const i of ['0', '-1', '', '4096x', '04096', '2147483647', '100000000', '100001']) {
    assertScramError(
      () => rfcClient().receiveServerFirst(withI(i)),
      '08P01',
      /invalid iteration count/,
    );
  }
  assertScramError(
    () => rfcClient({ maxIterations: 1000 }).receiveServerFirst(withI('4096')),
    '08P01',
    /invalid iteration count/,
  );
  assert.ok(rfcClient().receiveServerFirst(withI('1')).clientFinal);
});

test('SCRAM-10 server-first: bad salt, garbage, missing or reordered attributes', () => {
  const r = `r=${RFC7677.clientNonce}xyz`;
  assertScramError(
    () => rfcClient().receiveServerFirst(`${r},s=***,i=4096`),
    '08P01',
    /invalid salt/,
  );
  assertScramError(() => rfcClient().receiveServerFirst(`${r},s=,i=4096`), '08P01', /invalid salt/);
  assertScramError(
    () => rfcClient().receiveServerFirst(`${r},s=${RFC7677.salt},i=4096,x=1`),
    '08P01',
    /garbage at end of server-first/,
  );
  assertScramError(
    () => rfcClient().receiveServerFirst(`s=${RFC7677.salt},${r},i=4096`),
    '08P01',
    /malformed/,
  );
  assertScramError(
    () => rfcClient().receiveServerFirst(`m=x,${r},s=${RFC7677.salt},i=4096`),
    '08P01',
    /malformed/,
  );
  assertScramError(
    () => rfcClient().receiveServerFirst(`${r},s=${RFC7677.salt}`),
    '08P01',
    /malformed/,
  );
});

test('mechanism choice follows libpq: PLUS, else y if we could bind, else n', () => {
  const binding = { type: 'tls-server-end-point', data: Buffer.alloc(32, 1) } as const;
  const both = ['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'];
  const plus = startScramClient({ password: 'p', channelBinding: binding, serverMechanisms: both });
  assert.equal(plus.mechanism, 'SCRAM-SHA-256-PLUS');
  assert.match(plus.clientFirst, /^p=tls-server-end-point,,n=,r=[A-Za-z0-9+/]{24}$/);
  const y = startScramClient({
    password: 'p',
    channelBinding: binding,
    serverMechanisms: ['SCRAM-SHA-256'],
  });
  assert.equal(y.mechanism, 'SCRAM-SHA-256');
  assert.match(y.clientFirst, /^y,,/);
  const n = startScramClient({ password: 'p', serverMechanisms: both });
  assert.match(n.clientFirst, /^n,,/);
  assert.equal(n.mechanism, 'SCRAM-SHA-256');
});

test('SCRAM-10f channel binding required but PLUS not offered: refused', () => {
  const binding = { type: 'tls-server-end-point', data: Buffer.alloc(32, 1) } as const;
  assertScramError(
    () =>
      startScramClient({
        password: 'p',
        channelBinding: binding,
        requireChannelBinding: true,
        serverMechanisms: ['SCRAM-SHA-256'],
      }),
    '28000',
    /channel binding is required/,
  );
  assertScramError(
    () => startScramClient({ password: 'p', requireChannelBinding: true }),
    '28000',
    /channel binding is required/,
  );
  assertScramError(
    () => startScramClient({ password: 'p', serverMechanisms: ['SCRAM-SHA-1'] }),
    '28000',
    /none of the server/,
  );
});

test('n= escapes "," and "=" and refuses non-ASCII', () => {
  assert.match(
    startScramClient({ password: 'p', username: 'a,b=c' }).clientFirst,
    /^n,,n=a=2Cb=3Dc,r=/,
  );
  assert.throws(() => startScramClient({ password: 'p', username: 'é' }), RangeError);
});

test('client nonces are fresh', () => {
  const nonces = new Set(
    Array.from({ length: 1000 }, () => startScramClient({ password: 'p' }).clientFirst),
  );
  assert.equal(nonces.size, 1000);
});
