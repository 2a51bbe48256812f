import { createHash } from 'node:crypto';
import forge from 'node-forge';

export type ChannelBindingHash = 'sha256' | 'sha384' | 'sha512';

// Signature algorithms built on a single hash (RFC 5929 §4.1). MD5 and SHA-1 are upgraded to
// SHA-256 by the RFC itself; DSA is listed because the mapping is free.
const SIGNATURE_HASHES: Record<string, ChannelBindingHash> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13': 'sha512', // sha512WithRSAEncryption
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384', // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4': 'sha512', // ecdsa-with-SHA512
  '1.2.840.10040.4.3': 'sha256', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
};

const RSASSA_PSS = '1.2.840.113549.1.1.10';
// Hash algorithms that can appear in RSASSA-PSS-params.hashAlgorithm.
const DIGEST_HASHES: Record<string, ChannelBindingHash> = {
  '1.2.840.113549.2.5': 'sha256', // md5
  '1.3.14.3.2.26': 'sha256', // sha1
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

type Asn1 = forge.asn1.Asn1;

function children(node: Asn1 | undefined): Asn1[] {
  return node && Array.isArray(node.value) ? (node.value as Asn1[]) : [];
}

function oidOf(node: Asn1 | undefined): string | undefined {
  if (!node || node.type !== forge.asn1.Type.OID || typeof node.value !== 'string')
    return undefined;
  return forge.asn1.derToOid(node.value);
}

/**
 * RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier DEFAULT sha1, ... }
 * (RFC 4055 §3.1). An absent hashAlgorithm means SHA-1, which RFC 5929 maps to SHA-256.
 */
function pssHash(params: Asn1 | undefined): ChannelBindingHash | undefined {
  const hashField = children(params).find(
    (n) => n.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && n.type === 0,
  );
  if (!hashField) return 'sha256';
  const hashOid = oidOf(children(children(hashField)[0])[0]);
  return hashOid === undefined ? undefined : DIGEST_HASHES[hashOid];
}

/**
 * The hash tls-server-end-point channel binding must use for this certificate (RFC 5929 §4.1),
 * read from the outer signatureAlgorithm of the DER. Parsed with forge's ASN.1 layer rather than
 * pki.certificateFromPem because the latter rejects non-RSA (e.g. ECDSA) certificates.
 */
export function channelBindingHashOf(certificateDer: Buffer): ChannelBindingHash {
  const cert = forge.asn1.fromDer(forge.util.createBuffer(certificateDer.toString('binary')));
  // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }
  const [oidNode, params] = children(children(cert)[1]);
  const oid = oidOf(oidNode);
  const hash = oid === RSASSA_PSS ? pssHash(params) : oid && SIGNATURE_HASHES[oid];
  if (!hash) {
    throw new Error(
      `certificate signature algorithm ${oid ?? '(unreadable)'} has no supported ` +
        'tls-server-end-point hash (needs SHA-256/384/512 with RSA, RSA-PSS or ECDSA)',
    );
  }
  return hash;
}

/** RFC 5929 tls-server-end-point: the data SCRAM-SHA-256-PLUS binds to. */
export function tlsServerEndPointOf(certificateDer: Buffer, hash: ChannelBindingHash): Buffer {
  return createHash(hash).update(certificateDer).digest();
}
