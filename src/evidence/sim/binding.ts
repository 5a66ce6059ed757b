import { createHash, timingSafeEqual } from 'node:crypto';

/** Bytes of SHA-512: the size of the sim report's `reportData` (and of SNP REPORT_DATA). */
export const REPORT_DATA_BYTES = 64;

/**
 * The value a sim report must carry as `reportData` to bind a verifier's nonce to the
 * instance's key: SHA-512(nonce ‖ spki), where `spki` is the DER SubjectPublicKeyInfo of
 * the instance public key — exactly the bytes of
 * `publicKey.export({ type: 'spki', format: 'der' })`, not a raw key, not PEM, not JWK.
 *
 * There is no length prefix: the verifier issued the nonce and knows its length, so the
 * split point between nonce and key is never ambiguous to it. Shared by the attester
 * (`src/sim/tee.ts`) and whoever checks the binding, so both hash the same bytes.
 */
export function bindingFor(nonce: Uint8Array, instancePublicKeySpki: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha512').update(nonce).update(instancePublicKeySpki).digest());
}

/**
 * Whether `reportDataHex` (the claims' `reportData`) binds `nonce` and the key. Compared
 * in constant time: the expected value is not secret, but this keeps the habit uniform.
 */
export function bindingMatches(reportDataHex: string, nonce: Uint8Array, instancePublicKeySpki: Uint8Array): boolean {
  if (!/^[0-9a-fA-F]*$/.test(reportDataHex) || reportDataHex.length !== REPORT_DATA_BYTES * 2) return false;
  const expected = bindingFor(nonce, instancePublicKeySpki);
  return timingSafeEqual(Buffer.from(reportDataHex, 'hex'), expected);
}
