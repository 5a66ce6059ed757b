import { EvidenceError } from '../plugin.js';
import type { EnclaveReport } from './enclave-report.js';
import { array, date, hex, integer, object, string } from './json.js';
import { equalBytes, toHex } from './reader.js';
import { parseIsvLevel, type IsvTcbLevel } from './tcb-info.js';

/**
 * Intel PCS QE Identity, version 2 (the `enclaveIdentity` object of
 * `GET /sgx|tdx/certification/v4/qe/identity`): what Intel's quoting enclave looks like
 * (MRSIGNER, ISVPRODID, MISCSELECT and ATTRIBUTES under masks) and its TCB levels by
 * ISVSVN. The QE report in a quote must match it (Intel QVL, EnclaveReportVerifier).
 */

export const QE_IDENTITY_VERSION = 2;

export interface QeIdentity {
  /** 'QE' for SGX quotes, 'TD_QE' for TDX quotes. */
  readonly id: string;
  readonly version: number;
  readonly issueDate: Date;
  readonly nextUpdate: Date;
  readonly tcbEvaluationDataNumber: number;
  readonly miscselect: Uint8Array;
  readonly miscselectMask: Uint8Array;
  readonly attributes: Uint8Array;
  readonly attributesMask: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly isvProdId: number;
  readonly tcbLevels: readonly IsvTcbLevel[];
}

export function parseQeIdentity(value: unknown): QeIdentity {
  const what = 'QE identity';
  const o = object(value, what);
  const id = string(o, 'id', what);
  if (id.length > 16) throw new EvidenceError('malformed', 'QE identity id is not an enclave identity id');
  const version = integer(o, 'version', what, 0xffff);
  if (version !== QE_IDENTITY_VERSION) throw new EvidenceError('unsupported', `QE identity version ${version} is not supported; only version ${QE_IDENTITY_VERSION}`);
  return {
    id,
    version,
    issueDate: date(o, 'issueDate', what),
    nextUpdate: date(o, 'nextUpdate', what),
    tcbEvaluationDataNumber: integer(o, 'tcbEvaluationDataNumber', what, 0xffffffff),
    miscselect: hex(o, 'miscselect', what, 4),
    miscselectMask: hex(o, 'miscselectMask', what, 4),
    attributes: hex(o, 'attributes', what, 16),
    attributesMask: hex(o, 'attributesMask', what, 16),
    mrSigner: hex(o, 'mrsigner', what, 32),
    isvProdId: integer(o, 'isvprodid', what, 0xffff),
    tcbLevels: array(o, 'tcbLevels', what, 1_024).map((l, i) => parseIsvLevel(l, `${what}.tcbLevels[${i}]`)),
  };
}

function masked(value: Uint8Array, mask: Uint8Array): Uint8Array {
  return value.map((b, i) => b & (mask[i] ?? 0));
}

/** The QE's TCB standing as Intel's QVL names it; 'NotSupported' when no level covers its ISVSVN. */
export type QeTcbStatus = 'UpToDate' | 'OutOfDate' | 'Revoked' | 'NotSupported';

export interface QeVerdict {
  readonly status: QeTcbStatus;
  readonly level?: IsvTcbLevel;
}

/**
 * Matches the QE report with the identity: masked MISCSELECT and ATTRIBUTES, MRSIGNER and
 * ISVPRODID must be Intel's ('endorsement-mismatch' otherwise), and the first TCB level
 * whose ISVSVN the QE's reaches gives its status: UpToDate, OutOfDate or Revoked, the
 * three a QE identity may state (QVL refuses the identity for any other).
 */
export function checkQeIdentity(identity: QeIdentity, report: EnclaveReport): QeVerdict {
  const mismatch = (field: string, detail: string): EvidenceError =>
    new EvidenceError('endorsement-mismatch', `the QE report's ${field} does not match Intel's QE identity (${identity.id}): ${detail}`);
  if (!equalBytes(masked(report.miscSelect, identity.miscselectMask), identity.miscselect)) {
    throw mismatch('MISCSELECT', `${toHex(report.miscSelect)} under mask ${toHex(identity.miscselectMask)} is not ${toHex(identity.miscselect)}`);
  }
  if (!equalBytes(masked(report.attributes, identity.attributesMask), identity.attributes)) {
    throw mismatch('ATTRIBUTES', `${toHex(report.attributes)} under mask ${toHex(identity.attributesMask)} is not ${toHex(identity.attributes)}`);
  }
  if (!equalBytes(report.mrSigner, identity.mrSigner)) throw mismatch('MRSIGNER', `${toHex(report.mrSigner)}, expected ${toHex(identity.mrSigner)}`);
  if (report.isvProdId !== identity.isvProdId) throw mismatch('ISVPRODID', `${report.isvProdId}, expected ${identity.isvProdId}`);
  const level = identity.tcbLevels.find((l) => report.isvSvn >= l.isvSvn);
  if (level === undefined) return { status: 'NotSupported' };
  const status = level.tcbStatus;
  if (status !== 'UpToDate' && status !== 'OutOfDate' && status !== 'Revoked') {
    throw new EvidenceError('unsupported', `QE identity TCB status ${JSON.stringify(status.slice(0, 64))} is not one a QE identity may state`);
  }
  return { status, level };
}
