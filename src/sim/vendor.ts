/**
 * The simulated TEE's "vendor": a local root CA and the platform identities it certifies.
 *
 * SIMULATED — OFFERS NO SECURITY. Real vendors keep their roots in HSMs and burn platform
 * keys into silicon; here both are files made by `covenant sim init`. The shapes match
 * real attestation (root → platform certificate → signed report) so the verifier path is
 * the same one hardware evidence takes.
 *
 * Creation is deterministic except for keys and serial numbers: the time is always passed
 * in, never read. Certificates are Ed25519, built with pkijs and signed with node:crypto.
 * (@peculiar/x509 2.2.0 can make Ed25519 certificates, but importing it needs a global
 * `reflect-metadata` polyfill for tsyringe, which the project does not ship.)
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { CovenantError } from '../core/errors.js';
import { pemBlocks, toPem } from '../evidence/x509/pem.js';

export { toPem, pemBlocks } from '../evidence/x509/pem.js';

export const DEFAULT_ROOT_NAME = 'Covenant Simulated TEE Vendor Root';
export const DEFAULT_ROOT_VALIDITY_DAYS = 3650;
export const DEFAULT_PLATFORM_VALIDITY_DAYS = 365;
/** Written as the subject's O of every sim certificate, so no one mistakes one for real. */
export const SIM_ORGANIZATION = 'Covenant simulated TEE (offers no security)';

const DAY_MS = 86_400_000;
const ED25519_OID = '1.3.101.112';
const OID = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
} as const;

// Lowercase-first like other Covenant identifiers, and safe in a DN without escaping.
const PLATFORM_ID = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface Validity {
  /** The time of creation; the default notBefore. */
  readonly now: Date;
  readonly notBefore?: Date;
  /** Default: `notBefore` plus `validForDays`. */
  readonly notAfter?: Date;
  readonly validForDays?: number;
}

export interface VendorRoot {
  readonly name: string;
  /** DER X.509, self-signed, CA. This is the trust anchor verifiers are given. */
  readonly certificate: Uint8Array;
  readonly privateKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface PlatformIdentity {
  /** The platform's name, the certificate subject's CN. */
  readonly id: string;
  /** DER X.509 issued by the vendor root. */
  readonly certificate: Uint8Array;
  /** Ed25519; signs reports. */
  readonly privateKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

function invalid(field: string, message: string): CovenantError {
  return new CovenantError('validation-failed', `${field}: ${message}`, { issues: [{ field, message }] });
}

function resolveValidity(validity: Validity, defaultDays: number): { notBefore: Date; notAfter: Date } {
  if (!(validity.now instanceof Date) || Number.isNaN(validity.now.getTime())) throw invalid('now', 'must be a valid Date');
  const notBefore = validity.notBefore ?? validity.now;
  const days = validity.validForDays ?? defaultDays;
  if (!Number.isFinite(days) || days <= 0) throw invalid('validForDays', 'must be a positive number');
  const notAfter = validity.notAfter ?? new Date(notBefore.getTime() + days * DAY_MS);
  if (Number.isNaN(notBefore.getTime()) || Number.isNaN(notAfter.getTime())) throw invalid('validity', 'dates must be valid');
  if (notAfter.getTime() <= notBefore.getTime()) throw invalid('notAfter', 'must be after notBefore');
  return { notBefore: truncateToSeconds(notBefore), notAfter: truncateToSeconds(notAfter) };
}

// X.509 times have whole seconds; rounding here keeps the returned dates equal to what
// the certificate says.
function truncateToSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
function x509Time(date: Date): pkijs.Time {
  return new pkijs.Time({ type: date.getUTCFullYear() < 2050 ? 0 : 1, value: date });
}

/**
 * A Name with one attribute per RDN, most significant (O) first. Built as DER because
 * pkijs would put every attribute into a single multi-valued RDN (`CN=a + O=b`).
 */
function name(parts: readonly (readonly [string, string])[]): pkijs.RelativeDistinguishedNames {
  const sequence = new asn1js.Sequence({
    value: parts.map(
      ([type, value]) =>
        new asn1js.Set({ value: [new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: type }), new asn1js.Utf8String({ value })] })] }),
    ),
  });
  return pkijs.RelativeDistinguishedNames.fromBER(sequence.toBER(false));
}

function extension(extnID: string, critical: boolean, value: asn1js.BaseBlock): pkijs.Extension {
  return new pkijs.Extension({ extnID, critical, extnValue: value.toBER(false) });
}

/** RFC 7093 method 1: leftmost 160 bits of SHA-256 over the subjectPublicKey bits. */
function keyIdentifier(spki: pkijs.PublicKeyInfo): Uint8Array {
  return new Uint8Array(createHash('sha256').update(spki.subjectPublicKey.valueBlock.valueHexView).digest().subarray(0, 20));
}

// Positive, 128 bits of entropy, first octet nonzero so the DER INTEGER is minimal.
function serialNumber(): asn1js.Integer {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x01;
  return new asn1js.Integer({ valueHex: bytes });
}

/** KeyUsage BIT STRING from bit positions (0 = digitalSignature, 5 = keyCertSign, 6 = cRLSign). */
function keyUsage(bits: readonly number[]): asn1js.BitString {
  const byte = bits.reduce((acc, bit) => acc | (0x80 >> bit), 0);
  const unusedBits = 7 - Math.max(...bits);
  return new asn1js.BitString({ valueHex: new Uint8Array([byte]), unusedBits });
}

interface CertificateSpec {
  readonly subject: pkijs.RelativeDistinguishedNames;
  readonly issuer: pkijs.RelativeDistinguishedNames;
  readonly subjectKey: KeyObject;
  readonly signingKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly ca: boolean;
  readonly authorityKeyId?: Uint8Array;
}

function buildCertificate(spec: CertificateSpec): { der: Uint8Array; keyId: Uint8Array } {
  const certificate = new pkijs.Certificate();
  certificate.version = 2;
  certificate.serialNumber = serialNumber();
  certificate.signature = new pkijs.AlgorithmIdentifier({ algorithmId: ED25519_OID });
  certificate.signatureAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: ED25519_OID });
  certificate.issuer = spec.issuer;
  certificate.subject = spec.subject;
  certificate.notBefore = x509Time(spec.notBefore);
  certificate.notAfter = x509Time(spec.notAfter);
  const spkiDer = spec.subjectKey.export({ type: 'spki', format: 'der' });
  certificate.subjectPublicKeyInfo = pkijs.PublicKeyInfo.fromBER(spkiDer);
  const keyId = keyIdentifier(certificate.subjectPublicKeyInfo);

  const basicConstraints = new pkijs.BasicConstraints(spec.ca ? { cA: true, pathLenConstraint: 0 } : {});
  certificate.extensions = [
    extension(OID.basicConstraints, true, basicConstraints.toSchema()),
    extension(OID.keyUsage, true, spec.ca ? keyUsage([5, 6]) : keyUsage([0])),
    extension(OID.subjectKeyIdentifier, false, new asn1js.OctetString({ valueHex: keyId })),
  ];
  if (spec.authorityKeyId !== undefined) {
    const authority = new pkijs.AuthorityKeyIdentifier({ keyIdentifier: new asn1js.OctetString({ valueHex: spec.authorityKeyId }) });
    certificate.extensions.push(extension(OID.authorityKeyIdentifier, false, authority.toSchema()));
  }

  const tbs = certificate.encodeTBS().toBER(false);
  certificate.tbsView = new Uint8Array(tbs);
  certificate.signatureValue = new asn1js.BitString({ valueHex: sign(null, new Uint8Array(tbs), spec.signingKey) });
  return { der: new Uint8Array(certificate.toSchema(false).toBER(false)), keyId };
}

/** A new vendor root: an Ed25519 key and its self-signed CA certificate (path length 0). */
export function createVendorRoot(options: Validity & { readonly name?: string }): VendorRoot {
  const rootName = options.name ?? DEFAULT_ROOT_NAME;
  if (rootName.length === 0 || rootName.length > 64) throw invalid('name', 'must have 1 to 64 characters');
  const { notBefore, notAfter } = resolveValidity(options, DEFAULT_ROOT_VALIDITY_DAYS);
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const subject = [
    [OID.organization, SIM_ORGANIZATION],
    [OID.commonName, rootName],
  ] as const;
  const { der } = buildCertificate({
    subject: name(subject),
    issuer: name(subject),
    subjectKey: publicKey,
    signingKey: privateKey,
    notBefore,
    notAfter,
    ca: true,
  });
  return { name: rootName, certificate: der, privateKey, notBefore, notAfter };
}

/**
 * A new platform: an Ed25519 key certified by `root`, named in the subject CN. Its
 * validity must lie within the root's: a verifier refuses a chain whose root has expired
 * anyway, and failing here says so at creation rather than at some later attestation.
 */
export function issuePlatformIdentity(root: VendorRoot, options: Validity & { readonly platformId: string }): PlatformIdentity {
  if (!PLATFORM_ID.test(options.platformId)) throw invalid('platformId', 'must match [a-z0-9][a-z0-9._-]{0,63}');
  const { notBefore, notAfter } = resolveValidity(options, DEFAULT_PLATFORM_VALIDITY_DAYS);
  if (notBefore.getTime() < root.notBefore.getTime() || notAfter.getTime() > root.notAfter.getTime()) {
    throw invalid('validity', `platform validity must lie within the vendor root's (${root.notBefore.toISOString()} – ${root.notAfter.toISOString()})`);
  }
  const rootCertificate = pkijs.Certificate.fromBER(root.certificate);
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const { der } = buildCertificate({
    subject: name([
      [OID.organization, SIM_ORGANIZATION],
      [OID.organizationalUnit, 'sim platform'],
      [OID.commonName, options.platformId],
    ]),
    issuer: rootCertificate.subject,
    subjectKey: publicKey,
    signingKey: root.privateKey,
    notBefore,
    notAfter,
    ca: false,
    authorityKeyId: keyIdentifier(rootCertificate.subjectPublicKeyInfo),
  });
  return { id: options.platformId, certificate: der, privateKey, notBefore, notAfter };
}

/** PEM files for a certificate and its key (PKCS#8, unencrypted: this is a simulator). */
export interface PemPair {
  readonly certificatePem: string;
  readonly privateKeyPem: string;
}

function exportPair(certificate: Uint8Array, privateKey: KeyObject): PemPair {
  return { certificatePem: toPem(certificate), privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

interface ImportedPair {
  readonly certificate: Uint8Array;
  readonly x509: X509Certificate;
  readonly privateKey: KeyObject;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly commonName: string;
}

function importPair(pair: PemPair, what: string): ImportedPair {
  const blocks = pemBlocks(pair.certificatePem);
  if (blocks === undefined || blocks.length !== 1) throw invalid(`${what}.certificatePem`, 'must hold exactly one CERTIFICATE block');
  const certificate = blocks[0] as Uint8Array;
  let x509: X509Certificate;
  let parsed: pkijs.Certificate;
  let privateKey: KeyObject;
  try {
    x509 = new X509Certificate(certificate);
    parsed = pkijs.Certificate.fromBER(certificate);
  } catch (error) {
    throw new CovenantError('validation-failed', `${what}.certificatePem: not an X.509 certificate`, { cause: error });
  }
  try {
    privateKey = createPrivateKey({ key: pair.privateKeyPem, format: 'pem' });
  } catch (error) {
    throw new CovenantError('validation-failed', `${what}.privateKeyPem: not a PEM private key`, { cause: error });
  }
  if (privateKey.asymmetricKeyType !== 'ed25519') throw invalid(`${what}.privateKeyPem`, 'must be an Ed25519 key');
  if (!x509.checkPrivateKey(privateKey)) throw invalid(`${what}.privateKeyPem`, 'does not match the certificate');
  const cn = parsed.subject.typesAndValues.find((attribute) => attribute.type === OID.commonName);
  const commonName = (cn?.value as { valueBlock?: { value?: unknown } } | undefined)?.valueBlock?.value;
  return {
    certificate,
    x509,
    privateKey,
    notBefore: parsed.notBefore.value,
    notAfter: parsed.notAfter.value,
    commonName: typeof commonName === 'string' ? commonName : '',
  };
}

export function exportVendorRoot(root: VendorRoot): PemPair {
  return exportPair(root.certificate, root.privateKey);
}

export function importVendorRoot(pair: PemPair): VendorRoot {
  const imported = importPair(pair, 'vendorRoot');
  if (!imported.x509.ca || !imported.x509.verify(imported.x509.publicKey)) {
    throw invalid('vendorRoot.certificatePem', 'must be a self-signed CA certificate');
  }
  return {
    name: imported.commonName,
    certificate: imported.certificate,
    privateKey: imported.privateKey,
    notBefore: imported.notBefore,
    notAfter: imported.notAfter,
  };
}

export function exportPlatformIdentity(platform: PlatformIdentity): PemPair {
  return exportPair(platform.certificate, platform.privateKey);
}

export function importPlatformIdentity(pair: PemPair): PlatformIdentity {
  const imported = importPair(pair, 'platform');
  if (imported.x509.ca) throw invalid('platform.certificatePem', 'must not be a CA certificate');
  return {
    id: imported.commonName,
    certificate: imported.certificate,
    privateKey: imported.privateKey,
    notBefore: imported.notBefore,
    notAfter: imported.notAfter,
  };
}
