import { sign, verify } from 'node:crypto';
import { CovenantError } from '../core/errors.js';
import type { Member } from '../core/model.js';
import { parseMemberPublicKey, type MemberPrivateKey } from './member-key.js';

/**
 * Signatures over a proposal decision (`decisionMessage`), in the forms hardware and
 * browsers produce, so a key held in an HSM or a WebCrypto key can approve:
 * - Ed25519: the 64-byte signature (RFC 8032), what WebCrypto and PKCS#11 CKM_EDDSA give;
 * - ECDSA P-256 with SHA-256: r‖s, 64 bytes (IEEE P1363), what WebCrypto's ECDSA and
 *   PKCS#11 CKM_ECDSA_SHA256 give — or DER, what OpenSSL gives.
 */
export const MAX_SIGNATURE_BYTES = 128;

export function signDecision(key: MemberPrivateKey, message: Uint8Array): Uint8Array {
  if (key.alg === 'ed25519') return new Uint8Array(sign(null, message, key.key));
  return new Uint8Array(sign('sha256', message, { key: key.key, dsaEncoding: 'ieee-p1363' }));
}

/** Whether `signature` over `message` verifies with the member's registered key. */
export function decisionSignatureValid(member: Member, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length === 0 || signature.length > MAX_SIGNATURE_BYTES) return false;
  const { key, alg } = parseMemberPublicKey(member.publicKey);
  try {
    if (alg === 'ed25519') return signature.length === 64 && verify(null, message, key, signature);
    return verify('sha256', message, { key, dsaEncoding: signature.length === 64 ? 'ieee-p1363' : 'der' }, signature);
  } catch {
    return false;
  }
}

/** Decodes a signature given as base64 or base64url text. */
export function decodeSignature(text: string): Uint8Array {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw new CovenantError('validation-failed', 'signature: must be base64', { issues: [{ field: 'signature', message: 'must be base64' }] });
  const bytes = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (bytes.length === 0 || bytes.length > MAX_SIGNATURE_BYTES) throw new CovenantError('validation-failed', `signature: must decode to 1 to ${MAX_SIGNATURE_BYTES} bytes`, { issues: [{ field: 'signature', message: 'wrong length' }] });
  return new Uint8Array(bytes);
}
