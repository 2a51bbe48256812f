import { X509Certificate, createPrivateKey, generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

/** PEM-encoded certificate and its private key (PKCS#8). */
export interface PemPair {
  certPem: string;
  keyPem: string;
}

const generateKeyPairAsync = promisify(generateKeyPair);
const DAY_MS = 24 * 60 * 60 * 1000;
// 825 days is the longest server-certificate lifetime Apple platforms still accept.
const SERVER_VALIDITY_DAYS = 825;
const CA_VALIDITY_DAYS = 3650;
// Back-date notBefore so that a client whose clock lags slightly does not reject a fresh cert.
const CLOCK_SKEW_MS = 60 * 60 * 1000;

/**
 * RSA 2048 via OpenSSL: node-forge can only build RSA certificates, and its pure-JS key
 * generation takes seconds, so only the certificate assembly is left to forge.
 */
async function newRsaKey(): Promise<{ keyPem: string; forgeKey: forge.pki.rsa.PrivateKey }> {
  const { privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return { keyPem: privateKey, forgeKey: forge.pki.privateKeyFromPem(privateKey) };
}

function publicKeyOf(key: forge.pki.rsa.PrivateKey): forge.pki.rsa.PublicKey {
  return forge.pki.setRsaPublicKey(key.n, key.e);
}

/**
 * 16 random bytes with the top byte forced into 0x40..0x7f: positive (RFC 5280 §4.1.2.2)
 * and without a leading zero byte, which strict DER parsers such as OpenSSL reject.
 */
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x3f) | 0x40;
  return bytes.toString('hex');
}

/** Self-signed development CA: may sign certificates, nothing else. */
export async function createDevCa(now = new Date()): Promise<PemPair> {
  const { keyPem, forgeKey } = await newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKeyOf(forgeKey);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(now.getTime() + CA_VALIDITY_DAYS * DAY_MS);
  const subject = [
    { name: 'commonName', value: 'Postern development CA' },
    { name: 'organizationName', value: 'Postern' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** Parses a CA for issuing, refusing ones that cannot sign a usable server certificate. */
function loadCa(
  ca: PemPair,
  now: Date,
): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const x509 = new X509Certificate(ca.certPem);
  if (!x509.checkPrivateKey(createPrivateKey(ca.keyPem))) {
    throw new Error('the CA key does not match the CA certificate');
  }
  if (!x509.ca) throw new Error('the CA certificate is not a CA (basicConstraints cA is not true)');
  if (new Date(x509.validTo).getTime() <= now.getTime()) {
    throw new Error(`the CA certificate expired on ${x509.validTo}`);
  }
  // forge only understands RSA; a user-supplied ECDSA CA ends up here with forge's own message.
  return {
    cert: forge.pki.certificateFromPem(ca.certPem),
    key: forge.pki.privateKeyFromPem(ca.keyPem),
  };
}

/**
 * Server certificate for local development, valid for localhost, 127.0.0.1 and ::1 so that
 * libpq's sslmode=verify-full accepts every usual way of reaching a local gateway.
 */
export async function issueDevServerCertificate(ca: PemPair, now = new Date()): Promise<PemPair> {
  const issuer = loadCa(ca, now);
  const { keyPem, forgeKey } = await newRsaKey();
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKeyOf(forgeKey);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  const notAfter = now.getTime() + SERVER_VALIDITY_DAYS * DAY_MS;
  // A leaf outliving its issuer would just fail verification later with a confusing error.
  cert.validity.notAfter = new Date(Math.min(notAfter, issuer.cert.validity.notAfter.getTime()));
  cert.setSubject([{ name: 'commonName', value: 'localhost' }]);
  cert.setIssuer(issuer.cert.subject.attributes);
  const caSki = issuer.cert.getExtension('subjectKeyIdentifier') as
    { subjectKeyIdentifier?: string } | undefined;
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    },
    { name: 'subjectKeyIdentifier' },
    {
      name: 'authorityKeyIdentifier',
      // forge's `keyIdentifier: true` would hash the leaf's own key, so pass the CA's.
      keyIdentifier: caSki?.subjectKeyIdentifier
        ? forge.util.hexToBytes(caSki.subjectKeyIdentifier)
        : issuer.cert.generateSubjectKeyIdentifier().getBytes(),
    },
  ]);
  cert.sign(issuer.key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}
