import { CovenantError } from '../../core/errors.js';
import { EvidenceError, type Claims, type EvidencePlugin, type VerifyContext } from '../plugin.js';
import type { TeeKind } from './quote.js';
import { verifyDcapQuote } from './verify.js';

export { verifyDcapQuote } from './verify.js';
export { parseQuote, SUPPORTED_QUOTE_VERSIONS, INTEL_QE_VENDOR_ID, MAX_QUOTE_BYTES, TEE_TYPE_SGX, TEE_TYPE_TDX } from './quote.js';
export type { Quote, QuoteBody, QuoteHeader, TeeKind } from './quote.js';
export type { EnclaveReport } from './enclave-report.js';
export type { TdReport } from './td-report.js';
export { readCollateral } from './collateral.js';
export type { DcapCollateral, SignedDocument } from './collateral.js';
export { parseTcbInfo } from './tcb-info.js';
export type { TcbInfo, TcbLevel, TdxModuleIdentity } from './tcb-info.js';
export { parseQeIdentity, checkQeIdentity } from './qe-identity.js';
export type { QeIdentity, QeVerdict } from './qe-identity.js';
export { evaluateTcb, matchTcbLevels, toTcbStatus } from './tcb.js';
export type { IntelTcbStatus, TcbEvaluation } from './tcb.js';
export { readPckExtensions, SGX_EXTENSION_OID } from './pck.js';
export type { PckExtensions } from './pck.js';
export { trustedPlatforms, trustCacheKey, TRUST_CACHE_CAPACITY } from './cache.js';
export { INTEL_SGX_ROOT_CA_PEM, INTEL_SGX_ROOT_CA_SHA256 } from './roots.js';

export const SGX_MEDIA_TYPES = ['application/vnd.intel.sgx.quote'] as const;
export const TDX_MEDIA_TYPES = ['application/vnd.intel.tdx.quote'] as const;

function contained(tee: TeeKind): (evidence: Uint8Array, context: VerifyContext) => Promise<Claims> {
  return async (evidence, context) => {
    try {
      return await verifyDcapQuote(evidence, context, tee);
    } catch (err) {
      if (err instanceof CovenantError) throw err;
      // The contract promises typed refusals only; an untyped escape is a bug we still contain.
      throw new EvidenceError('malformed', `${tee.toUpperCase()} evidence could not be processed`, { cause: err });
    }
  };
}

/**
 * Intel SGX DCAP quotes (v3; v4 and v5 with an SGX body are read too).
 *
 * - evidence: the raw quote, as `sgx_qe_get_quote` returns it.
 * - collateral: Intel PCS collateral, recognised by content (see collateral.ts): a
 *   dcap-qvl `QuoteCollateralV3` JSON document, or the PCS TCB info and QE identity
 *   responses with the issuer chains and both CRLs.
 * - trustAnchors: DER or PEM certificates; absent: the Intel SGX Root CA (roots.ts).
 * - expectedNonce: if given, REPORTDATA must start with it; otherwise binding is the
 *   caller's, through `reportData`.
 *
 * Verified chains and collateral are cached (cache.ts); the QE report and quote
 * signatures, the QE identity and the TCB level are checked on every call.
 */
export const sgxPlugin: EvidencePlugin = {
  teeClass: 'sgx',
  mediaTypes: SGX_MEDIA_TYPES,
  verify: contained('sgx'),
};

/** Intel TDX DCAP quotes (v4, and v5 with TD 1.0 or TD 1.5 bodies); otherwise as sgxPlugin. */
export const tdxPlugin: EvidencePlugin = {
  teeClass: 'tdx',
  mediaTypes: TDX_MEDIA_TYPES,
  verify: contained('tdx'),
};
