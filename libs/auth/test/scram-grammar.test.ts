import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ScramError,
  deriveScramVerifier,
  scramMechanisms,
  startScramClient,
  startScramServer,
  tlsServerEndPointHash,
  type ChannelBinding,
} from '#auth';
import { certificateDer } from './fixtures/certificates';

const salt = Buffer.from('0123456789abcdef');
const verifier = deriveScramVerifier('pencil', salt, 4096);
const PROOF = Buffer.alloc(32).toString('base64');

function server(channelBinding: ChannelBinding | null = null) {
  return startScramServer({
    salt,
    iterations: 4096,
    candidates: [{ id: 'password', verifier }],
    channelBinding,
    nonce: () => 'SRV',
  });
}

function bindingOf(certificate: string): ChannelBinding {
  const data = tlsServerEndPointHash(certificateDer(certificate));
  assert.ok(data);
  return { type: 'tls-server-end-point', data };
}

function assertScramError(fn: () => unknown, sqlstate: string, message: RegExp, detail?: RegExp) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ScramError, `expected a ScramError, got ${String(e)}`);
    assert.equal(e.sqlstate, sqlstate);
    assert.match(e.message, message);
    if (detail) assert.match(e.detail ?? '', detail);
    return true;
  });
}

const MALFORMED = /^malformed SCRAM message$/;

describe('SCRAM-02 client-first-message (PostgreSQL 15.18 results)', () => {
  const cases: ReadonlyArray<{
    name: string;
    mechanism?: string;
    message: string;
    sqlstate: string;
    error: RegExp;
    detail?: RegExp;
  }> = [
    {
      name: 'SCRAM-02 PLUS over plaintext',
      mechanism: 'SCRAM-SHA-256-PLUS',
      message: 'p=tls-server-end-point,,n=,r=abc',
      sqlstate: '08P01',
      error: /^client selected an invalid SASL authentication mechanism$/,
    },
    {
      name: 'SCRAM-02 unknown mechanism SCRAM-SHA-1',
      mechanism: 'SCRAM-SHA-1',
      message: 'n,,n=,r=abc',
      sqlstate: '08P01',
      error: /^client selected an invalid SASL authentication mechanism$/,
    },
    {
      name: 'SCRAM-02 authzid',
      message: 'n,a=postgres,n=,r=abc',
      sqlstate: '0A000',
      error: /^client uses authorization identity, but it is not supported$/,
    },
    {
      name: 'SCRAM-02 mandatory extension m=',
      message: 'n,,m=foo,n=,r=abc',
      sqlstate: '0A000',
      error: /^client requires an unsupported SCRAM extension$/,
    },
    {
      name: 'SCRAM-02 nonce with byte 0x01',
      message: 'n,,n=,r=ab\x01c',
      sqlstate: '08P01',
      error: /^non-printable characters in SCRAM nonce$/,
    },
    {
      name: 'SCRAM-02 nonce with a byte above 0x7e',
      message: 'n,,n=,r=ab\xe9c',
      sqlstate: '08P01',
      error: /^non-printable characters in SCRAM nonce$/,
    },
    {
      name: 'SCRAM-02 p=tls-unique with mechanism SCRAM-SHA-256',
      message: 'p=tls-unique,,n=,r=abc',
      sqlstate: '08P01',
      error: MALFORMED,
      detail: /selected SCRAM-SHA-256 without channel binding/,
    },
    {
      name: 'SCRAM-02 NUL inside the payload',
      message: 'n,,n=\0,r=abc',
      sqlstate: '08P01',
      error: MALFORMED,
      detail: /Message length does not match input length/,
    },
    { name: 'SCRAM-02 empty message', message: '', sqlstate: '08P01', error: MALFORMED },
    {
      name: 'SCRAM-02 unknown channel-binding flag',
      message: 'x,,n=,r=abc',
      sqlstate: '08P01',
      error: MALFORMED,
      detail: /Unexpected channel-binding flag "x"/,
    },
    { name: 'SCRAM-02 flag without comma', message: 'n', sqlstate: '08P01', error: MALFORMED },
    { name: 'SCRAM-02 gs2 header cut short', message: 'n,', sqlstate: '08P01', error: MALFORMED },
    {
      name: 'SCRAM-02 unknown gs2 attribute',
      message: 'n,b=x,n=,r=abc',
      sqlstate: '08P01',
      error: MALFORMED,
      detail: /Unexpected attribute "b"/,
    },
    {
      name: 'SCRAM-02 username missing',
      message: 'n,,r=abc',
      sqlstate: '08P01',
      error: MALFORMED,
      detail: /Expected attribute "n"/,
    },
    {
      name: 'SCRAM-02 username without =',
      message: 'n,,n,r=abc',
      sqlstate: '08P01',
      error: MALFORMED,
    },
    { name: 'SCRAM-02 nonce missing', message: 'n,,n=', sqlstate: '08P01', error: MALFORMED },
    {
      name: 'SCRAM-02 nonce before username',
      message: 'n,,r=abc,n=',
      sqlstate: '08P01',
      error: MALFORMED,
    },
    {
      name: 'SCRAM-02 trailing comma',
      message: 'n,,n=,r=abc,',
      sqlstate: '08P01',
      error: MALFORMED,
    },
    {
      name: 'SCRAM-02 extension not ALPHA=',
      message: 'n,,n=,r=abc,1=x',
      sqlstate: '08P01',
      error: MALFORMED,
    },
    {
      name: 'SCRAM-02 extension without value',
      message: 'n,,n=,r=abc,x',
      sqlstate: '08P01',
      error: MALFORMED,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assertScramError(
        () =>
          server().receiveClientFirst(
            c.mechanism ?? 'SCRAM-SHA-256',
            Buffer.from(c.message, 'latin1'),
          ),
        c.sqlstate,
        c.error,
        c.detail,
      );
    });
  }

  test('SCRAM-02 empty client nonce is accepted, as PostgreSQL does', () => {
    const { serverFirst } = server().receiveClientFirst('SCRAM-SHA-256', Buffer.from('n,,n=,r='));
    assert.equal(serverFirst, `r=SRV,s=${salt.toString('base64')},i=4096`);
  });

  test('SCRAM-02 the user name is ignored but any value is syntactically fine', () => {
    for (const message of ['n,,n=*,r=a', 'n,,n=user,r=a', 'n,,n=a=2Cb,r=a', 'n,,n=,r=a,x=ext']) {
      assert.match(
        server().receiveClientFirst('SCRAM-SHA-256', Buffer.from(message)).serverFirst,
        /^r=aSRV,/,
      );
    }
  });
});

describe('SCRAM-02 client-final-message (PostgreSQL 15.18 results)', () => {
  const nonce = 'abcSRV';
  const cases: ReadonlyArray<{
    name: string;
    message: string;
    sqlstate: string;
    error: RegExp;
    detail?: RegExp;
  }> = [
    {
      name: 'SCRAM-02 flag n, final c=eSws',
      message: `c=eSws,r=${nonce},p=${PROOF}`,
      sqlstate: '08P01',
      error: /^unexpected SCRAM channel-binding attribute in client-final-message$/,
    },
    {
      name: 'SCRAM-02 combined nonce altered',
      message: `c=biws,r=${nonce}x,p=${PROOF}`,
      sqlstate: '08P01',
      error: /^invalid SCRAM response$/,
      detail: /Nonce does not match/,
    },
    {
      name: 'SCRAM-02 combined nonce shortened',
      message: `c=biws,r=abc,p=${PROOF}`,
      sqlstate: '08P01',
      error: /^invalid SCRAM response$/,
    },
    {
      name: 'SCRAM-02 proof p=AAAA (wrong length)',
      message: `c=biws,r=${nonce},p=AAAA`,
      sqlstate: '08P01',
      error: MALFORMED,
      detail: /Malformed proof/,
    },
    {
      name: 'SCRAM-02 proof of 33 bytes',
      message: `c=biws,r=${nonce},p=${Buffer.alloc(33).toString('base64')}`,
      sqlstate: '08P01',
      error: MALFORMED,
      detail: /Malformed proof/,
    },
    {
      name: 'SCRAM-02 proof not base64',
      message: `c=biws,r=${nonce},p=${PROOF.slice(0, -2)}*=`,
      sqlstate: '08P01',
      error: MALFORMED,
      detail: /Malformed proof/,
    },
    {
      name: 'SCRAM-02 attribute after the proof',
      message: `c=biws,r=${nonce},p=${PROOF},x=1`,
      sqlstate: '08P01',
      error: MALFORMED,
      detail: /Garbage found at the end of client-final-message/,
    },
    {
      name: 'SCRAM-02 NUL inside the payload',
      message: `c=biws,r=${nonce}\0,p=${PROOF}`,
      sqlstate: '08P01',
      error: MALFORMED,
      detail: /Message length does not match input length/,
    },
    { name: 'SCRAM-02 empty client-final', message: '', sqlstate: '08P01', error: MALFORMED },
    {
      name: 'SCRAM-02 r= before c=',
      message: `r=${nonce},c=biws,p=${PROOF}`,
      sqlstate: '08P01',
      error: MALFORMED,
    },
    {
      name: 'SCRAM-02 no nonce',
      message: `c=biws,p=${PROOF}`,
      sqlstate: '08P01',
      error: MALFORMED,
    },
    {
      name: 'SCRAM-02 no proof',
      message: `c=biws,r=${nonce}`,
      sqlstate: '08P01',
      error: MALFORMED,
    },
    {
      name: 'SCRAM-02 trailing comma after proof',
      message: `c=biws,r=${nonce},p=${PROOF},`,
      sqlstate: '08P01',
      error: MALFORMED,
    },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const { next } = server().receiveClientFirst('SCRAM-SHA-256', Buffer.from('n,,n=,r=abc'));
      assertScramError(
        () => next.receiveClientFinal(Buffer.from(c.message, 'latin1')),
        c.sqlstate,
        c.error,
        c.detail,
      );
    });
  }

  test('SCRAM-02 a well-formed final with a wrong proof is a plain failure', () => {
    const { next } = server().receiveClientFirst('SCRAM-SHA-256', Buffer.from('n,,n=,r=abc'));
    assert.deepEqual(next.receiveClientFinal(Buffer.from(`c=biws,r=${nonce},p=${PROOF}`)), {
      outcome: 'failed',
    });
  });
});

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
