import { CovenantError } from '../../core/errors.js';
import type { Digest } from '../../core/model.js';
import { EvidenceError } from '../plugin.js';
import { checkCrlCurrent } from '../x509/crl.js';
import type { Claims, EvidencePlugin, VerifyContext } from '../plugin.js';
import { checkValidity } from './certificates.js';
import { endorsementsFor } from './chain-cache.js';
import type { ChainedEndorsement } from './chain-cache.js';
import { SIG_ALGO_ECDSA_P384_SHA384, isAllZero, parseReport, policyAllowsDebug, toHex } from './report.js';
import type { SnpReport, TcbVersion } from './report.js';
import { checkEndorsement, verifyReportSignature } from './verify.js';

export { parseReport, decodeTcb, productFromCpuid, policyAllowsDebug, REPORT_SIZE, SUPPORTED_REPORT_VERSIONS } from './report.js';
export type { SnpReport, TcbVersion, TcbLayout, SigningKeyKind, Cpuid, ProductGuess } from './report.js';
export { loadCertificates, readEndorsementExtensions, verifyChain, SNP_OID } from './certificates.js';
export type { AmdCertificate, EndorsementExtensions, VerifiedChain } from './certificates.js';
export { compareTcb, compareChipId, checkEndorsement, verifyReportSignature } from './verify.js';
export { AMD_ROOT_BUNDLES } from './roots.js';

export const SEV_SNP_MEDIA_TYPES = ['application/vnd.amd.sev-snp.report', 'application/vnd.amd.sev-snp.attestation-report'] as const;

function tcbDetails(t: TcbVersion): Record<string, unknown> {
  return { raw: t.raw, bootloader: t.bootloader, tee: t.tee, snp: t.snp, microcode: t.microcode, ...(t.fmc === undefined ? {} : { fmc: t.fmc }) };
}

/**
 * Signer identity, in order of preference: the AUTHOR_KEY_DIGEST (the long-lived key that
 * certifies ID keys, the closest analogue of SGX MRSIGNER), else the ID_KEY_DIGEST (the
 * key that signed the ID block), else none: a guest launched without an ID block has no
 * signer, only a measurement.
 */
function signerOf(report: SnpReport): string | undefined {
  if (!isAllZero(report.authorKeyDigest)) return toHex(report.authorKeyDigest);
  if (!isAllZero(report.idKeyDigest)) return toHex(report.idKeyDigest);
  return undefined;
}

function claimsOf(report: SnpReport, kind: 'vcek' | 'vlek', endorsement: ChainedEndorsement, chipIdChecked: boolean): Claims {
  const { ext } = endorsement;
  const config: Record<string, Digest> = {};
  // HOST_DATA is 32 opaque bytes the host fixes at launch; deployments (Kata, CoCo) put a
  // SHA-256 there, hence the label. All zero means the host set nothing, so no claim.
  if (!isAllZero(report.hostData)) config.host_data = { alg: 'sha256', hex: toHex(report.hostData) };

  const tcb: Record<string, number> = {
    bootloader: report.reportedTcb.bootloader,
    tee: report.reportedTcb.tee,
    snp: report.reportedTcb.snp,
    microcode: report.reportedTcb.microcode,
  };
  if (report.reportedTcb.fmc !== undefined) tcb.fmc = report.reportedTcb.fmc;

  const signer = signerOf(report);
  const details: Record<string, unknown> = {
    version: report.version,
    vmpl: report.vmpl,
    policy: `0x${report.policy.toString(16)}`,
    platformInfo: `0x${report.platformInfo.toString(16)}`,
    flags: `0x${report.flags.toString(16)}`,
    signingKey: kind,
    chipId: toHex(report.chipId),
    chipIdChecked,
    familyId: toHex(report.familyId),
    imageId: toHex(report.imageId),
    hostData: toHex(report.hostData),
    idKeyDigest: toHex(report.idKeyDigest),
    authorKeyDigest: toHex(report.authorKeyDigest),
    reportId: toHex(report.reportId),
    reportIdMa: toHex(report.reportIdMa),
    currentTcb: tcbDetails(report.currentTcb),
    reportedTcb: tcbDetails(report.reportedTcb),
    committedTcb: tcbDetails(report.committedTcb),
    launchTcb: tcbDetails(report.launchTcb),
    currentFirmware: `${report.currentVersion.major}.${report.currentVersion.minor}.${report.currentVersion.build}`,
    committedFirmware: `${report.committedVersion.major}.${report.committedVersion.minor}.${report.committedVersion.build}`,
    tcbLayout: report.tcbLayout,
    ...(report.cpuid === undefined ? {} : { cpuidFamily: report.cpuid.family, cpuidModel: report.cpuid.model, cpuidStepping: report.cpuid.stepping }),
    ...(report.product === undefined ? {} : { cpuidProduct: report.product }),
    ...(report.launchMitVector === undefined ? {} : { launchMitVector: report.launchMitVector, currentMitVector: report.currentMitVector }),
    ...(ext.productName === undefined ? {} : { productName: ext.productName }),
    ...(ext.cspId === undefined ? {} : { cspId: ext.cspId }),
    endorsementIssuer: endorsement.issuerCn ?? null,
    root: endorsement.rootCn ?? null,
    crlsChecked: endorsement.crls.map((crl) => crl.issuerCn ?? null),
  };

  return {
    teeClass: 'sev-snp',
    measurements: [{ alg: 'sha384', hex: toHex(report.measurement) }],
    ...(signer === undefined ? {} : { signer }),
    // FAMILY_ID is the ID block's product identifier, the SNP counterpart of SGX ISVPRODID.
    ...(isAllZero(report.familyId) ? {} : { product: toHex(report.familyId) }),
    securityVersion: report.guestSvn,
    debug: policyAllowsDebug(report.policy),
    tcb,
    config,
    reportData: toHex(report.reportData),
    details,
  };
}

/** A cached refusal, thrown as a fresh error so that no two calls share one. */
function replay(err: EvidenceError): EvidenceError {
  return new EvidenceError(err.reason, err.message, { cause: err.cause });
}

/** Ranks failures by how far a candidate certificate got, to report the most telling one. */
const STAGE: Record<string, number> = { chain: 0, expired: 1, 'endorsement-mismatch': 2, signature: 3, revoked: 4 };

async function verifySevSnp(evidence: Uint8Array, context: VerifyContext): Promise<Claims> {
  if (!(context.now instanceof Date) || Number.isNaN(context.now.getTime())) {
    throw new CovenantError('bad-request', 'VerifyContext.now must be a valid Date');
  }
  const report = parseReport(evidence);
  if (report.signatureAlgo !== SIG_ALGO_ECDSA_P384_SHA384) {
    throw new EvidenceError('unsupported', `SEV-SNP signature algorithm ${report.signatureAlgo} is not ECDSA P-384/SHA-384 (1)`);
  }
  if (report.signingKey === 'none' || report.maskChipKey) {
    throw new EvidenceError('signature', 'SEV-SNP report is unsigned (SIGNING_KEY none or MASK_CHIP_KEY set)');
  }
  const kind = report.signingKey;

  let failure: EvidenceError | undefined;
  for (const endorsement of endorsementsFor(kind, context)) {
    try {
      if ('refusal' in endorsement) throw replay(endorsement.refusal);
      checkValidity(endorsement.validity, context.now);
      for (const crl of endorsement.crls) checkCrlCurrent(crl, context.now, `the CRL of ${crl.issuerCn ?? '(unnamed)'}`);
      // The endorsement is compared before the signature on purpose: a VCEK for another TCB
      // or chip has another key, so the signature would fail too, but 'endorsement-mismatch'
      // names the actual fault (wrong VCEK, or a tampered REPORTED_TCB). Both must pass.
      const { chipIdChecked } = checkEndorsement(report, kind, endorsement.ext);
      if (endorsement.key instanceof EvidenceError) throw replay(endorsement.key);
      verifyReportSignature(evidence, report, endorsement.key);
      return claimsOf(report, kind, endorsement, chipIdChecked);
    } catch (err) {
      if (!(err instanceof EvidenceError)) throw err;
      if (failure === undefined || (STAGE[err.reason] ?? 0) > (STAGE[failure.reason] ?? 0)) failure = err;
    }
  }
  throw failure ?? new EvidenceError('missing-collateral', 'no usable endorsement key');
}

/**
 * AMD SEV-SNP attestation reports.
 *
 * - evidence: the raw 1184-byte ATTESTATION_REPORT.
 * - collateral: the VCEK or VLEK (DER or PEM), optionally with its ASK/ASVK and AMD's CRLs;
 *   recognised by content (P-384 key ⇒ endorsement key). Which key is needed follows the
 *   report's SIGNING_KEY field. A CRL from the chain's ARK or ASK/ASVK must verify with
 *   its issuer's key, be current, and not list the certificate below.
 * - trustAnchors: DER or PEM certificates (PEM may bundle several); the self-signed ones
 *   are the roots (ARKs), the others usable ASK/ASVKs. Absent: AMD's Milan, Genoa and
 *   Turin ARK/ASK/ASVK shipped in `roots.ts`.
 *
 * Verified chains are cached by the exact anchor and collateral bytes (`chain-cache.ts`);
 * validity at `now`, the endorsement comparison and the report signature are checked on
 * every call.
 */
export const sevSnpPlugin: EvidencePlugin = {
  teeClass: 'sev-snp',
  mediaTypes: SEV_SNP_MEDIA_TYPES,
  async verify(evidence, context) {
    try {
      return await verifySevSnp(evidence, context);
    } catch (err) {
      if (err instanceof CovenantError) throw err;
      throw new EvidenceError('malformed', 'SEV-SNP evidence could not be processed', { cause: err });
    }
  },
};
