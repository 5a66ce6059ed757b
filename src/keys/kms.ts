import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { CovenantError } from '../core/errors.js';

/**
 * The one integration point for a KMS or HSM: envelope encryption's key-wrapping half.
 * The broker encrypts each secret version under a fresh 256-bit data key and asks the
 * KMS only to wrap and unwrap that data key, binding a context it must be given again
 * (AWS KMS's encryption context, Vault transit's associated data, PKCS#11 AES-GCM's
 * AAD). Secret values never travel to the KMS, and a KMS that keeps its key in hardware
 * never lets the broker see it.
 *
 * Implementations must:
 * - fail (throw) on any mismatch of key id, wrapped bytes or context — never return
 *   other bytes;
 * - keep every key id they ever reported unwrappable for as long as versions wrapped
 *   under it exist (rotating the KEK means a new `keyId` for new versions, with the old
 *   key kept for unwrapping);
 * - not log the data key.
 */
export interface KeyEncryptionService {
  /** The key-encryption key new data keys are wrapped under; recorded with every version. */
  readonly keyId: string;
  wrapKey(dataKey: Uint8Array, context: Uint8Array): Promise<Uint8Array>;
  unwrapKey(keyId: string, wrapped: Uint8Array, context: Uint8Array): Promise<Uint8Array>;
}

export const KEK_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** AES-256-GCM, `iv ‖ ciphertext ‖ tag`: the primitive both the file KMS and sealing use. */
export function gcmSeal(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Uint8Array {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
  return new Uint8Array(Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
}

/** Undoes `gcmSeal`; returns undefined when the bytes, key or AAD do not match. */
export function gcmOpen(key: Uint8Array, sealed: Uint8Array, aad: Uint8Array): Uint8Array | undefined {
  if (sealed.length < IV_BYTES + TAG_BYTES) return undefined;
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES)).setAAD(aad);
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    return new Uint8Array(Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]));
  } catch {
    return undefined;
  }
}

/**
 * The default KMS: one AES-256 key-encryption key in `keys/<tenant>/kek.key` of the
 * data directory (created by init, mode 0600, shared by replicas like the other tenant
 * keys). Its key id is `file:` and the first 16 hex digits of SHA-256 over a label and
 * the key; the tenant's ledger records it (src/app/key-ids.ts), so a replica with a
 * different file refuses to start, and the check at unwrap remains for values wrapped
 * under a key this server does not hold.
 */
export class FileKms implements KeyEncryptionService {
  readonly keyId: string;
  readonly #kek: Uint8Array;

  constructor(kek: Uint8Array) {
    if (kek.length !== KEK_BYTES) throw new CovenantError('internal', `the key-encryption key must be ${KEK_BYTES} bytes`);
    this.#kek = kek;
    this.keyId = `file:${createHash('sha256').update('covenant kek id v1\n').update(kek).digest('hex').slice(0, 16)}`;
  }

  async wrapKey(dataKey: Uint8Array, context: Uint8Array): Promise<Uint8Array> {
    return gcmSeal(this.#kek, dataKey, context);
  }

  async unwrapKey(keyId: string, wrapped: Uint8Array, context: Uint8Array): Promise<Uint8Array> {
    if (keyId !== this.keyId) throw new CovenantError('internal', `secret was wrapped under ${keyId}, but this server holds ${this.keyId} (keys/<tenant>/kek.key differs)`);
    const key = gcmOpen(this.#kek, wrapped, context);
    if (key === undefined) throw new CovenantError('internal', `a data key wrapped under ${keyId} does not unwrap: the stored secret was altered`);
    return key;
  }
}
