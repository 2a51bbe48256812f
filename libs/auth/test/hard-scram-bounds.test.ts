import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MALFORMED, assertScramError, server } from './fixtures/scram-helpers';

/** MAX_CLIENT_NONCE_LENGTH in scram-server.ts. */
const MAX_CLIENT_NONCE_LENGTH = 256;
const clientFirst = (nonce: string) => Buffer.from(`n,,n=,r=${nonce}`, 'latin1');

describe('HARD-01 SCRAM attributes are bounded', () => {
  test('HARD-01 a client nonce of the bound is accepted and echoed', () => {
    const nonce = 'N'.repeat(MAX_CLIENT_NONCE_LENGTH);
    const { serverFirst } = server().receiveClientFirst('SCRAM-SHA-256', clientFirst(nonce));
    assert.ok(serverFirst.startsWith(`r=${nonce}SRV,`));
  });

  test('HARD-01 a longer client nonce is a malformed SCRAM message (08P01), never echoed', () => {
    for (const length of [MAX_CLIENT_NONCE_LENGTH + 1, 100 * 1024]) {
      assertScramError(
        () => server().receiveClientFirst('SCRAM-SHA-256', clientFirst('N'.repeat(length))),
        '08P01',
        MALFORMED,
        /Client nonce is longer than 256 characters/,
      );
    }
  });
});
