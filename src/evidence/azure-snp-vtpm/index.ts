import { createHash } from 'node:crypto';
import { CovenantError } from '../../core/errors.js';
import type { Digest } from '../../core/model.js';
import { EvidenceError, type Claims, type EvidencePlugin, type VerifyContext } from '../plugin.js';
import { sevSnpPlugin } from '../sev-snp/index.js';
import { parseReport } from '../sev-snp/report.js';
import { verifyQuote, type PcrValues, type VerifiedQuote } from '../tpm/quote.js';
import { pcrConfig, quoteDetails } from '../tpm/quote-claims.js';
import { TPM_ALG, type TpmSignature } from '../tpm/structures.js';
import { checkParavisorVmpl, checkRuntimeDataBinding } from './binding.js';
import { AZURE_SNP_VTPM_MEDIA_TYPE, parseAzureEvidence, type AzureQuote } from './evidence.js';
import { parseHclReport, type HclReport } from './hcl.js';
import { parseRuntimeData, type RuntimeData } from './runtime-data.js';

export { AZURE_SNP_VTPM_MEDIA_TYPE, encodeAzureEvidence, parseAzureEvidence, MAX_AZURE_EVIDENCE_BYTES, PCR_COUNT } from './evidence.js';
export type { AzureEvidence, AzureQuote } from './evidence.js';
export { parseHclReport, SNP_REPORT_OFFSET, RUNTIME_DATA_OFFSET } from './hcl.js';
export type { HclReport } from './hcl.js';
export { parseRuntimeData, rsaThumbprint } from './runtime-data.js';
export type { RuntimeData } from './runtime-data.js';
export { checkParavisorVmpl, checkRuntimeDataBinding } from './binding.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The vTPM signs quotes with its RSA AK, RSASSA-PKCS1-v1_5 over SHA-256; the evidence carries the bare signature. */
function quoteSignature(signature: Uint8Array): TpmSignature {
  return { scheme: 'rsassa', hash: TPM_ALG.SHA256, signature };
}

function pcrValues(quote: AzureQuote): PcrValues {
  return new Map([['sha256', new Map(quote.pcrs.map((value, index) => [index, value]))]]);
}

function claimsOf(snp: Claims, hcl: HclReport, runtime: RuntimeData, quote: VerifiedQuote): Claims {
  const { attest } = quote;
  const config: Record<string, Digest> = { ...snp.config, ...pcrConfig(quote) };
  return {
    teeClass: 'azure-snp-vtpm',
    // The launch measurement (SHA-384) of the paravisor's image, then the PCR composite the AK signed.
    measurements: [...snp.measurements, { alg: quote.digestAlg, hex: hex(attest.pcrDigest) }],
    ...(snp.signer === undefined ? {} : { signer: snp.signer }),
    ...(snp.product === undefined ? {} : { product: snp.product }),
    ...(snp.securityVersion === undefined ? {} : { securityVersion: snp.securityVersion }),
    debug: snp.debug,
    ...(snp.tcbStatus === undefined ? {} : { tcbStatus: snp.tcbStatus }),
    ...(snp.tcb === undefined ? {} : { tcb: snp.tcb }),
    config,
    // The quote's qualifying data is where the nonce lives; the SNP REPORT_DATA only binds the runtime data.
    reportData: hex(attest.extraData),
    details: {
      vmConfiguration: runtime.vmConfiguration,
      ...(runtime.userData === undefined ? {} : { userData: runtime.userData }),
      ak: { kid: 'HCLAkPub', jwkThumbprint: runtime.akThumbprint, modulusBits: runtime.ak.asymmetricKeyDetails?.modulusLength ?? null },
      ...(runtime.ekThumbprint === undefined ? {} : { ekJwkThumbprint: runtime.ekThumbprint }),
      runtimeDataSha256: createHash('sha256').update(hcl.runtimeData).digest('hex'),
      hcl: { headerVersion: hcl.headerVersion, requestType: hcl.requestType, status: hcl.status, igvmVersion: hcl.igvmVersion, reportType: 'snp', runtimeDataHash: 'sha256' },
      quote: quoteDetails(quote, 'rsassa'),
      snp: { ...snp.details, reportData: snp.reportData ?? null },
    },
  };
}

/**
 * Verifies Azure CVM evidence without the plugin's catch-all, so fuzzing sees any
 * non-EvidenceError escape instead of having it relabelled.
 */
export async function verifyAzureEvidence(evidence: Uint8Array, context: VerifyContext): Promise<Claims> {
  if (!(context.now instanceof Date) || Number.isNaN(context.now.getTime())) {
    throw new CovenantError('bad-request', 'VerifyContext.now must be a valid Date');
  }
  const parsed = parseAzureEvidence(evidence);
  const hcl = parseHclReport(parsed.hclReport);
  const report = parseReport(hcl.snpReport);
  // The SEV-SNP plugin checks the report and VCEK ← ASK ← ARK, with its chain cache.
  const snp = await sevSnpPlugin.verify(hcl.snpReport, {
    now: context.now,
    ...(context.trustAnchors === undefined ? {} : { trustAnchors: context.trustAnchors }),
    collateral: [parsed.vcek, ...(context.collateral ?? [])],
  });
  checkParavisorVmpl(report.vmpl);
  checkRuntimeDataBinding(report.reportData, hcl.runtimeData);
  const runtime = parseRuntimeData(hcl.runtimeData);
  const quote = verifyQuote({
    attest: parsed.quote.message,
    signature: quoteSignature(parsed.quote.signature),
    ak: { key: runtime.ak },
    pcrs: pcrValues(parsed.quote),
    ...(context.expectedNonce === undefined ? {} : { expectedNonce: context.expectedNonce }),
  });
  return claimsOf(snp, hcl, runtime, quote);
}

/**
 * Azure confidential VMs on SEV-SNP (teeClass 'azure-snp-vtpm'): the paravisor's SNP report
 * vouches for the vTPM attestation key, which signs a TPM 2.0 quote of the PCRs.
 *
 * - evidence: Trustee's version-1 JSON document (evidence.ts), carrying the VCEK.
 * - collateral: more certificates for the SNP chain (an ASK), recognised by content.
 * - trustAnchors: AMD roots as for the sev-snp plugin; absent, the shipped AMD roots.
 * - expectedNonce: the quote's qualifying data, compared when given.
 */
export const azureSnpVtpmPlugin: EvidencePlugin = {
  teeClass: 'azure-snp-vtpm',
  mediaTypes: [AZURE_SNP_VTPM_MEDIA_TYPE],
  async verify(evidence: Uint8Array, context: VerifyContext): Promise<Claims> {
    try {
      return await verifyAzureEvidence(evidence, context);
    } catch (error) {
      if (error instanceof CovenantError) throw error;
      // The contract promises typed refusals only; an untyped escape is a bug we still contain.
      throw new EvidenceError('malformed', 'Azure evidence could not be processed', { cause: error });
    }
  },
};
