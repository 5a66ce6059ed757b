import { createHash, timingSafeEqual } from 'node:crypto';
import type { TeeClass } from '../core/model.js';
import { EvidenceError, type Claims } from '../evidence/plugin.js';

/**
 * How evidence binds the session nonce and the instance key (docs/attestation.md):
 * the TEE's user-data field must hold a hash of nonce ‖ DER SPKI of the instance key.
 * Freshness comes from the nonce, key binding from the SPKI: a token issued for this
 * evidence is bound (`cnf`) to a key only the attested TEE holds.
 *
 * - sim, sev-snp: REPORT_DATA (64 bytes) = SHA-512(nonce ‖ spki).
 * - tpm: the quote's qualifying data = SHA-256(nonce ‖ spki). 32 bytes, because
 *   TPM2B_DATA is only as large as the TPM's largest digest, and many TPMs stop at SHA-256.
 */
export function expectedReportData(tee: TeeClass, nonce: Uint8Array, instanceKeySpki: Uint8Array): Uint8Array {
  const hash = tee === 'tpm' ? 'sha256' : 'sha512';
  return new Uint8Array(createHash(hash).update(nonce).update(instanceKeySpki).digest());
}

/** Throws `EvidenceError('nonce')` unless the claims' report data is exactly the binding. */
export function checkBinding(claims: Claims, nonce: Uint8Array, instanceKeySpki: Uint8Array): void {
  const expected = Buffer.from(expectedReportData(claims.teeClass, nonce, instanceKeySpki));
  const actual = claims.reportData !== undefined && /^(?:[0-9a-f]{2})*$/i.test(claims.reportData) ? Buffer.from(claims.reportData, 'hex') : undefined;
  if (actual === undefined || actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    throw new EvidenceError('nonce', `${claims.teeClass} evidence does not bind this session's nonce and the instance key (report data must be ${claims.teeClass === 'tpm' ? 'SHA-256' : 'SHA-512'}(nonce ‖ instance key SPKI))`);
  }
}
