import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MALFORMED, PROOF, assertScramError, salt, server } from './fixtures/scram-helpers';

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
