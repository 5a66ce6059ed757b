import type { X509Certificate } from 'node:crypto';
import { EvidenceError, type Claims, type EvidencePlugin, type VerifyContext } from '../plugin.js';
import { parseTpmEvidence, TPM_EVIDENCE_MEDIA_TYPE } from './evidence.js';
import { verifyQuote } from './quote.js';
import { pcrConfig, quoteDetails } from './quote-claims.js';
import { parseSignature } from './structures.js';
import { trustAk } from './trust.js';

export { encodeTpmEvidence, parseTpmEvidence, TPM_EVIDENCE_MEDIA_TYPE, MAX_TPM_EVIDENCE_BYTES } from './evidence.js';
export type { TpmEvidence } from './evidence.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

function certificateSummary(certificate: X509Certificate): Record<string, unknown> {
  return {
    // The GCE AK certificate has an empty subject; its identity is in the SAN.
    subject: certificate.subject ?? '',
    issuer: certificate.issuer,
    subjectAltName: certificate.subjectAltName ?? null,
    serialNumber: certificate.serialNumber,
    notBefore: new Date(Date.parse(certificate.validFrom)).toISOString(),
    notAfter: new Date(Date.parse(certificate.validTo)).toISOString(),
    fingerprintSha256: certificate.fingerprint256.replaceAll(':', '').toLowerCase(),
  };
}

/**
 * Verifies TPM evidence without the plugin's catch-all, so fuzzing sees any
 * non-EvidenceError escape instead of having it relabelled.
 */
export async function verifyTpmEvidence(evidence: Uint8Array, context: VerifyContext): Promise<Claims> {
  const parsed = parseTpmEvidence(evidence);
  const signature = parseSignature(parsed.signature);
  const ak = trustAk(parsed, context);
  const quote = verifyQuote({
    attest: parsed.quote,
    signature,
    ak: ak.public === undefined ? { key: ak.key } : { key: ak.key, public: ak.public },
    pcrs: parsed.pcrs,
    ...(context.expectedNonce === undefined ? {} : { expectedNonce: context.expectedNonce }),
  });
  const { attest } = quote;

  const config = pcrConfig(quote);

  return {
    teeClass: 'tpm',
    measurements: [{ alg: quote.digestAlg, hex: hex(attest.pcrDigest) }],
    debug: false,
    config,
    reportData: hex(attest.extraData),
    details: {
      ...quoteDetails(quote, signature.scheme),
      ak: {
        trust: ak.via,
        keyType: ak.key.asymmetricKeyType ?? 'unknown',
        ...(ak.publicSha256 === undefined ? {} : { tpmtPublicSha256: ak.publicSha256 }),
        ...(ak.certificate === undefined ? {} : { certificate: certificateSummary(ak.certificate) }),
        ...(ak.path === undefined ? {} : { chainLength: ak.path.length }),
      },
    },
  };
}

/**
 * TPM 2.0 quotes (teeClass 'tpm'). Evidence is the JSON document described in
 * evidence.ts. Trust anchors: X.509 CA certificates for AK certificates, or SHA-256
 * pins of an AK's TPMT_PUBLIC (see trust.ts). There are no shipped defaults: TPM
 * vendors and clouds each run their own AK CAs, so the caller must choose.
 */
export const tpmPlugin: EvidencePlugin = {
  teeClass: 'tpm',
  mediaTypes: [TPM_EVIDENCE_MEDIA_TYPE],
  async verify(evidence: Uint8Array, context: VerifyContext): Promise<Claims> {
    try {
      return await verifyTpmEvidence(evidence, context);
    } catch (error) {
      if (error instanceof EvidenceError) throw error;
      // The contract promises typed refusals only; an untyped escape is a bug we still contain.
      throw new EvidenceError('malformed', 'TPM evidence could not be processed', { cause: error });
    }
  },
};
