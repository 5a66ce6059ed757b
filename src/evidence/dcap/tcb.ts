import type { TcbStatus } from '../../core/model.js';
import { EvidenceError } from '../plugin.js';
import type { PckTcb } from './pck.js';
import type { QeTcbStatus, QeVerdict } from './qe-identity.js';
import { equalBytes, isAllZero, toHex } from './reader.js';
import type { TdReport } from './td-report.js';
import type { IsvTcbLevel, TcbInfo, TcbLevel, TdxModuleIdentity } from './tcb-info.js';

/**
 * TCB evaluation as Intel's Quote Verification Library does it (QVL `TcbLevelCheck`,
 * `TdxModuleCheck`, `TDRelaunchCheck`; PCS "TCB Info" documentation):
 *
 * 1. The platform's TCB is the PCK certificate's: sixteen SGX component SVNs and PCESVN.
 *    The SGX level is the first TCB level (Intel publishes them newest first) whose
 *    components and PCESVN the platform's all reach.
 * 2. For TDX, the level must also be reached by the TD's TEE_TCB_SVN against the level's
 *    TDX components; bytes 0 and 1 (TDX module SVN and major version) are skipped when
 *    the major version is not zero, because the TDX module identity judges those.
 * 3. TDX module: the identity `TDX_<major version>` gives the module's signer, attributes
 *    and TCB levels (by module SVN); its status folds into the TDX level's status.
 * 4. TD 1.5 quotes may turn an OutOfDate result into TDRelaunchAdvised when TEE_TCB_SVN2
 *    shows the platform was updated while the TD ran.
 * 5. The QE's status from its identity folds in last.
 *
 * No matching level is a refusal ('endorsement-mismatch': the platform's TCB is not one
 * Intel's TCB info endorses; QVL's "TCB not supported"), and so is a Revoked result.
 */

export const TCB_LEVEL_STATUSES = [
  'UpToDate',
  'SWHardeningNeeded',
  'ConfigurationNeeded',
  'ConfigurationAndSWHardeningNeeded',
  'OutOfDate',
  'OutOfDateConfigurationNeeded',
  'Revoked',
] as const;
type LevelStatus = (typeof TCB_LEVEL_STATUSES)[number];
export type IntelTcbStatus = LevelStatus | 'TDRelaunchAdvised' | 'TDRelaunchAdvisedConfigurationNeeded';
type ModuleStatus = 'UpToDate' | 'OutOfDate' | 'Revoked';

function levelStatus(status: string, what: string): LevelStatus {
  if (!(TCB_LEVEL_STATUSES as readonly string[]).includes(status)) {
    throw new EvidenceError('unsupported', `${what} has TCB status ${JSON.stringify(status.slice(0, 64))}, which this verifier does not know`);
  }
  return status as LevelStatus;
}

function moduleStatus(status: string, what: string): ModuleStatus {
  if (status !== 'UpToDate' && status !== 'OutOfDate' && status !== 'Revoked') {
    throw new EvidenceError('unsupported', `${what} has TCB status ${JSON.stringify(status.slice(0, 64))}, which a TDX module level may not state`);
  }
  return status;
}

const reaches = (have: ArrayLike<number>, want: readonly number[], from = 0): boolean => {
  for (let i = from; i < want.length; i++) if ((have[i] ?? 0) < (want[i] ?? 0)) return false;
  return true;
};

/** QVL's matchTcbLevels: the SGX level, and (TDX) the first level also reached by TEE_TCB_SVN. */
export function matchTcbLevels(levels: readonly TcbLevel[], pck: PckTcb, teeTcbSvn?: Uint8Array): { sgx?: TcbLevel; tdx?: TcbLevel } {
  let sgx: TcbLevel | undefined;
  for (const level of levels) {
    if (!reaches(pck.components, level.sgxComponents) || pck.pceSvn < level.pceSvn) continue;
    if (teeTcbSvn === undefined) return { sgx: level };
    sgx ??= level;
    const from = (teeTcbSvn[1] ?? 0) > 0 ? 2 : 0;
    if (reaches(teeTcbSvn, level.tdxComponents ?? [], from)) return { sgx, tdx: level };
  }
  return sgx === undefined ? {} : { sgx };
}

/** Folds a QE or TDX module that is out of date or revoked into the platform's status. */
function converge(status: IntelTcbStatus, other: QeTcbStatus | ModuleStatus): IntelTcbStatus {
  if (other === 'OutOfDate') {
    if (status === 'UpToDate' || status === 'SWHardeningNeeded') return 'OutOfDate';
    if (status === 'ConfigurationNeeded' || status === 'ConfigurationAndSWHardeningNeeded') return 'OutOfDateConfigurationNeeded';
  }
  if (other === 'Revoked') return 'Revoked';
  return status;
}

export interface ModuleVerdict {
  /** The identity used (`TDX_01`…), or undefined for a major version 0 module judged by `tdxModule`. */
  readonly id?: string;
  readonly status: ModuleStatus;
  readonly level?: IsvTcbLevel;
}

function findModuleIdentity(info: TcbInfo, major: number): TdxModuleIdentity {
  const id = `TDX_${major.toString(16).padStart(2, '0').toUpperCase()}`;
  if (info.tdxModuleIdentities === undefined) {
    throw new EvidenceError('endorsement-mismatch', `the TD runs TDX module major version ${major}, but the TCB info has no TDX module identities`);
  }
  const identity = info.tdxModuleIdentities.find((m) => m.id.toUpperCase() === id);
  if (identity === undefined) throw new EvidenceError('endorsement-mismatch', `the TCB info has no TDX module identity ${id} for the TD's module major version ${major}`);
  return identity;
}

/**
 * The TDX module check: MRSIGNERSEAM must be the module signer Intel names, SEAMATTRIBUTES
 * zero and equal to Intel's, and the module SVN must reach a level of its identity.
 */
export function checkTdxModule(info: TcbInfo, td: TdReport, quoteVersion: number): ModuleVerdict {
  if (info.tdxModule === undefined) throw new EvidenceError('malformed', 'the TDX TCB info has no tdxModule');
  const isvSvn = td.teeTcbSvn[0] ?? 0;
  const major = td.teeTcbSvn[1] ?? 0;
  const identity = quoteVersion > 3 && major > 0 ? findModuleIdentity(info, major) : undefined;
  const expected = identity ?? info.tdxModule;
  const name = identity?.id ?? 'tdxModule';
  if (!equalBytes(td.mrSignerSeam, expected.mrSigner)) {
    throw new EvidenceError('endorsement-mismatch', `MRSIGNERSEAM ${toHex(td.mrSignerSeam)} is not the TDX module signer of ${name} (${toHex(expected.mrSigner)})`);
  }
  if (!isAllZero(td.seamAttributes) || !equalBytes(td.seamAttributes, expected.attributes)) {
    throw new EvidenceError('endorsement-mismatch', `SEAMATTRIBUTES ${toHex(td.seamAttributes)} are not zero and equal to ${name}'s (${toHex(expected.attributes)})`);
  }
  if (identity === undefined) return { status: 'UpToDate' };
  const level = identity.tcbLevels.find((l) => isvSvn >= l.isvSvn);
  if (level === undefined) {
    throw new EvidenceError('endorsement-mismatch', `TDX module ${identity.id} SVN ${isvSvn} is below every TCB level of its identity (Intel: TCB not supported)`);
  }
  return { id: identity.id, status: moduleStatus(level.tcbStatus, `TDX module identity ${identity.id}`), level };
}

const configurationNeeded = (s: IntelTcbStatus): boolean =>
  s === 'ConfigurationNeeded' || s === 'OutOfDateConfigurationNeeded' || s === 'ConfigurationAndSWHardeningNeeded' || s === 'TDRelaunchAdvisedConfigurationNeeded';

/** QVL's checkForRelaunch, for TD 1.5 reports. */
function relaunch(
  info: TcbInfo,
  svn2: Uint8Array,
  sgx: IntelTcbStatus,
  tdx: IntelTcbStatus,
  module: ModuleStatus,
  qe: QeTcbStatus,
): IntelTcbStatus {
  if (qe !== 'UpToDate') return tdx;
  if (sgx !== 'UpToDate' && sgx !== 'SWHardeningNeeded' && sgx !== 'ConfigurationNeeded' && sgx !== 'ConfigurationAndSWHardeningNeeded') return tdx;
  if (tdx !== 'OutOfDate' && tdx !== 'OutOfDateConfigurationNeeded') return tdx;
  if (module !== 'OutOfDate') return tdx;
  const latest = info.tcbLevels[0];
  if (latest === undefined) return tdx;
  const latestTdx = latest.tdxComponents ?? [];
  let moduleCurrent: boolean;
  if ((svn2[1] ?? 0) === 0) {
    moduleCurrent = (svn2[0] ?? 0) >= (latestTdx[0] ?? 0);
  } else {
    const latestModule = findModuleIdentity(info, svn2[1] ?? 0).tcbLevels[0];
    if (latestModule === undefined) throw new EvidenceError('endorsement-mismatch', 'the TDX module identity for TEE_TCB_SVN2 has no TCB levels');
    moduleCurrent = (svn2[0] ?? 0) >= latestModule.isvSvn;
  }
  if (!moduleCurrent || (svn2[2] ?? 0) < (latestTdx[2] ?? 0)) return tdx;
  return configurationNeeded(sgx) || configurationNeeded(tdx) ? 'TDRelaunchAdvisedConfigurationNeeded' : 'TDRelaunchAdvised';
}

export interface TdxInput {
  readonly report: TdReport;
  readonly quoteVersion: number;
}

export interface TcbEvaluation {
  /** Intel's status after every fold; never Revoked (that is refused). */
  readonly status: IntelTcbStatus;
  /** The level that decided: the SGX level for SGX, the TDX level for TDX. */
  readonly level: TcbLevel;
  readonly sgxLevel: TcbLevel;
  readonly module?: ModuleVerdict;
  readonly qe: QeVerdict;
  /** Advisories of the deciding level, the TDX module level and the QE level, each once. */
  readonly advisoryIds: readonly string[];
}

function notSupported(what: string, platform: string): EvidenceError {
  return new EvidenceError('endorsement-mismatch', `no TCB level in the TCB info matches ${what} (${platform}); Intel's QVL calls this TCB not supported`);
}

export function evaluateTcb(info: TcbInfo, pck: PckTcb, qe: QeVerdict, tdx?: TdxInput): TcbEvaluation {
  const platform = `SGX components ${pck.components.join(',')}, PCESVN ${pck.pceSvn}`;
  const { sgx, tdx: tdxLevel } = matchTcbLevels(info.tcbLevels, pck, tdx?.report.teeTcbSvn);
  if (sgx === undefined) throw notSupported("the platform's TCB", platform);
  const sgxStatus = levelStatus(sgx.tcbStatus, `the TCB level of ${sgx.tcbDate}`);

  let status: IntelTcbStatus;
  let level = sgx;
  let module: ModuleVerdict | undefined;
  if (tdx === undefined) {
    status = sgxStatus;
  } else {
    if (tdxLevel === undefined) throw notSupported("the platform's and the TD's TCB", `${platform}; TEE_TCB_SVN ${toHex(tdx.report.teeTcbSvn)}`);
    level = tdxLevel;
    module = checkTdxModule(info, tdx.report, tdx.quoteVersion);
    status = converge(levelStatus(tdxLevel.tcbStatus, `the TCB level of ${tdxLevel.tcbDate}`), module.status);
    if (status !== 'Revoked' && tdx.report.teeTcbSvn2 !== undefined) {
      status = relaunch(info, tdx.report.teeTcbSvn2, sgxStatus, status, module.status, qe.status);
    }
  }
  const advisoryIds = [...new Set([...level.advisoryIds, ...(module?.level?.advisoryIds ?? []), ...(qe.level?.advisoryIds ?? [])])];
  const revoked = (whose: string): EvidenceError =>
    new EvidenceError('revoked', `Intel has revoked ${whose}${advisoryIds.length > 0 ? ` (${advisoryIds.join(', ')})` : ''}`);
  if (status === 'Revoked') throw revoked(module?.status === 'Revoked' ? `the TDX module's TCB level (${module.id ?? 'tdxModule'})` : `the platform's TCB level of ${level.tcbDate}`);
  if (qe.status === 'NotSupported') {
    throw new EvidenceError('endorsement-mismatch', "the QE's ISVSVN is below every TCB level of Intel's QE identity; Intel's QVL calls this TCB not supported");
  }
  status = converge(status, qe.status);
  if (status === 'Revoked') throw revoked("the QE's TCB level");
  return { status, level, sgxLevel: sgx, ...(module === undefined ? {} : { module }), qe, advisoryIds };
}

/**
 * Intel's statuses onto the project's. OutOfDateConfigurationNeeded and both
 * TDRelaunchAdvised forms are OutOfDate here: the TCB the evidence ran on is behind Intel's
 * latest, whatever else is advised; the exact Intel status stays in the claims' details.
 */
export function toTcbStatus(status: IntelTcbStatus): TcbStatus {
  switch (status) {
    case 'UpToDate':
    case 'SWHardeningNeeded':
    case 'ConfigurationNeeded':
    case 'ConfigurationAndSWHardeningNeeded':
    case 'OutOfDate':
      return status;
    case 'OutOfDateConfigurationNeeded':
    case 'TDRelaunchAdvised':
    case 'TDRelaunchAdvisedConfigurationNeeded':
      return 'OutOfDate';
    case 'Revoked':
      throw new EvidenceError('revoked', 'Intel has revoked this TCB');
  }
}
