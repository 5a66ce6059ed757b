import type { KeyObject } from 'node:crypto';
import { EvidenceError } from '../plugin.js';
import { certificatesFromPem, readCertificates, type Certificate } from '../x509/certificate.js';
import type { Crl } from '../x509/crl.js';
import { buildPaths, validatePath, type CertificatePath } from '../x509/path.js';
import { readCollateral, type SignedDocument } from './collateral.js';
import { verifyP256 } from './ecdsa.js';
import { hasSgxExtension, readPckExtensions, type PckExtensions } from './pck.js';
import { parseQeIdentity, type QeIdentity } from './qe-identity.js';
import type { TeeKind } from './quote.js';
import { equalBytes, toHex } from './reader.js';
import { INTEL_SGX_ROOT_CA_PEM } from './roots.js';
import { parseTcbInfo, type TcbInfo } from './tcb-info.js';

/**
 * Everything a quote is judged against that does not depend on the quote's own signed
 * bytes: the PCK certificate (from the quote) and its chain, and Intel's TCB info and QE
 * identity (from the collateral), each checked back to the trust anchor.
 *
 * - PCK: leaf → PCK Platform/Processor CA → root, with the PCK CRL and the root CA CRL
 *   both required and current (x509/path.ts).
 * - TCB info and QE identity: ECDSA P-256 signatures over their exact bytes by a TCB
 *   signing certificate, which must be issued directly by a trust anchor (so a PCK
 *   certificate, one level lower, can never pass for one), be no CA and carry no SGX
 *   extension; its path needs the root CA CRL. Then issueDate ≤ now ≤ nextUpdate.
 * - The documents must be for this kind of quote (id SGX/TDX, QE/TD_QE) and the TCB
 *   info for this platform (FMSPC and PCE-ID equal to the PCK certificate's).
 *
 * Signatures are checked before times, so forged collateral reads 'signature' or 'chain'
 * even when it is also stale.
 */

/** An interval the verification time must fall in (bounds included). */
export interface Window {
  readonly from: Date;
  readonly until?: Date;
}

export interface TrustedPlatform {
  readonly pck: Certificate;
  readonly pckKey: KeyObject;
  readonly pckExtensions: PckExtensions;
  readonly pckPath: CertificatePath;
  readonly tcbInfo: TcbInfo;
  readonly qeIdentity: QeIdentity;
  /** Every validity interval the verdict rests on: certificates, CRLs, collateral. */
  readonly windows: readonly Window[];
  /** One certification path for each leaf: only then does the verdict at another time follow from the windows alone. */
  readonly unambiguous: boolean;
}

export const MAX_TRUST_ANCHORS = 16;

const TCB_INFO_ID: Readonly<Record<TeeKind, string>> = { sgx: 'SGX', tdx: 'TDX' };
const QE_IDENTITY_ID: Readonly<Record<TeeKind, string>> = { sgx: 'QE', tdx: 'TD_QE' };

let shipped: Certificate[] | undefined;

export function shippedAnchors(): Certificate[] {
  shipped ??= certificatesFromPem(INTEL_SGX_ROOT_CA_PEM, 'the shipped Intel SGX Root CA');
  return shipped;
}

/** Trust anchors from the context (DER or PEM certificates), or Intel's root. */
export function anchorsFrom(items: readonly Uint8Array[] | undefined): Certificate[] {
  if (items === undefined) return shippedAnchors();
  if (items.length > MAX_TRUST_ANCHORS) throw new EvidenceError('malformed', `${items.length} trust anchors, more than ${MAX_TRUST_ANCHORS}`);
  const anchors = items.flatMap((item, i) => readCertificates(item, `trust anchor ${i}`) ?? []);
  if (anchors.length === 0) throw new EvidenceError('chain', 'none of the given trust anchors is a certificate');
  return anchors;
}

/** A certificate's key, or undefined when its SubjectPublicKeyInfo does not decode (node parses it lazily, and throws). */
function keyOf(certificate: Certificate): KeyObject | undefined {
  try {
    return certificate.x509.publicKey;
  } catch {
    return undefined;
  }
}

const loose = (value: unknown): Record<string, unknown> => (typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {});

interface Verified<T> {
  readonly value: T;
  readonly signer: Certificate;
  readonly path: CertificatePath;
}

interface DocumentSpec<T> {
  readonly what: string;
  readonly parse: (value: unknown) => T;
  /** Which document to take when several are offered (read loosely, before any check). */
  readonly prefer: (value: Record<string, unknown>) => boolean;
}

function verifiedDocument<T extends { issueDate: Date; nextUpdate: Date }>(
  docs: readonly SignedDocument[],
  spec: DocumentSpec<T>,
  signers: readonly Certificate[],
  anchors: readonly Certificate[],
  crls: readonly Crl[],
  now: Date,
): Verified<T> {
  const doc = docs.find((d) => spec.prefer(loose(d.value))) ?? docs[0];
  if (doc === undefined) throw new EvidenceError('missing-collateral', `the collateral holds no ${spec.what}`);
  if (signers.length === 0) throw new EvidenceError('missing-collateral', `the collateral holds no TCB signing certificate to check the ${spec.what} with`);
  const signer = signers.find((s) => {
    const key = keyOf(s);
    return key !== undefined && verifyP256(key, doc.body, doc.signature);
  });
  if (signer === undefined) {
    throw new EvidenceError('signature', `the ${spec.what} signature (${doc.source}) does not verify with ${signers.map((s) => s.subject).join(' or ')}`);
  }
  // No intermediates: the signer must hang directly off a trust anchor.
  const path = validatePath({ leaf: signer, intermediates: [], anchors, now, crls, revocation: 'required', what: `the ${spec.what} signing certificate` });
  const value = spec.parse(doc.value);
  const t = now.getTime();
  if (t < value.issueDate.getTime() || t > value.nextUpdate.getTime()) {
    throw new EvidenceError('expired', `the ${spec.what} is valid ${value.issueDate.toISOString()} to ${value.nextUpdate.toISOString()}, not at ${now.toISOString()}`);
  }
  return { value, signer, path };
}

function windowsOf(path: CertificatePath, crls: readonly Crl[]): Window[] {
  const windows: Window[] = path.map((c) => ({ from: c.notBefore, until: c.notAfter }));
  for (const issuer of path.slice(1)) {
    for (const crl of crls) {
      if (equalBytes(crl.issuerName, issuer.subjectName)) {
        windows.push({ from: crl.thisUpdate, ...(crl.nextUpdate === undefined ? {} : { until: crl.nextUpdate }) });
      }
    }
  }
  return windows;
}

export interface TrustInput {
  readonly tee: TeeKind;
  /** The quote's type-5 certification data. */
  readonly pckChain: Uint8Array;
  readonly collateral: readonly Uint8Array[];
  readonly trustAnchors: readonly Uint8Array[] | undefined;
}

/** Verifies the PCK chain and the collateral at `now`; throws the first refusal. */
export function establishTrust(input: TrustInput, now: Date): TrustedPlatform {
  const chain = certificatesFromPem(Buffer.from(input.pckChain).toString('latin1'), "the quote's PCK certificate chain");
  const pck = chain[0] as Certificate;
  const anchors = anchorsFrom(input.trustAnchors);
  const collateral = readCollateral(input.collateral);
  const pool = new Map<string, Certificate>();
  for (const c of [...chain.slice(1), ...collateral.certificates]) pool.set(Buffer.from(c.der).toString('base64'), c);
  const intermediates = [...pool.values()];
  const crls = collateral.crls;

  const pckPath = validatePath({ leaf: pck, intermediates, anchors, now, crls, revocation: 'required', what: 'the PCK certificate' });
  const pckKey = keyOf(pck);
  if (pckKey === undefined) throw new EvidenceError('malformed', "the PCK certificate's public key does not decode");
  if (pckKey.asymmetricKeyType !== 'ec' || pckKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new EvidenceError('unsupported', `the PCK certificate's key is not ECDSA P-256 (${pckKey.asymmetricKeyType ?? 'unknown'} ${pckKey.asymmetricKeyDetails?.namedCurve ?? ''})`);
  }
  const pckExtensions = readPckExtensions(pck);
  const fmspc = toHex(pckExtensions.fmspc);

  const signers = collateral.certificates.filter((c) => !c.x509.ca && !hasSgxExtension(c));
  const tcb = verifiedDocument(
    collateral.tcbInfos,
    {
      what: 'TCB info',
      parse: parseTcbInfo,
      prefer: (v) => v['id'] === TCB_INFO_ID[input.tee] && typeof v['fmspc'] === 'string' && v['fmspc'].toLowerCase() === fmspc,
    },
    signers,
    anchors,
    crls,
    now,
  );
  const qe = verifiedDocument(
    collateral.qeIdentities,
    { what: 'QE identity', parse: parseQeIdentity, prefer: (v) => v['id'] === QE_IDENTITY_ID[input.tee] },
    signers,
    anchors,
    crls,
    now,
  );

  const tcbInfo = tcb.value;
  if (tcbInfo.id !== TCB_INFO_ID[input.tee]) {
    throw new EvidenceError('endorsement-mismatch', `the TCB info is for ${tcbInfo.id}, the quote is ${TCB_INFO_ID[input.tee]}`);
  }
  if (!equalBytes(tcbInfo.fmspc, pckExtensions.fmspc)) {
    throw new EvidenceError('endorsement-mismatch', `the TCB info is for FMSPC ${toHex(tcbInfo.fmspc)}, the PCK certificate names ${fmspc}`);
  }
  if (!equalBytes(tcbInfo.pceId, pckExtensions.pceId)) {
    throw new EvidenceError('endorsement-mismatch', `the TCB info is for PCE-ID ${toHex(tcbInfo.pceId)}, the PCK certificate names ${toHex(pckExtensions.pceId)}`);
  }
  if (qe.value.id !== QE_IDENTITY_ID[input.tee]) {
    throw new EvidenceError('endorsement-mismatch', `the QE identity is for ${qe.value.id}, a ${TCB_INFO_ID[input.tee]} quote needs ${QE_IDENTITY_ID[input.tee]}`);
  }

  const windows = [
    ...windowsOf(pckPath, crls),
    ...windowsOf(tcb.path, crls),
    ...windowsOf(qe.path, crls),
    { from: tcbInfo.issueDate, until: tcbInfo.nextUpdate },
    { from: qe.value.issueDate, until: qe.value.nextUpdate },
  ];
  const unambiguous =
    buildPaths(pck, intermediates, anchors).length === 1 && buildPaths(tcb.signer, [], anchors).length === 1 && buildPaths(qe.signer, [], anchors).length === 1;
  return { pck, pckKey, pckExtensions, pckPath, tcbInfo, qeIdentity: qe.value, windows, unambiguous };
}

/** Whether `now` lies in every window the verdict rests on. */
export function holdsAt(trusted: TrustedPlatform, now: Date): boolean {
  const t = now.getTime();
  return trusted.windows.every((w) => w.from.getTime() <= t && (w.until === undefined || t <= w.until.getTime()));
}

/** The earliest end of any window: when this collateral stops proving anything. */
export function validUntil(trusted: TrustedPlatform): Date | undefined {
  const ends = trusted.windows.flatMap((w) => (w.until === undefined ? [] : [w.until.getTime()]));
  return ends.length === 0 ? undefined : new Date(Math.min(...ends));
}
