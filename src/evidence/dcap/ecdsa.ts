import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { LruCache } from '../../core/lru.js';

/**
 * ECDSA P-256 / SHA-256 as DCAP writes it: public keys as raw x‖y (64 bytes) and
 * signatures as raw r‖s (64 bytes, IEEE P1363), in the quote and in PCS collateral alike.
 */

const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

// An attestation key lives as long as its platform's QE; parsing it once per platform, not
// once per quote, keeps a verification's cost at its two signature checks.
const keys = new LruCache<string, KeyObject | null>(1_000);

/** The P-256 public key with coordinates x‖y, or undefined when they are not a point on the curve. */
export function p256FromRaw(xy: Uint8Array): KeyObject | undefined {
  if (xy.length !== 64) return undefined;
  const id = Buffer.from(xy).toString('hex');
  const known = keys.get(id);
  if (known !== undefined) return known ?? undefined;
  let key: KeyObject | null;
  try {
    key = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: b64url(xy.subarray(0, 32)), y: b64url(xy.subarray(32)) }, format: 'jwk' });
  } catch {
    key = null;
  }
  keys.set(id, key);
  return key ?? undefined;
}

/** Whether `signature` (r‖s) is a valid ECDSA P-256/SHA-256 signature of `data` by `key`. */
export function verifyP256(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}
