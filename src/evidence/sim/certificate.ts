import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { EvidenceError } from '../plugin.js';
import { readCertificateFields, type NameAttribute } from './der.js';
import { looksLikePem, pemBlocks } from '../x509/pem.js';

/**
 * Just enough X.509 for a two-level sim chain (vendor root → platform). Node's
 * X509Certificate (OpenSSL) parses strictly and checks names, key identifiers, the CA
 * flag and signatures; der.ts reads the validity times and subject, which Node 20 only
 * exposes as display strings.
 */

export interface ParsedCertificate {
  readonly der: Uint8Array;
  readonly x509: X509Certificate;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** RFC 4514 order (least significant first): `CN=…, OU=…, O=…`. */
  readonly subject: string;
  /** The subject's common name, if it has exactly one. */
  readonly commonName?: string;
  readonly isCa: boolean;
}

const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  '2.5.4.3': 'CN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
};

function escapeRdnValue(value: string): string {
  return value.replace(/[\\,+"<>;=]/g, (ch) => `\\${ch}`).replace(/^[ #]|[ ]$/g, (ch) => `\\${ch}`);
}

function describeName(attributes: readonly NameAttribute[]): { text: string; commonName?: string } {
  const commonNames = attributes.filter((attribute) => attribute.type === '2.5.4.3').map((attribute) => attribute.value);
  const text = attributes
    .map((attribute) => `${ATTRIBUTE_NAMES[attribute.type] ?? attribute.type}=${escapeRdnValue(attribute.value)}`)
    .reverse()
    .join(', ');
  return commonNames.length === 1 ? { text, commonName: commonNames[0] as string } : { text };
}

/** DER → parsed certificate; any parse failure is `reason` (the caller knows whose bytes). */
export function parseCertificate(der: Uint8Array, what: string, reason: 'malformed' | 'missing-collateral' = 'malformed'): ParsedCertificate {
  try {
    const x509 = new X509Certificate(der);
    const fields = readCertificateFields(der);
    const { text, commonName } = describeName(fields.subject);
    return {
      der,
      x509,
      notBefore: fields.notBefore,
      notAfter: fields.notAfter,
      subject: text,
      ...(commonName === undefined ? {} : { commonName }),
      isCa: x509.ca,
    };
  } catch (error) {
    throw new EvidenceError(reason, `${what} is not a DER X.509 certificate`, { cause: error });
  }
}

// Anchors are usually the same few roots on every call; parsing them once saves half of
// a verification. Keyed by content, so a caller reusing a mutated buffer is still right.
const ANCHOR_CACHE_LIMIT = 64;
const anchorCache = new Map<string, ParsedCertificate[]>();

/**
 * Trust anchors as the sim plugin accepts them: each entry a DER certificate or PEM text
 * holding one or more certificates. A bad anchor is a configuration error and fails the
 * whole call rather than being skipped, so a typo cannot quietly shrink the trusted set.
 */
export function parseTrustAnchors(anchors: readonly Uint8Array[]): ParsedCertificate[] {
  const parsed: ParsedCertificate[] = [];
  anchors.forEach((anchor, index) => {
    const key = createHash('sha256').update(anchor).digest('hex');
    let certificates = anchorCache.get(key);
    if (certificates === undefined) {
      certificates = parseTrustAnchor(anchor, `sim trust anchor #${index}`);
      if (anchorCache.size >= ANCHOR_CACHE_LIMIT) anchorCache.delete(anchorCache.keys().next().value as string);
      anchorCache.set(key, certificates);
    }
    parsed.push(...certificates);
  });
  return parsed;
}

function parseTrustAnchor(anchor: Uint8Array, what: string): ParsedCertificate[] {
  // A private copy: the cache must not see later changes to the caller's buffer.
  const bytes = new Uint8Array(anchor);
  if (!looksLikePem(bytes)) return [parseCertificate(bytes, what, 'missing-collateral')];
  const blocks = pemBlocks(Buffer.from(bytes).toString('utf8'));
  if (blocks === undefined || blocks.length === 0) {
    throw new EvidenceError('missing-collateral', `${what} is PEM without a readable CERTIFICATE block`);
  }
  return blocks.map((block) => parseCertificate(block, what, 'missing-collateral'));
}

function issuedBy(certificate: ParsedCertificate, issuer: ParsedCertificate): boolean {
  try {
    return issuer.isCa && certificate.x509.checkIssued(issuer.x509) && certificate.x509.verify(issuer.x509.publicKey);
  } catch {
    // OpenSSL throws on keys it cannot use for verification; for us that is "not issued by".
    return false;
  }
}

/** The anchor that issued `certificate` directly, or 'chain'. */
export function findIssuer(certificate: ParsedCertificate, anchors: readonly ParsedCertificate[]): ParsedCertificate {
  const issuer = anchors.find((anchor) => issuedBy(certificate, anchor));
  if (issuer === undefined) {
    // The subject is unverified here; shortened so a hostile certificate cannot flood logs.
    const subject = certificate.subject.length > 120 ? `${certificate.subject.slice(0, 120)}…` : certificate.subject;
    throw new EvidenceError('chain', `sim platform certificate (${subject}) is not issued by any configured vendor root`);
  }
  return issuer;
}

export function checkValidity(certificate: ParsedCertificate, now: Date, what: string): void {
  if (now.getTime() < certificate.notBefore.getTime()) {
    throw new EvidenceError('expired', `${what} is not valid until ${certificate.notBefore.toISOString()} (now ${now.toISOString()})`);
  }
  if (now.getTime() > certificate.notAfter.getTime()) {
    throw new EvidenceError('expired', `${what} expired at ${certificate.notAfter.toISOString()} (now ${now.toISOString()})`);
  }
}

export function publicKeyOf(certificate: ParsedCertificate): KeyObject {
  return certificate.x509.publicKey;
}
