import { timingSafeEqual } from 'node:crypto';
import type { TeeClass } from '../core/model.js';
import { EvidenceError, type Claims, type EvidencePlugin } from '../evidence/plugin.js';
import { expectedReportData } from '../verifier/binding.js';
import { kbsReportData, parseKbsAttestation, REPORT_DATA_BYTES, type KbsAttestation } from './runtime-data.js';

/**
 * KBS evidence through the verifier that already exists. The attestation service
 * checks that evidence binds the session nonce and the instance key as
 * H(nonce ‖ SPKI) (verifier/binding.ts); a KBS attester binds the same two things
 * differently — the hash of its runtime data (runtime-data.ts). This adapter wraps an
 * evidence plugin: it verifies the inner evidence with that plugin, checks that the
 * report data is the hash of the posted runtime data, and only then restates the
 * binding in the verifier's form, computed from the nonce and `tee-pubkey` the runtime
 * data names. The verifier's own check then compares those with the session's nonce and
 * the posted instance key, so a runtime data naming another nonce or key fails exactly
 * as a bad binding does — recorded as a contraindicated verdict — and everything else
 * (single-use sessions, appraisal, the verdict entry, the inventory, the EAR bound to
 * the key) is the verifier's, unchanged.
 *
 * The evidence bytes are the whole KBS `Attestation` message as posted, so the ledger's
 * evidence digest and the retained attachment are of what the attester sent.
 */
export const kbsEvidenceType = (tee: TeeClass): string => `application/vnd.covenant.kbs-attestation+json; tee=${tee}`;

/** How a TEE class's `primary_evidence` object becomes its plugin's evidence bytes. */
export type PrimaryEvidence = (primary: Readonly<Record<string, unknown>>) => Uint8Array;

const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Trustee's SGX and TDX attesters send `{"quote": "<standard base64>"}`, TDX with an
 * optional `cc_eventlog`. The event log is not read: the RTMRs are claims from the quote.
 */
const base64Quote =
  (tee: TeeClass): PrimaryEvidence =>
  (primary) => {
    const quote = primary.quote;
    if (typeof quote !== 'string' || quote.length === 0 || !STANDARD_BASE64.test(quote)) {
      throw new EvidenceError('malformed', `${tee} primary_evidence.quote must be the quote in standard base64`);
    }
    return new Uint8Array(Buffer.from(quote, 'base64'));
  };

/**
 * The TEE classes whose KBS evidence the broker can verify, keyed by Trustee's `tee`
 * names: `sim` evidence is a JSON document (evidence-sim.md), carried as the
 * `primary_evidence` object itself; `sgx` and `tdx` carry a DCAP quote. Classes whose
 * report data is not 64 bytes (tpm) cannot carry the KBS binding at all.
 */
export const KBS_PRIMARY_EVIDENCE: Readonly<Partial<Record<TeeClass, PrimaryEvidence>>> = {
  sim: (primary) => new TextEncoder().encode(JSON.stringify(primary)),
  sgx: base64Quote('sgx'),
  tdx: base64Quote('tdx'),
};

/** The challenge nonce as bytes: one spelling of standard base64, as the broker issues it. */
export function challengeNonceBytes(nonce: string): Uint8Array | undefined {
  if (!STANDARD_BASE64.test(nonce)) return undefined;
  const bytes = Buffer.from(nonce, 'base64');
  return bytes.toString('base64') === nonce && bytes.length > 0 ? new Uint8Array(bytes) : undefined;
}

export const encodeChallengeNonce = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

function parseOwnDocument(evidence: Uint8Array): KbsAttestation {
  try {
    return parseKbsAttestation(evidence);
  } catch (error) {
    throw new EvidenceError('malformed', (error as Error).message, { cause: error });
  }
}

export function kbsEvidencePlugin(inner: EvidencePlugin, toEvidence: PrimaryEvidence): EvidencePlugin {
  const tee = inner.teeClass;
  return {
    teeClass: tee,
    mediaTypes: [kbsEvidenceType(tee)],
    async verify(evidence, context): Promise<Claims> {
      const document = parseOwnDocument(evidence);
      const claims = await inner.verify(toEvidence(document.primaryEvidence), {
        now: context.now,
        ...(context.trustAnchors === undefined ? {} : { trustAnchors: context.trustAnchors }),
        ...(context.collateral === undefined ? {} : { collateral: context.collateral }),
      });
      const actual = claims.reportData !== undefined && /^(?:[0-9a-f]{2})*$/i.test(claims.reportData) ? Buffer.from(claims.reportData, 'hex') : Buffer.alloc(0);
      const bound = actual.length === REPORT_DATA_BYTES && document.runtimeDataForms.some((form) => timingSafeEqual(actual, Buffer.from(kbsReportData(form))));
      if (!bound) {
        throw new EvidenceError('nonce', `${tee} evidence does not bind the KBS runtime data (report data must be SHA-384 of the canonical {"nonce", "tee-pubkey"} followed by 16 zero bytes)`);
      }
      const nonce = challengeNonceBytes(document.nonce);
      if (nonce === undefined) throw new EvidenceError('nonce', 'runtime-data.nonce is not a challenge this broker issued');
      return {
        ...claims,
        reportData: Buffer.from(expectedReportData(tee, nonce, document.teeKey.spki)).toString('hex'),
        details: { ...claims.details, kbsReportData: actual.toString('hex') },
      };
    },
  };
}
