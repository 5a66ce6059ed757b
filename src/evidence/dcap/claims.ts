import type { Digest } from '../../core/model.js';
import type { Claims } from '../plugin.js';
import { enclaveDebug, type EnclaveReport } from './enclave-report.js';
import type { Quote } from './quote.js';
import { isAllZero, toHex } from './reader.js';
import { tdDebug, type TdReport } from './td-report.js';
import { toTcbStatus, type TcbEvaluation } from './tcb.js';
import { validUntil, type TrustedPlatform } from './trust.js';

/** Normalised claims of a verified quote: SGX enclave or TD, with what DCAP adds about the platform. */

const pad2 = (i: number): string => String(i).padStart(2, '0');

function tcbClaim(trusted: TrustedPlatform, teeTcbSvn?: Uint8Array): Record<string, number> {
  const tcb: Record<string, number> = {};
  trusted.pckExtensions.tcb.components.forEach((svn, i) => (tcb[`sgxtcbcomp${pad2(i + 1)}`] = svn));
  tcb.pcesvn = trusted.pckExtensions.tcb.pceSvn;
  teeTcbSvn?.forEach((svn, i) => (tcb[`tdxtcbcomp${pad2(i + 1)}`] = svn));
  return tcb;
}

interface PlatformSummary {
  readonly tcbEvaluationDataNumber: number;
  readonly fmspc: string;
  readonly pceId: string;
  readonly sgxType: number;
  readonly pckCpuSvn: string;
  readonly platformConfiguration?: Readonly<Record<string, boolean | undefined>>;
  readonly pck: Readonly<Record<string, string | null>>;
  readonly collateral: Readonly<Record<string, string | null>>;
}

// What a cached platform contributes to every claim set is computed once per platform.
const summaries = new WeakMap<TrustedPlatform, PlatformSummary>();

function summaryOf(trusted: TrustedPlatform): PlatformSummary {
  const known = summaries.get(trusted);
  if (known !== undefined) return known;
  const ext = trusted.pckExtensions;
  const { tcbInfo, qeIdentity } = trusted;
  const summary: PlatformSummary = {
    tcbEvaluationDataNumber: tcbInfo.tcbEvaluationDataNumber,
    fmspc: toHex(ext.fmspc),
    pceId: toHex(ext.pceId),
    sgxType: ext.sgxType,
    pckCpuSvn: toHex(ext.tcb.cpuSvn),
    ...(ext.configuration === undefined ? {} : { platformConfiguration: ext.configuration }),
    pck: {
      subject: trusted.pck.subject,
      issuer: trusted.pckPath[1]?.subject ?? null,
      serial: trusted.pck.serial,
      notAfter: trusted.pck.notAfter.toISOString(),
    },
    collateral: {
      tcbInfoIssueDate: tcbInfo.issueDate.toISOString(),
      tcbInfoNextUpdate: tcbInfo.nextUpdate.toISOString(),
      qeIdentityIssueDate: qeIdentity.issueDate.toISOString(),
      qeIdentityNextUpdate: qeIdentity.nextUpdate.toISOString(),
      validUntil: validUntil(trusted)?.toISOString() ?? null,
    },
  };
  summaries.set(trusted, summary);
  return summary;
}

function platformDetails(quote: Quote, trusted: TrustedPlatform, evaluation: TcbEvaluation): Record<string, unknown> {
  const summary = summaryOf(trusted);
  // Fresh nested objects: callers own the claims they get and may change them.
  return {
    quoteVersion: quote.header.version,
    ...(quote.bodyType === undefined ? {} : { bodyType: quote.bodyType }),
    qeVendorId: toHex(quote.header.qeVendorId),
    userData: toHex(quote.header.userData),
    intelTcbStatus: evaluation.status,
    advisoryIds: [...evaluation.advisoryIds],
    tcbDate: evaluation.level.tcbDate,
    tcbEvaluationDataNumber: summary.tcbEvaluationDataNumber,
    fmspc: summary.fmspc,
    pceId: summary.pceId,
    sgxType: summary.sgxType,
    pckCpuSvn: summary.pckCpuSvn,
    ...(summary.platformConfiguration === undefined ? {} : { platformConfiguration: { ...summary.platformConfiguration } }),
    pck: { ...summary.pck },
    qeIdentity: {
      id: trusted.qeIdentity.id,
      status: evaluation.qe.status,
      isvSvn: quote.qeReport.isvSvn,
      mrSigner: toHex(quote.qeReport.mrSigner),
      mrEnclave: toHex(quote.qeReport.mrEnclave),
      ...(evaluation.qe.level === undefined ? {} : { tcbDate: evaluation.qe.level.tcbDate, advisoryIds: [...evaluation.qe.level.advisoryIds] }),
    },
    collateral: { ...summary.collateral },
  };
}

export function sgxClaims(quote: Quote, report: EnclaveReport, trusted: TrustedPlatform, evaluation: TcbEvaluation): Claims {
  const config: Record<string, Digest> = {};
  // CONFIGID is 64 bytes the enclave's loader chose (KSS); zero means none, so no claim.
  if (!isAllZero(report.configId)) config.configId = { alg: 'sha512', hex: toHex(report.configId) };
  return {
    teeClass: 'sgx',
    measurements: [{ alg: 'sha256', hex: toHex(report.mrEnclave) }],
    signer: toHex(report.mrSigner),
    product: String(report.isvProdId),
    securityVersion: report.isvSvn,
    debug: enclaveDebug(report),
    tcbStatus: toTcbStatus(evaluation.status),
    tcb: tcbClaim(trusted),
    config,
    reportData: toHex(report.reportData),
    details: {
      ...platformDetails(quote, trusted, evaluation),
      attributes: toHex(report.attributes),
      miscselect: toHex(report.miscSelect),
      cpusvn: toHex(report.cpuSvn),
      configSvn: report.configSvn,
      isvExtProdId: toHex(report.isvExtProdId),
      isvFamilyId: toHex(report.isvFamilyId),
    },
  };
}

export function tdxClaims(quote: Quote, report: TdReport, trusted: TrustedPlatform, evaluation: TcbEvaluation): Claims {
  const config: Record<string, Digest> = {};
  report.rtmrs.forEach((rtmr, i) => (config[`rtmr${i}`] = { alg: 'sha384', hex: toHex(rtmr) }));
  // Zero means the host set nothing there, so there is nothing to claim.
  if (!isAllZero(report.mrConfigId)) config.mrConfigId = { alg: 'sha384', hex: toHex(report.mrConfigId) };
  if (!isAllZero(report.mrOwner)) config.mrOwner = { alg: 'sha384', hex: toHex(report.mrOwner) };
  if (!isAllZero(report.mrOwnerConfig)) config.mrOwnerConfig = { alg: 'sha384', hex: toHex(report.mrOwnerConfig) };
  const module = evaluation.module;
  return {
    teeClass: 'tdx',
    measurements: [{ alg: 'sha384', hex: toHex(report.mrTd) }],
    debug: tdDebug(report),
    tcbStatus: toTcbStatus(evaluation.status),
    tcb: tcbClaim(trusted, report.teeTcbSvn),
    config,
    reportData: toHex(report.reportData),
    details: {
      ...platformDetails(quote, trusted, evaluation),
      mrSeam: toHex(report.mrSeam),
      mrSignerSeam: toHex(report.mrSignerSeam),
      seamAttributes: toHex(report.seamAttributes),
      tdAttributes: toHex(report.tdAttributes),
      xfam: toHex(report.xfam),
      teeTcbSvn: toHex(report.teeTcbSvn),
      ...(report.teeTcbSvn2 === undefined ? {} : { teeTcbSvn2: toHex(report.teeTcbSvn2) }),
      ...(report.mrServiceTd === undefined ? {} : { mrServiceTd: toHex(report.mrServiceTd) }),
      tdxModule: {
        id: module?.id ?? null,
        status: module?.status ?? null,
        ...(module?.level === undefined ? {} : { tcbDate: module.level.tcbDate, advisoryIds: [...module.level.advisoryIds] }),
      },
    },
  };
}
