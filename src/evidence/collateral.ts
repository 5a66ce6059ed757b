import type { TeeClass } from '../core/model.js';
import { readCollateral } from './dcap/collateral.js';
import { parseQeIdentity } from './dcap/qe-identity.js';
import { parseTcbInfo } from './dcap/tcb-info.js';
import { EvidenceError } from './plugin.js';
import { readCertificates } from './x509/certificate.js';
import { readCrl } from './x509/crl.js';

/**
 * Collateral an operator imports once so that verification runs offline: what it is,
 * which evidence it serves, and when it is valid. Recognised by content, as the plugins
 * recognise their collateral; nothing here trusts it — each plugin still checks every
 * signature on it against its own roots at each verification.
 */
export type CollateralKind = 'intel-dcap' | 'certificates' | 'crl';

export interface CollateralDescription {
  readonly kind: CollateralKind;
  /** The evidence classes that read it. */
  readonly classes: readonly TeeClass[];
  /** One line for people: what it is about. */
  readonly subject: string;
  /** The window in which every part of it is valid (the intersection). */
  readonly notBefore: Date;
  readonly notAfter: Date;
}

const DCAP: readonly TeeClass[] = ['sgx', 'tdx'];
/** Certificates and CRLs may complete any chain: a VCEK, an AK's intermediates, a CRL. */
const ANY_CHAIN: readonly TeeClass[] = ['sev-snp', 'azure-snp-vtpm', 'tpm', 'sgx', 'tdx', 'nitro', 'nvidia-gpu'];

function window(ranges: readonly { from: Date; to: Date }[]): { notBefore: Date; notAfter: Date } {
  return {
    notBefore: new Date(Math.max(...ranges.map((r) => r.from.getTime()))),
    notAfter: new Date(Math.min(...ranges.map((r) => r.to.getTime()))),
  };
}

/** What `bytes` are, or a refusal ('malformed') naming why they are not collateral. */
export function describeCollateral(bytes: Uint8Array): CollateralDescription {
  const certificates = readCertificates(bytes, 'the collateral');
  if (certificates !== undefined && certificates.length > 0) {
    const leaf = certificates[0]!;
    return { kind: 'certificates', classes: ANY_CHAIN, subject: `${certificates.length} certificate(s), first ${leaf.subject}`, ...window(certificates.map((c) => ({ from: c.notBefore, to: c.notAfter }))) };
  }
  const crl = readCrl(bytes, 'the collateral');
  if (crl !== undefined) {
    return { kind: 'crl', classes: ANY_CHAIN, subject: `CRL with ${crl.revoked.size} revoked serial(s)`, notBefore: crl.thisUpdate, notAfter: crl.nextUpdate ?? new Date(8.64e15) };
  }
  const dcap = readCollateral([bytes]);
  const documents = [...dcap.tcbInfos.map((d) => ({ d, info: parseTcbInfo(d.value) })), ...dcap.qeIdentities.map((d) => ({ d, info: parseQeIdentity(d.value) }))];
  if (documents.length === 0) throw new EvidenceError('malformed', 'not collateral Covenant knows: neither certificates, a CRL, nor Intel PCS TCB info or QE identity');
  const ranges = [
    ...documents.map(({ info }) => ({ from: info.issueDate, to: info.nextUpdate })),
    ...dcap.crls.map((c) => ({ from: c.thisUpdate, to: c.nextUpdate ?? new Date(8.64e15) })),
    ...dcap.certificates.map((c) => ({ from: c.notBefore, to: c.notAfter })),
  ];
  const tcb = dcap.tcbInfos.map((d) => parseTcbInfo(d.value));
  const subject = tcb.length > 0 ? `Intel PCS collateral: ${tcb.map((t) => `${t.id} TCB info, FMSPC ${Buffer.from(t.fmspc).toString('hex')}, evaluation ${t.tcbEvaluationDataNumber}`).join('; ')}` : 'Intel PCS collateral: QE identity';
  return { kind: 'intel-dcap', classes: DCAP, subject, ...window(ranges) };
}
