import { constants, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import { EvidenceError } from '../plugin.js';

/**
 * AMD KDS certificates (VCEK/VLEK and their CA chain, spec 57230): loading from DER or PEM,
 * reading the SNP extensions, and checking VCEK/VLEK ← ASK/ASVK ← ARK.
 *
 * We parse with pkijs (structure only) and verify signatures with node:crypto ourselves,
 * because AMD certificates have two traits generic path validators stumble over: serial
 * number 0 on every VCEK/VLEK, and RSASSA-PSS (SHA-384, MGF1-SHA-384, salt 48) on every CA
 * signature. Pinning those PSS parameters also means a chain signed any other way is refused.
 */

const OID_EC_PUBLIC_KEY = '1.2.840.10045.2.1';
const OID_SECP384R1 = '1.3.132.0.34';
const OID_RSASSA_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';
const OID_SHA384 = '2.16.840.1.101.3.4.2.2';
const OID_COMMON_NAME = '2.5.4.3';

export const SNP_OID = {
  structVersion: '1.3.6.1.4.1.3704.1.1',
  productName: '1.3.6.1.4.1.3704.1.2',
  blSpl: '1.3.6.1.4.1.3704.1.3.1',
  teeSpl: '1.3.6.1.4.1.3704.1.3.2',
  snpSpl: '1.3.6.1.4.1.3704.1.3.3',
  ucodeSpl: '1.3.6.1.4.1.3704.1.3.8',
  fmcSpl: '1.3.6.1.4.1.3704.1.3.9',
  hwId: '1.3.6.1.4.1.3704.1.4',
  cspId: '1.3.6.1.4.1.3704.1.5',
} as const;

/** Bounds on untrusted input, so a hostile collateral list cannot make us parse forever. */
const MAX_CERT_BYTES = 64 * 1024;
const MAX_CERTS_PER_ITEM = 16;
/** Items (collateral or trust anchors) read per call; any after these are ignored. */
export const MAX_ITEMS = 64;

export interface AmdCertificate {
  readonly der: Uint8Array;
  readonly cert: pkijs.Certificate;
  readonly subjectCn: string | undefined;
  readonly issuerCn: string | undefined;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly selfIssued: boolean;
  /** True when the subject key is EC P-384: the shape of a VCEK or VLEK. */
  readonly isP384: boolean;
}

/** The SNP-specific extension values of a VCEK or VLEK. */
export interface EndorsementExtensions {
  readonly structVersion?: number;
  readonly productName?: string;
  readonly bootloader?: number;
  readonly tee?: number;
  readonly snp?: number;
  readonly microcode?: number;
  readonly fmc?: number;
  /** Raw hwID: 64 bytes for Milan/Genoa, 8 for Turin. VCEK only. */
  readonly hwId?: Uint8Array;
  /** VLEK only: the cloud provider the key was issued to, e.g. `CN=cc-us-east-2.amazonaws.com`. */
  readonly cspId?: string;
}

function commonName(name: pkijs.RelativeDistinguishedNames): string | undefined {
  for (const tv of name.typesAndValues) {
    if (tv.type === OID_COMMON_NAME) {
      const v: unknown = (tv.value.valueBlock as { value?: unknown }).value;
      return typeof v === 'string' ? v : undefined;
    }
  }
  return undefined;
}

/** Parses one DER certificate; returns undefined when the bytes are not one. */
export function parseCertificateDer(der: Uint8Array): AmdCertificate | undefined {
  if (der.length === 0 || der.length > MAX_CERT_BYTES || der[0] !== 0x30) return undefined;
  try {
    const asn = asn1js.fromBER(der);
    // Trailing bytes or a decode error mean this is not exactly one certificate.
    if (asn.offset === -1 || asn.offset !== der.length) return undefined;
    const cert = new pkijs.Certificate({ schema: asn.result });
    const spkiAlg = cert.subjectPublicKeyInfo.algorithm;
    const curve: unknown = spkiAlg.algorithmParams;
    const isP384 =
      spkiAlg.algorithmId === OID_EC_PUBLIC_KEY && curve instanceof asn1js.ObjectIdentifier && curve.valueBlock.toString() === OID_SECP384R1;
    return {
      der: new Uint8Array(der),
      cert,
      subjectCn: commonName(cert.subject),
      issuerCn: commonName(cert.issuer),
      notBefore: cert.notBefore.value,
      notAfter: cert.notAfter.value,
      selfIssued: cert.subject.isEqual(cert.issuer),
      isP384,
    };
  } catch {
    return undefined;
  }
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([A-Za-z0-9+/=\s]+?)-----END CERTIFICATE-----/g;

/**
 * Reads every certificate from one input recognised by content: a DER certificate, or text
 * holding one or more PEM `CERTIFICATE` blocks. Anything else yields no certificates; the
 * second value counts inputs that looked like certificates but did not parse.
 */
export function loadCertificates(item: Uint8Array): { certs: AmdCertificate[]; rejected: number } {
  if (item.length === 0) return { certs: [], rejected: 0 };
  if (item[0] === 0x30) {
    const one = parseCertificateDer(item);
    return one ? { certs: [one], rejected: 0 } : { certs: [], rejected: 1 };
  }
  if (item.length > MAX_CERT_BYTES * MAX_CERTS_PER_ITEM * 2) return { certs: [], rejected: 1 };
  const text = Buffer.from(item).toString('latin1');
  const certs: AmdCertificate[] = [];
  let rejected = 0;
  let count = 0;
  for (const match of text.matchAll(PEM_BLOCK)) {
    if (++count > MAX_CERTS_PER_ITEM) break;
    const der = new Uint8Array(Buffer.from((match[1] ?? '').replace(/\s+/g, ''), 'base64'));
    const cert = parseCertificateDer(der);
    if (cert) certs.push(cert);
    else rejected++;
  }
  return { certs, rejected };
}

/** The certificates of every item, without repeats; `others` are the items that held none (a CRL, say). */
export function loadAll(items: readonly Uint8Array[]): { certs: AmdCertificate[]; rejected: number; others: Uint8Array[] } {
  const certs: AmdCertificate[] = [];
  const others: Uint8Array[] = [];
  const seen = new Set<string>();
  let rejected = 0;
  for (const item of items.slice(0, MAX_ITEMS)) {
    const loaded = loadCertificates(item);
    rejected += loaded.rejected;
    if (loaded.certs.length === 0) others.push(item);
    for (const c of loaded.certs) {
      const key = Buffer.from(c.der).toString('base64');
      if (!seen.has(key)) {
        seen.add(key);
        certs.push(c);
      }
    }
  }
  return { certs, rejected, others };
}

function extensionValue(cert: AmdCertificate, oid: string): Uint8Array | undefined {
  for (const ext of cert.cert.extensions ?? []) {
    if (ext.extnID === oid) return ext.extnValue.valueBlock.valueHexView;
  }
  return undefined;
}

function derInteger(bytes: Uint8Array | undefined): number | undefined {
  if (!bytes) return undefined;
  const asn = asn1js.fromBER(bytes);
  if (asn.offset !== bytes.length || !(asn.result instanceof asn1js.Integer)) return undefined;
  const value = asn.result.valueBlock.valueDec;
  return Number.isSafeInteger(value) ? value : undefined;
}

function derString(bytes: Uint8Array | undefined): string | undefined {
  if (!bytes) return undefined;
  const asn = asn1js.fromBER(bytes);
  if (asn.offset !== bytes.length) return undefined;
  const v: unknown = (asn.result.valueBlock as { value?: unknown }).value;
  return typeof v === 'string' ? v : undefined;
}

/**
 * AMD writes hwID as the raw chip id in extnValue (no inner OCTET STRING); accept the
 * wrapped form as well, which other issuers of test certificates produce.
 */
function hwIdValue(bytes: Uint8Array | undefined): Uint8Array | undefined {
  if (!bytes) return undefined;
  if (bytes.length === 64 || bytes.length === 8) return new Uint8Array(bytes);
  if ((bytes.length === 66 || bytes.length === 10) && bytes[0] === 0x04 && bytes[1] === bytes.length - 2) {
    return new Uint8Array(bytes.subarray(2));
  }
  return undefined;
}

export function readEndorsementExtensions(cert: AmdCertificate): EndorsementExtensions {
  try {
    const out: Record<string, unknown> = {};
    const put = (k: keyof EndorsementExtensions, v: unknown): void => {
      if (v !== undefined) out[k] = v;
    };
    put('structVersion', derInteger(extensionValue(cert, SNP_OID.structVersion)));
    put('productName', derString(extensionValue(cert, SNP_OID.productName)));
    put('bootloader', derInteger(extensionValue(cert, SNP_OID.blSpl)));
    put('tee', derInteger(extensionValue(cert, SNP_OID.teeSpl)));
    put('snp', derInteger(extensionValue(cert, SNP_OID.snpSpl)));
    put('microcode', derInteger(extensionValue(cert, SNP_OID.ucodeSpl)));
    put('fmc', derInteger(extensionValue(cert, SNP_OID.fmcSpl)));
    put('hwId', hwIdValue(extensionValue(cert, SNP_OID.hwId)));
    put('cspId', derString(extensionValue(cert, SNP_OID.cspId)));
    return out as EndorsementExtensions;
  } catch {
    return {};
  }
}

/** ASVKs are the VLEK issuers, named `SEV-VLEK-<product>`; ASKs are `SEV-<product>`. */
export function isAsvk(cert: AmdCertificate): boolean {
  return cert.subjectCn?.startsWith('SEV-VLEK-') ?? false;
}

/** A VCEK/VLEK candidate's kind, by its issuer (ASVK → VLEK) or its own name. */
export function endorsementKind(cert: AmdCertificate): 'vcek' | 'vlek' {
  return cert.issuerCn?.startsWith('SEV-VLEK-') || cert.subjectCn === 'SEV-VLEK' ? 'vlek' : 'vcek';
}

export function publicKeyOf(cert: AmdCertificate): KeyObject {
  try {
    const spki = Buffer.from(cert.cert.subjectPublicKeyInfo.toSchema().toBER(false));
    return createPublicKey({ key: spki, format: 'der', type: 'spki' });
  } catch (cause) {
    throw new EvidenceError('chain', `certificate ${cert.subjectCn ?? '(unnamed)'} has an unusable public key`, { cause });
  }
}

function isPssSha384Salt48(alg: pkijs.AlgorithmIdentifier): boolean {
  if (alg.algorithmId !== OID_RSASSA_PSS || alg.algorithmParams === undefined) return false;
  const params = new pkijs.RSASSAPSSParams({ schema: alg.algorithmParams });
  if (params.hashAlgorithm.algorithmId !== OID_SHA384) return false;
  if (params.maskGenAlgorithm.algorithmId !== OID_MGF1) return false;
  const mgfHash = new pkijs.AlgorithmIdentifier({ schema: params.maskGenAlgorithm.algorithmParams });
  return mgfHash.algorithmId === OID_SHA384 && params.saltLength === 48 && params.trailerField === 1;
}

/** Whether `issuer` signed `subject` (names chain and the RSA-PSS signature verifies). */
export function isSignedBy(subject: AmdCertificate, issuer: AmdCertificate): boolean {
  try {
    if (!subject.cert.issuer.isEqual(issuer.cert.subject)) return false;
    const outer = subject.cert.signatureAlgorithm;
    const inner = subject.cert.signature;
    if (!isPssSha384Salt48(outer) || !isPssSha384Salt48(inner)) return false;
    if (!Buffer.from(outer.toSchema().toBER(false)).equals(Buffer.from(inner.toSchema().toBER(false)))) return false;
    const signature = subject.cert.signatureValue.valueBlock.valueHexView;
    return cryptoVerify(
      'sha384',
      subject.cert.tbsView,
      { key: publicKeyOf(issuer), padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 48 },
      signature,
    );
  } catch {
    return false;
  }
}

export interface VerifiedChain {
  readonly leaf: AmdCertificate;
  /** ASK (VCEK chains) or ASVK (VLEK chains). */
  readonly intermediate: AmdCertificate;
  readonly root: AmdCertificate;
}

/**
 * Builds and checks leaf ← intermediate ← root by names and signatures alone, at no
 * particular time. Roots are only ever the self-signed certificates of `anchors`;
 * intermediates may come from the anchors or from collateral, since they prove nothing
 * unless an anchored ARK signed them. The outcome depends on the certificates alone,
 * which is what lets a verified chain be cached and its validity checked at each call.
 */
export function buildChain(
  leaf: AmdCertificate,
  kind: 'vcek' | 'vlek',
  anchors: readonly AmdCertificate[],
  intermediates: readonly AmdCertificate[],
): VerifiedChain {
  const roots = anchors.filter((c) => c.selfIssued && isSignedBy(c, c));
  const wantAsvk = kind === 'vlek';
  const pool = [...anchors.filter((c) => !c.selfIssued), ...intermediates.filter((c) => !c.selfIssued)].filter((c) => isAsvk(c) === wantAsvk);
  const issuerLabel = wantAsvk ? 'ASVK' : 'ASK';

  const named = pool.filter((c) => leaf.cert.issuer.isEqual(c.cert.subject));
  if (named.length === 0) {
    throw new EvidenceError('chain', `no trusted ${issuerLabel} named ${leaf.issuerCn ?? '(unnamed)'} issued the ${kind.toUpperCase()}`);
  }
  let sawIssuerSignature = false;
  for (const intermediate of named) {
    if (!isSignedBy(leaf, intermediate)) continue;
    sawIssuerSignature = true;
    for (const root of roots) {
      if (isSignedBy(intermediate, root)) return { leaf, intermediate, root };
    }
  }
  if (!sawIssuerSignature) {
    throw new EvidenceError('chain', `the ${kind.toUpperCase()} signature does not verify with ${issuerLabel} ${leaf.issuerCn ?? ''}`.trimEnd());
  }
  throw new EvidenceError('chain', `${issuerLabel} ${leaf.issuerCn ?? ''} does not chain to a trusted AMD root (ARK)`);
}

/**
 * buildChain, then the validity of every certificate at `now`. Signatures come first, so a
 * forged certificate reads 'chain' even when also stale.
 */
export function verifyChain(
  leaf: AmdCertificate,
  kind: 'vcek' | 'vlek',
  anchors: readonly AmdCertificate[],
  intermediates: readonly AmdCertificate[],
  now: Date,
): VerifiedChain {
  const chain = buildChain(leaf, kind, anchors, intermediates);
  checkValidity(chain, now);
  return chain;
}

/** What a validity check reads of a certificate. */
export type Validity = Pick<AmdCertificate, 'subjectCn' | 'notBefore' | 'notAfter'>;

export interface ChainValidity {
  readonly leaf: Validity;
  readonly intermediate: Validity;
  readonly root: Validity;
}

/** Throws 'expired' unless every certificate of the chain is valid at `now`, bounds included. */
export function checkValidity(chain: ChainValidity, now: Date): void {
  const t = now.getTime();
  if (Number.isNaN(t)) throw new EvidenceError('expired', 'verification time is not a valid date');
  for (const [role, cert] of [
    ['endorsement key', chain.leaf],
    ['intermediate', chain.intermediate],
    ['root', chain.root],
  ] as const) {
    if (t < cert.notBefore.getTime() || t > cert.notAfter.getTime()) {
      throw new EvidenceError(
        'expired',
        `${role} certificate ${cert.subjectCn ?? '(unnamed)'} is valid ${cert.notBefore.toISOString()} to ${cert.notAfter.toISOString()}, not at ${now.toISOString()}`,
      );
    }
  }
}
