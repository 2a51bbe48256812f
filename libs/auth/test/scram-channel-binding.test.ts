import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { scramMechanisms, startScramClient, type ChannelBinding } from '#auth';
import { MALFORMED, PROOF, assertScramError, bindingOf, server } from './fixtures/scram-helpers';

describe('SCRAM-03 channel binding (tls-server-end-point) and downgrade', () => {
  const served = bindingOf('ecdsa-sha256');

  function login(
    serverBinding: ChannelBinding | null,
    clientBinding: ChannelBinding | null,
    offered?: string[],
  ) {
    const client = startScramClient({
      password: 'pencil',
      channelBinding: clientBinding,
      serverMechanisms: offered ?? scramMechanisms(serverBinding !== null),
    });
    const first = server(serverBinding).receiveClientFirst(
      client.mechanism,
      Buffer.from(client.clientFirst),
    );
    const final = client.receiveServerFirst(first.serverFirst);
    const result = first.next.receiveClientFinal(Buffer.from(final.clientFinal));
    if (result.outcome === 'ok') final.receiveServerFinal(result.serverFinal);
    return { client, result };
  }

  test("SCRAM-03 PLUS with the served certificate's hash logs in, bound", () => {
    const { client, result } = login(served, served);
    assert.equal(client.mechanism, 'SCRAM-SHA-256-PLUS');
    assert.match(client.clientFirst, /^p=tls-server-end-point,,n=,r=/);
    assert.equal(result.outcome === 'ok' && result.channelBound, true);
  });

  test('SCRAM-03b binding for another certificate (a MITM) fails with 28000', () => {
    assertScramError(
      () => login(served, bindingOf('rsa-sha256')),
      '28000',
      /^SCRAM channel binding check failed$/,
    );
  });

  test('SCRAM-03 PLUS with 32 bytes of 0x07 as binding data fails with 28000', () => {
    const junk: ChannelBinding = { type: 'tls-server-end-point', data: Buffer.alloc(32, 7) };
    assertScramError(() => login(served, junk), '28000', /^SCRAM channel binding check failed$/);
  });

  test('SCRAM-03c flag y when PLUS was offered (stripped on the way) fails with 28000', () => {
    const client = startScramClient({
      password: 'pencil',
      channelBinding: served,
      serverMechanisms: ['SCRAM-SHA-256'],
    });
    assert.match(client.clientFirst, /^y,,/);
    assertScramError(
      () => server(served).receiveClientFirst(client.mechanism, Buffer.from(client.clientFirst)),
      '28000',
      /^SCRAM channel binding negotiation error$/,
      /thinks the server does not/,
    );
  });

  test('SCRAM-03d p= rewritten to n,, with SCRAM-SHA-256 by a MITM fails', () => {
    const client = startScramClient({ password: 'pencil', channelBinding: served });
    const rewritten = client.clientFirst.replace('p=tls-server-end-point,,', 'n,,');
    const first = server(served).receiveClientFirst('SCRAM-SHA-256', Buffer.from(rewritten));
    const final = client.receiveServerFirst(first.serverFirst).clientFinal;
    assertScramError(
      () => first.next.receiveClientFinal(Buffer.from(final)),
      '08P01',
      /unexpected SCRAM channel-binding attribute/,
    );

    // If the MITM fixes c= as well, the AuthMessage no longer matches the proof.
    const again = startScramClient({ password: 'pencil', channelBinding: served });
    const first2 = server(served).receiveClientFirst(
      'SCRAM-SHA-256',
      Buffer.from(again.clientFirst.replace('p=tls-server-end-point,,', 'n,,')),
    );
    const fixed = again
      .receiveServerFirst(first2.serverFirst)
      .clientFinal.replace(/^c=[^,]+/, 'c=biws');
    assert.deepEqual(first2.next.receiveClientFinal(Buffer.from(fixed)), { outcome: 'failed' });
  });

  test('SCRAM-03f plaintext: flag y is accepted and c=eSws is required', () => {
    const { client, result } = login(null, served);
    assert.equal(client.mechanism, 'SCRAM-SHA-256');
    assert.match(client.clientFirst, /^y,,/);
    assert.equal(result.outcome === 'ok' && result.channelBound, false);

    const { next } = server(null).receiveClientFirst('SCRAM-SHA-256', Buffer.from('y,,n=,r=abc'));
    assertScramError(
      () => next.receiveClientFinal(Buffer.from(`c=biws,r=abcSRV,p=${PROOF}`)),
      '08P01',
      /unexpected SCRAM channel-binding attribute/,
    );
  });

  test('SCRAM-03 plain SCRAM over TLS without binding (flag n) still works', () => {
    const { client, result } = login(served, null);
    assert.equal(client.mechanism, 'SCRAM-SHA-256');
    assert.equal(result.outcome === 'ok' && result.channelBound, false);
  });

  test('SCRAM-03 PLUS with flag n or y, or with another binding type, is refused', () => {
    const plus = (message: string) => () =>
      server(served).receiveClientFirst('SCRAM-SHA-256-PLUS', Buffer.from(message));
    assertScramError(
      plus('n,,n=,r=abc'),
      '08P01',
      MALFORMED,
      /does not include channel binding data/,
    );
    assertScramError(
      plus('y,,n=,r=abc'),
      '08P01',
      MALFORMED,
      /does not include channel binding data/,
    );
    assertScramError(
      plus('p=tls-unique,,n=,r=abc'),
      '08P01',
      /^unsupported SCRAM channel-binding type "tls-unique"$/,
    );
    assertScramError(
      plus('p=tls-server-end-point,a=x,n=,r=abc'),
      '0A000',
      /authorization identity/,
    );
  });

  test('SCRAM-03g ecdsa-with-SHA384: the binding is SHA-384, and it logs in', () => {
    const sha384 = bindingOf('ecdsa-sha384');
    assert.equal(sha384.data.length, 48);
    const { result } = login(sha384, sha384);
    assert.equal(result.outcome === 'ok' && result.channelBound, true);
  });
});
