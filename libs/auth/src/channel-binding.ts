import { createHash } from 'node:crypto';

/** The only channel binding PostgreSQL (and so libpq) implements. */
export interface ChannelBinding {
  readonly type: 'tls-server-end-point';
  /** The hash of the server certificate, from tlsServerEndPointHash. */
  readonly data: Buffer;
}

/**
 * Hash per signature algorithm OID (RFC 5929 §4.1): MD5 and SHA-1 are replaced by SHA-256;
 * any other single hash is used as is. Algorithms without a hash (Ed25519, Ed448) or not
 * listed here have no defined binding: the caller must not offer SCRAM-SHA-256-PLUS then,
 * rather than guess (docs/security.md SCRAM-03g). PostgreSQL would fail the connection
 * instead, because it offers PLUS whenever TLS is on.
 */
const HASH_BY_SIGNATURE_OID: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.14': 'sha224', // sha224WithRSAEncryption
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13': 'sha512', // sha512WithRSAEncryption
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224', // ecdsa-with-SHA224
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384', // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4': 'sha512', // ecdsa-with-SHA512
  '1.2.840.10040.4.3': 'sha256', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.1': 'sha224', // dsa-with-sha224
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
  '2.16.840.1.101.3.4.3.9': 'sha3-224', // ecdsa-with-sha3-224
  '2.16.840.1.101.3.4.3.10': 'sha3-256',
  '2.16.840.1.101.3.4.3.11': 'sha3-384',
  '2.16.840.1.101.3.4.3.12': 'sha3-512',
  '2.16.840.1.101.3.4.3.13': 'sha3-224', // rsassa-pkcs1-v1_5-with-sha3-224
  '2.16.840.1.101.3.4.3.14': 'sha3-256',
  '2.16.840.1.101.3.4.3.15': 'sha3-384',
  '2.16.840.1.101.3.4.3.16': 'sha3-512',
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';

/** Digest OIDs that can appear in RSASSA-PSS parameters (RFC 4055). */
const HASH_BY_DIGEST_OID: Readonly<Record<string, string>> = {
  '1.3.14.3.2.26': 'sha256', // sha1, replaced as above
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

/**
 * tls-server-end-point binding data: the hash of the certificate exactly as the server sent
 * it (`tlsSocket.getCertificate().raw` for the certificate chosen for this SNI), or null
 * when RFC 5929 leaves it undefined and PLUS must not be offered.
 *
 * `signatureAlgorithmOid` is the certificate's outer signatureAlgorithm as the caller parsed
 * it (node-forge `cert.siginfo.algorithmOid`); when omitted it is read from the DER here,
 * because Node 20's X509Certificate does not expose it. For RSASSA-PSS the hash sits in the
 * algorithm parameters, so those are always read from the DER (default SHA-1, hence SHA-256).
 * Throws on DER that is not a certificate.
 */
export function tlsServerEndPointHash(
  certDer: Buffer,
  signatureAlgorithmOid?: string,
): Buffer | null {
  const algorithm = readSignatureAlgorithm(certDer);
  const oid = signatureAlgorithmOid ?? algorithm.oid;
  const hash = oid === RSASSA_PSS ? pssHash(certDer, algorithm.params) : HASH_BY_SIGNATURE_OID[oid];
  return hash === undefined ? null : createHash(hash).update(certDer).digest();
}

// ---- a minimal DER reader: just enough to reach Certificate.signatureAlgorithm ----

interface Tlv {
  readonly tag: number;
  readonly start: number; // first content byte
  readonly end: number; // one past the last content byte
}

function readTlv(der: Buffer, offset: number, limit: number): Tlv {
  if (offset + 2 > limit) throw new Error('truncated DER');
  const tag = der[offset];
  if ((tag & 0x1f) === 0x1f) throw new Error('unsupported DER tag');
  let length = der[offset + 1];
  let start = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    // DER forbids the indefinite form (count 0); a certificate needs at most 4 length bytes.
    if (count === 0 || count > 4 || start + count > limit) throw new Error('bad DER length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[start + i];
    start += count;
  }
  if (start + length > limit) throw new Error('truncated DER');
  return { tag, start, end: start + length };
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue } */
function readSignatureAlgorithm(der: Buffer): { oid: string; params: Tlv | null } {
  const certificate = readTlv(der, 0, der.length);
  if (certificate.tag !== 0x30 || certificate.end !== der.length) {
    throw new Error('not a DER certificate');
  }
  const tbs = readTlv(der, certificate.start, certificate.end);
  return readAlgorithmIdentifier(der, readTlv(der, tbs.end, certificate.end));
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL } */
function readAlgorithmIdentifier(der: Buffer, sequence: Tlv): { oid: string; params: Tlv | null } {
  if (sequence.tag !== 0x30) throw new Error('bad AlgorithmIdentifier');
  const oid = readTlv(der, sequence.start, sequence.end);
  if (oid.tag !== 0x06) throw new Error('bad AlgorithmIdentifier');
  const params = oid.end < sequence.end ? readTlv(der, oid.end, sequence.end) : null;
  return { oid: decodeOid(der.subarray(oid.start, oid.end)), params };
}

/** RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... } */
function pssHash(der: Buffer, params: Tlv | null): string | undefined {
  if (params === null || params.tag !== 0x30 || params.start === params.end) return 'sha256';
  const first = readTlv(der, params.start, params.end);
  if (first.tag !== 0xa0) return 'sha256';
  const digest = readAlgorithmIdentifier(der, readTlv(der, first.start, first.end));
  return HASH_BY_DIGEST_OID[digest.oid];
}

function decodeOid(bytes: Buffer): string {
  const arcs: number[] = [];
  let value = 0;
  for (const byte of bytes) {
    value = value * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) {
      arcs.push(value);
      value = 0;
    }
  }
  if (arcs.length === 0) throw new Error('empty OID');
  const first = Math.min(Math.floor(arcs[0] / 40), 2);
  return [first, arcs[0] - first * 40, ...arcs.slice(1)].join('.');
}
