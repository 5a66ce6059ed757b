import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { EvidenceError } from '../plugin.js';
import { parsePublic, TPMA_OBJECT, type TpmPublic } from './structures.js';

/**
 * Why the verifier may believe the AK is a key inside a real TPM.
 *
 * Trust anchors (VerifyContext.trustAnchors) come in two kinds, told apart by shape:
 * - an X.509 certificate (DER, or PEM text): a CA the AK certificate must chain to;
 * - a raw-key pin: SHA-256 of the AK's marshalled TPMT_PUBLIC, as 32 bytes or 64 ASCII
 *   hex digits. TPMT_PUBLIC rather than SPKI, because it also pins the object
 *   attributes (restricted, fixedTPM…), and with nameAlg SHA-256 it is the AK's TPM
 *   Name without the 0x000b prefix, which `tpm2_createak -n` already prints.
 *
 * With an AK certificate the certificate route is the only one taken (pins are not a
 * fallback), and akPublic, if also sent, must be the certified key.
 */

export interface TrustedAk {
  readonly key: KeyObject;
  readonly via: 'certificate' | 'pinned';
  readonly public?: TpmPublic;
  /** SHA-256 of the TPMT_PUBLIC, when it was supplied. */
  readonly publicSha256?: string;
  readonly certificate?: X509Certificate;
  readonly path?: readonly X509Certificate[];
}

export interface AkMaterial {
  readonly akPublic?: Uint8Array;
  readonly akCertificate?: Uint8Array;
  readonly akChain: readonly Uint8Array[];
}

interface Anchors {
  readonly certificates: readonly X509Certificate[];
  readonly pins: ReadonlySet<string>;
}

const MAX_DEPTH = 6;
// Each step costs a signature verification; the budget keeps a hostile pool of
// look-alike intermediates from turning path building into a CPU sink.
const MAX_VERIFICATIONS = 128;
const MAX_POOL = 24;

const PEM = /^\s*-----BEGIN CERTIFICATE-----/;

function parseCertificate(bytes: Uint8Array, what: string): X509Certificate {
  try {
    return new X509Certificate(Buffer.from(bytes));
  } catch (error) {
    throw new EvidenceError('malformed', `${what} is not an X.509 certificate`, { cause: error });
  }
}

function tryCertificate(bytes: Uint8Array): X509Certificate | undefined {
  try {
    return new X509Certificate(Buffer.from(bytes));
  } catch {
    return undefined;
  }
}

function parseAnchors(anchors: readonly Uint8Array[]): Anchors {
  const certificates: X509Certificate[] = [];
  const pins = new Set<string>();
  anchors.forEach((anchor, index) => {
    if (anchor.length === 32) {
      pins.add(Buffer.from(anchor).toString('hex'));
      return;
    }
    const text = Buffer.from(anchor).toString('latin1');
    if (anchor.length === 64 && /^[0-9a-fA-F]{64}$/.test(text)) {
      pins.add(text.toLowerCase());
      return;
    }
    if (anchor[0] === 0x30 || PEM.test(text)) {
      certificates.push(parseCertificate(anchor, `trust anchor ${index}`));
      return;
    }
    throw new EvidenceError('malformed', `trust anchor ${index} is neither a certificate nor a 32-byte TPMT_PUBLIC SHA-256 pin`);
  });
  return { certificates, pins };
}

function validity(certificate: X509Certificate): { notBefore: number; notAfter: number } {
  const notBefore = Date.parse(certificate.validFrom);
  const notAfter = Date.parse(certificate.validTo);
  if (Number.isNaN(notBefore) || Number.isNaN(notAfter)) {
    throw new EvidenceError('malformed', 'a certificate has an unreadable validity period');
  }
  return { notBefore, notAfter };
}

const isValidAt = (certificate: X509Certificate, now: number): boolean => {
  const { notBefore, notAfter } = validity(certificate);
  return notBefore <= now && now <= notAfter;
};

/** Whether `issuer` signed `subject`, by name, CA status and signature. */
function issued(subject: X509Certificate, issuer: X509Certificate, budget: { left: number }): boolean {
  if (!issuer.ca || !subject.checkIssued(issuer)) return false;
  if (budget.left-- <= 0) throw new EvidenceError('chain', 'certificate path building gave up: too many candidate issuers');
  try {
    return subject.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/**
 * Every path from the leaf to an anchor whose signatures verify, ignoring time, so
 * the caller can tell "no path" ('chain') from "only expired paths" ('expired').
 */
function buildPaths(leaf: X509Certificate, pool: readonly X509Certificate[], anchors: readonly X509Certificate[]): X509Certificate[][] {
  const paths: X509Certificate[][] = [];
  const budget = { left: MAX_VERIFICATIONS };
  const walk = (path: X509Certificate[]): void => {
    const tip = path[path.length - 1] as X509Certificate;
    for (const anchor of anchors) {
      if (anchor.raw.equals(tip.raw)) paths.push(path);
      else if (issued(tip, anchor, budget)) paths.push([...path, anchor]);
    }
    if (path.length >= MAX_DEPTH) return;
    for (const candidate of pool) {
      if (path.some((member) => member.raw.equals(candidate.raw))) continue;
      if (issued(tip, candidate, budget)) walk([...path, candidate]);
    }
  };
  walk([leaf]);
  return paths;
}

function spki(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' });
}

/** Establishes the AK as trusted, or refuses with 'chain', 'expired', 'missing-collateral'… */
export function trustAk(
  material: AkMaterial,
  context: { readonly now: Date; readonly trustAnchors?: readonly Uint8Array[]; readonly collateral?: readonly Uint8Array[] },
): TrustedAk {
  const now = context.now.getTime();
  if (Number.isNaN(now)) throw new EvidenceError('malformed', 'the verification time is not a valid date');
  const akPublic = material.akPublic === undefined ? undefined : parsePublic(material.akPublic);
  const publicSha256 =
    material.akPublic === undefined ? undefined : createHash('sha256').update(material.akPublic).digest('hex');
  if (akPublic !== undefined) {
    const wanted = TPMA_OBJECT.restricted | TPMA_OBJECT.sign;
    // Only a restricted signing key refuses to sign outside data that starts with
    // TPM_GENERATED_VALUE; any other key could sign a forged TPMS_ATTEST.
    if ((akPublic.objectAttributes & wanted) !== wanted) {
      throw new EvidenceError('unsupported', 'akPublic is not a restricted signing key, so it cannot be an attestation key');
    }
  }
  const anchors = parseAnchors(context.trustAnchors ?? []);

  if (material.akCertificate !== undefined) {
    const leaf = parseCertificate(material.akCertificate, 'akCertificate');
    const pool = material.akChain.map((bytes, index) => parseCertificate(bytes, `akChain[${index}]`));
    for (const bytes of context.collateral ?? []) {
      const certificate = tryCertificate(bytes);
      if (certificate !== undefined) pool.push(certificate);
    }
    if (pool.length > MAX_POOL) throw new EvidenceError('chain', `too many candidate intermediates (${pool.length})`);
    if (anchors.certificates.length === 0) {
      throw new EvidenceError('chain', 'no certificate trust anchor is configured for TPM AK certificates');
    }
    const paths = buildPaths(leaf, pool, anchors.certificates);
    if (paths.length === 0) throw new EvidenceError('chain', 'the AK certificate does not chain to a trust anchor');
    const path = paths.find((candidate) => candidate.every((certificate) => isValidAt(certificate, now)));
    if (path === undefined) {
      throw new EvidenceError('expired', `a certificate on the AK's path is not valid at ${context.now.toISOString()}`);
    }
    const key = leaf.publicKey;
    if (key.asymmetricKeyType !== 'rsa' && key.asymmetricKeyType !== 'ec') {
      throw new EvidenceError('unsupported', `AK certificate key type ${key.asymmetricKeyType ?? 'unknown'}`);
    }
    // On this route only the key inside akPublic is vouched for (by the CA); its other
    // fields, and so tpmtPublicSha256, are the attester's word.
    if (akPublic !== undefined && !spki(akPublic.key).equals(spki(key))) {
      throw new EvidenceError('endorsement-mismatch', 'akPublic is not the key the AK certificate certifies');
    }
    return {
      key,
      via: 'certificate',
      certificate: leaf,
      path,
      ...(akPublic === undefined ? {} : { public: akPublic }),
      ...(publicSha256 === undefined ? {} : { publicSha256 }),
    };
  }

  if (akPublic === undefined || publicSha256 === undefined) {
    throw new EvidenceError('missing-collateral', 'the evidence carries neither an AK certificate nor an AK public key');
  }
  if (!anchors.pins.has(publicSha256)) {
    throw new EvidenceError('chain', `the AK (TPMT_PUBLIC sha256 ${publicSha256}) is not a pinned trust anchor`);
  }
  return { key: akPublic.key, via: 'pinned', public: akPublic, publicSha256 };
}
