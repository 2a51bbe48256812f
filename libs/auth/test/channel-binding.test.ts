import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tlsServerEndPointHash } from '#auth';
import { CERTIFICATES, certificateDer } from './fixtures/certificates';

for (const cert of CERTIFICATES) {
  test(`SCRAM-03 tls-server-end-point for ${cert.name}: ${cert.hash ?? 'undefined, no PLUS'}`, () => {
    const der = certificateDer(cert.name);
    const fromDer = tlsServerEndPointHash(der);
    const fromOid = tlsServerEndPointHash(der, cert.oid);
    assert.equal(fromDer?.toString('hex') ?? null, cert.expectedHex);
    assert.equal(fromOid?.toString('hex') ?? null, cert.expectedHex);
  });
}

test("the caller's OID is taken as given", () => {
  const der = certificateDer('ecdsa-sha256');
  assert.equal(tlsServerEndPointHash(der, '1.2.840.10045.4.3.3')?.length, 48); // ecdsa-with-SHA384
  assert.equal(tlsServerEndPointHash(der, '1.3.101.112'), null); // Ed25519
  assert.equal(tlsServerEndPointHash(der, '1.2.3.4'), null); // unknown: no binding, no PLUS
});

test('DER that is not a certificate is refused loudly', () => {
  const der = certificateDer('rsa-sha256');
  for (const bad of [
    Buffer.alloc(0),
    der.subarray(0, der.length - 1),
    Buffer.concat([der, Buffer.from([0])]),
    Buffer.from('300302010a', 'hex'),
    Buffer.from('3080', 'hex'),
  ]) {
    assert.throws(() => tlsServerEndPointHash(bad), Error, bad.toString('hex').slice(0, 16));
  }
});
