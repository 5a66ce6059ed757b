import type { KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import type * as pkijs from 'pkijs';
import { EvidenceError } from '../plugin.js';
import type { Certificate } from '../x509/certificate.js';

/**
 * The certificate checks AWS asks for (attestation_process.md §3.2.3.2–3) that the
 * shared path validator leaves to its callers: the signing certificate is an end entity
 * whose key may sign (digitalSignature) and is P-384, the only curve ES384 names.
 */

const OID_KEY_USAGE = '2.5.29.15';
/** digitalSignature is bit 0 of KeyUsage: the high bit of the first content byte. */
const DIGITAL_SIGNATURE = 0x80;

function extension(certificate: Certificate, oid: string): pkijs.Extension | undefined {
  return certificate.structure.extensions?.find((ext) => ext.extnID === oid);
}

/** Throws 'chain' unless the signing certificate may sign attestation documents. */
export function checkSigningCertificate(leaf: Certificate): KeyObject {
  if (leaf.x509.ca) throw new EvidenceError('chain', `the signing certificate (${leaf.subject}) is a CA certificate`);
  const usage: unknown = extension(leaf, OID_KEY_USAGE)?.parsedValue;
  if (usage !== undefined) {
    const first = usage instanceof asn1js.BitString ? usage.valueBlock.valueHexView[0] : undefined;
    if (first === undefined || (first & DIGITAL_SIGNATURE) === 0) {
      throw new EvidenceError('chain', `the signing certificate (${leaf.subject}) does not allow digitalSignature`);
    }
  }
  const key = leaf.x509.publicKey;
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    const kind = [key.asymmetricKeyType ?? 'unknown', key.asymmetricKeyDetails?.namedCurve].filter(Boolean).join(' ');
    throw new EvidenceError('unsupported', `the signing certificate key is ${kind}, not EC P-384 as ES384 requires`);
  }
  return key;
}
