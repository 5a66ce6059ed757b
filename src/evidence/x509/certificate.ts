import { X509Certificate } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { EvidenceError } from '../plugin.js';
import { looksLikePem, pemBlocks } from './pem.js';

/**
 * One X.509 certificate as the evidence plugins need it: Node's X509Certificate
 * (OpenSSL: strict parsing, name chaining, signatures of every algorithm) beside the
 * pkijs structure (exact validity times, DER names, serial and extensions, which
 * Node 20 only exposes as display strings).
 */
export interface Certificate {
  readonly der: Uint8Array;
  readonly x509: X509Certificate;
  readonly structure: pkijs.Certificate;
  /** OpenSSL's one-line-per-attribute subject, for messages. */
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Lowercase hex without leading zero bytes: how CRL entries are compared. */
  readonly serial: string;
  /** DER of the subject and issuer names: how CRLs find their issuer. */
  readonly subjectName: Uint8Array;
  readonly issuerName: Uint8Array;
}

/** Bounds on untrusted input: one certificate, and certificates per input item. */
export const MAX_CERTIFICATE_BYTES = 64 * 1024;
export const MAX_CERTIFICATES_PER_ITEM = 16;

export function integerHex(value: asn1js.Integer): string {
  return Buffer.from(value.valueBlock.valueHexView).toString('hex').replace(/^(?:00)+(?=.)/, '');
}

/** Parses one DER certificate; `what` names it in the refusal. */
export function parseCertificate(der: Uint8Array, what: string): Certificate {
  if (der.length === 0 || der.length > MAX_CERTIFICATE_BYTES || der[0] !== 0x30) {
    throw new EvidenceError('malformed', `${what} is not a DER certificate`);
  }
  try {
    const asn = asn1js.fromBER(der);
    if (asn.offset === -1 || asn.offset !== der.length) throw new Error('trailing bytes after the certificate');
    const structure = new pkijs.Certificate({ schema: asn.result });
    const x509 = new X509Certificate(Buffer.from(der));
    return {
      der: new Uint8Array(der),
      x509,
      structure,
      // A TPM AK certificate may have an empty subject (its identity is in the SAN).
      subject: x509.subject ? x509.subject.replace(/\n/g, ', ') : `(no subject; serial ${integerHex(structure.serialNumber)})`,
      notBefore: structure.notBefore.value,
      notAfter: structure.notAfter.value,
      serial: integerHex(structure.serialNumber),
      subjectName: new Uint8Array(structure.subject.toSchema().toBER(false)),
      issuerName: new Uint8Array(structure.issuer.toSchema().toBER(false)),
    };
  } catch (error) {
    throw new EvidenceError('malformed', `${what} is not an X.509 certificate: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Every certificate in one input recognised by content: DER, or text with one or more
 * PEM `CERTIFICATE` blocks. Returns undefined when the input is neither, so callers can
 * try it as something else (a CRL, a JSON document); a certificate that starts right but
 * does not parse is refused as malformed.
 */
export function readCertificates(item: Uint8Array, what: string): Certificate[] | undefined {
  if (item.length > 0 && item[0] === 0x30) {
    try {
      return [parseCertificate(item, what)];
    } catch {
      return undefined;
    }
  }
  if (!looksLikePem(item) || item.length > MAX_CERTIFICATE_BYTES * MAX_CERTIFICATES_PER_ITEM * 2) return undefined;
  const blocks = pemBlocks(Buffer.from(item).toString('latin1'));
  if (blocks === undefined) throw new EvidenceError('malformed', `${what} holds PEM that does not decode`);
  if (blocks.length === 0) return undefined;
  if (blocks.length > MAX_CERTIFICATES_PER_ITEM) throw new EvidenceError('malformed', `${what} holds more than ${MAX_CERTIFICATES_PER_ITEM} certificates`);
  return blocks.map((der, i) => parseCertificate(der, `${what} certificate ${i}`));
}

/** Like readCertificates, for text known to hold a PEM chain (evidence fields, collateral JSON). */
export function certificatesFromPem(text: string, what: string): Certificate[] {
  const certificates = readCertificates(new TextEncoder().encode(text.trimStart()), what);
  if (certificates === undefined || certificates.length === 0) throw new EvidenceError('malformed', `${what} holds no PEM certificate`);
  return certificates;
}

/** Whether the certificate is valid at `now`, both bounds included (RFC 5280 §4.1.2.5). */
export function validAt(certificate: Certificate, now: Date): boolean {
  const t = now.getTime();
  return certificate.notBefore.getTime() <= t && t <= certificate.notAfter.getTime();
}
