import { createHash, generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import forge from 'node-forge';
import { channelBindingHashOf, tlsServerEndPointOf } from '#tls';

const { asn1 } = forge;

function oid(value: string) {
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.OID, false, asn1.oidToDer(value).getBytes());
}

/**
 * A structurally minimal Certificate: only the outer signatureAlgorithm matters for RFC 5929,
 * which lets ECDSA and RSA-PSS be covered without generating such certificates.
 */
function fakeCertificate(algorithm: string, params?: forge.asn1.Asn1): Buffer {
  const algId = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    oid(algorithm),
    ...(params ? [params] : []),
  ]);
  const cert = asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, []),
    algId,
    asn1.create(asn1.Class.UNIVERSAL, asn1.Type.BITSTRING, false, '\0'),
  ]);
  return Buffer.from(asn1.toDer(cert).getBytes(), 'binary');
}

function pssParams(hashOid?: string): forge.asn1.Asn1 {
  const fields = hashOid
    ? [
        asn1.create(asn1.Class.CONTEXT_SPECIFIC, 0, true, [
          asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, [oid(hashOid)]),
        ]),
      ]
    : [];
  return asn1.create(asn1.Class.UNIVERSAL, asn1.Type.SEQUENCE, true, fields);
}

const cases: [string, string, forge.asn1.Asn1 | undefined, string][] = [
  ['md5WithRSA', '1.2.840.113549.1.1.4', undefined, 'sha256'],
  ['sha1WithRSA', '1.2.840.113549.1.1.5', undefined, 'sha256'],
  ['sha256WithRSA', '1.2.840.113549.1.1.11', undefined, 'sha256'],
  ['sha384WithRSA', '1.2.840.113549.1.1.12', undefined, 'sha384'],
  ['sha512WithRSA', '1.2.840.113549.1.1.13', undefined, 'sha512'],
  ['ecdsa-with-SHA1', '1.2.840.10045.4.1', undefined, 'sha256'],
  ['ecdsa-with-SHA256', '1.2.840.10045.4.3.2', undefined, 'sha256'],
  ['ecdsa-with-SHA384', '1.2.840.10045.4.3.3', undefined, 'sha384'],
  ['ecdsa-with-SHA512', '1.2.840.10045.4.3.4', undefined, 'sha512'],
  ['RSA-PSS default (SHA-1)', '1.2.840.113549.1.1.10', pssParams(), 'sha256'],
  ['RSA-PSS SHA-256', '1.2.840.113549.1.1.10', pssParams('2.16.840.1.101.3.4.2.1'), 'sha256'],
  ['RSA-PSS SHA-384', '1.2.840.113549.1.1.10', pssParams('2.16.840.1.101.3.4.2.2'), 'sha384'],
  ['RSA-PSS SHA-512', '1.2.840.113549.1.1.10', pssParams('2.16.840.1.101.3.4.2.3'), 'sha512'],
];

for (const [name, algorithm, params, expected] of cases) {
  test(`${name} binds with ${expected}`, () => {
    assert.equal(channelBindingHashOf(fakeCertificate(algorithm, params)), expected);
  });
}

test('algorithms without a supported hash are refused with their OID', () => {
  assert.throws(() => channelBindingHashOf(fakeCertificate('1.3.101.112')), /1\.3\.101\.112/); // Ed25519
  assert.throws(
    () => channelBindingHashOf(fakeCertificate('1.2.840.113549.1.1.14')),
    /no supported/,
  ); // sha224
  assert.throws(() => channelBindingHashOf(Buffer.from('garbage')));
});

test('a real SHA-384-signed certificate binds with SHA-384', () => {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKey);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.setRsaPublicKey(key.n, key.e);
  cert.serialNumber = '01';
  cert.validity.notAfter = new Date(Date.now() + 60_000);
  cert.setSubject([{ name: 'commonName', value: 'x' }]);
  cert.setIssuer([{ name: 'commonName', value: 'x' }]);
  cert.sign(key, forge.md.sha384.create());
  const der = Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
  assert.equal(channelBindingHashOf(der), 'sha384');
  assert.deepEqual(tlsServerEndPointOf(der, 'sha384'), createHash('sha384').update(der).digest());
});
