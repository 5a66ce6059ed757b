import { createHash, timingSafeEqual } from 'node:crypto';
import type { TeeClass } from '../core/model.js';
import { EvidenceError, type Claims } from '../evidence/plugin.js';

/**
 * How evidence binds the session nonce and the instance key (docs/attestation.md):
 * the TEE's user-data field must hold a hash of nonce ‖ DER SPKI of the instance key.
 * Freshness comes from the nonce, key binding from the SPKI: a token issued for this
 * evidence is bound (`cnf`) to a key only the attested TEE holds.
 *
 * - 64-byte fields (sim and SEV-SNP REPORT_DATA, SGX and TDX REPORTDATA, a Nitro
 *   document's `user_data`): SHA-512(nonce ‖ spki).
 * - 32-byte fields: SHA-256(nonce ‖ spki) — a TPM quote's qualifying data (TPM2B_DATA is
 *   only as large as the TPM's largest digest, and many TPMs stop at SHA-256), the vTPM
 *   quote of an Azure confidential VM, and an NVIDIA GPU's SPDM request nonce.
 */
const SHORT: ReadonlySet<TeeClass> = new Set(['tpm', 'azure-snp-vtpm', 'nvidia-gpu']);

/** Plugins that compare the binding with the evidence's own nonce field themselves. */
export const CHECKS_OWN_NONCE: ReadonlySet<TeeClass> = new Set(['tpm', 'azure-snp-vtpm', 'nvidia-gpu']);

export function expectedReportData(tee: TeeClass, nonce: Uint8Array, instanceKeySpki: Uint8Array): Uint8Array {
  return new Uint8Array(createHash(SHORT.has(tee) ? 'sha256' : 'sha512').update(nonce).update(instanceKeySpki).digest());
}

/** Throws `EvidenceError('nonce')` unless the claims' report data is exactly the binding. */
export function checkBinding(claims: Claims, nonce: Uint8Array, instanceKeySpki: Uint8Array): void {
  const expected = Buffer.from(expectedReportData(claims.teeClass, nonce, instanceKeySpki));
  const actual = claims.reportData !== undefined && /^(?:[0-9a-f]{2})*$/i.test(claims.reportData) ? Buffer.from(claims.reportData, 'hex') : undefined;
  if (actual === undefined || actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new EvidenceError('nonce', `${claims.teeClass} evidence does not bind this session's nonce and the instance key (report data must be ${SHORT.has(claims.teeClass) ? 'SHA-256' : 'SHA-512'}(nonce ‖ instance key SPKI))`);
  }
}
