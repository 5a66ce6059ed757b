import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson, sha256Digest } from '../core/canonical.js';
import { CovenantError } from '../core/errors.js';
import { gcmOpen, gcmSeal, type KeyEncryptionService } from './kms.js';

/**
 * A secret value at rest: AES-256-GCM under a fresh data key, the data key wrapped by
 * the KMS, both bound to the tenant and resource (the AAD), as canonical JSON
 *
 *   {"kek": "<key id>", "key": "<b64 wrapped data key>", "v": 1, "value": "<b64 iv‖ciphertext‖tag>"}
 *
 * The ledger records only `sha256:<hex>` of these bytes and the plaintext's length; the
 * bytes themselves are kept beside the ledger (an attachment, by that digest), never in
 * it: a ledger is copied to auditors and kept forever, so a leaked KEK must not open
 * every historic value in every copy, and a value must stay deletable.
 */
export const SEALED_MEDIA_TYPE = 'application/vnd.covenant.sealed-secret+json';

/** Largest value the broker keeps: keys, certificates, small configuration files. */
export const MAX_SECRET_BYTES = 64 * 1024;

export interface SealedValue {
  readonly body: Uint8Array;
  /** `sha256:<hex>` of `body`. */
  readonly digest: string;
  readonly kek: string;
  /** Plaintext length in bytes. */
  readonly size: number;
}

export interface SealingContext {
  readonly tenant: string;
  readonly resource: string;
}

const DATA_KEY_BYTES = 32;

const sealedSchema = z.strictObject({ v: z.literal(1), kek: z.string().min(1).max(256), key: z.base64(), value: z.base64() });

const aadOf = (context: SealingContext): Uint8Array => new TextEncoder().encode(canonicalJson({ resource: context.resource, tenant: context.tenant }));

export async function sealValue(kms: KeyEncryptionService, context: SealingContext, plaintext: Uint8Array): Promise<SealedValue> {
  if (plaintext.length === 0 || plaintext.length > MAX_SECRET_BYTES) {
    throw new CovenantError('validation-failed', `value: must be 1 to ${MAX_SECRET_BYTES} bytes, got ${plaintext.length}`, {
      issues: [{ field: 'value', message: `must be 1 to ${MAX_SECRET_BYTES} bytes` }],
    });
  }
  const aad = aadOf(context);
  const dataKey = randomBytes(DATA_KEY_BYTES);
  try {
    const wrapped = await kms.wrapKey(dataKey, aad);
    const value = gcmSeal(dataKey, plaintext, aad);
    const body = new TextEncoder().encode(
      canonicalJson({ kek: kms.keyId, key: Buffer.from(wrapped).toString('base64'), v: 1, value: Buffer.from(value).toString('base64') }),
    );
    return { body, digest: sha256Digest(body), kek: kms.keyId, size: plaintext.length };
  } finally {
    dataKey.fill(0);
  }
}

/** The plaintext of a sealed value; `internal` if it was altered or moved to another resource. */
export async function unsealValue(kms: KeyEncryptionService, context: SealingContext, body: Uint8Array): Promise<Uint8Array> {
  let parsed: z.infer<typeof sealedSchema>;
  try {
    parsed = sealedSchema.parse(JSON.parse(Buffer.from(body).toString('utf8')));
  } catch (error) {
    throw new CovenantError('internal', `the stored value of ${context.resource} is not a sealed secret`, { cause: error });
  }
  const aad = aadOf(context);
  const dataKey = await kms.unwrapKey(parsed.kek, Buffer.from(parsed.key, 'base64'), aad);
  try {
    const plaintext = gcmOpen(dataKey, Buffer.from(parsed.value, 'base64'), aad);
    if (plaintext === undefined) throw new CovenantError('internal', `the stored value of ${context.resource} does not decrypt: it was altered`);
    return plaintext;
  } finally {
    dataKey.fill(0);
  }
}

const GCM_OVERHEAD = 12 + 16;

/**
 * What a sealed value says about itself — digest, key id, plaintext length — read
 * without any key. A command carries the sealed bytes (never the plaintext, even when it
 * waits in a proposal); this is how it learns what to record.
 */
export function inspectSealed(body: Uint8Array): Omit<SealedValue, 'body'> {
  let parsed: z.infer<typeof sealedSchema>;
  try {
    parsed = sealedSchema.parse(JSON.parse(Buffer.from(body).toString('utf8')));
  } catch {
    throw new CovenantError('validation-failed', 'sealed: not a sealed secret', { issues: [{ field: 'sealed', message: 'not a sealed secret' }] });
  }
  if (canonicalJson(parsed) !== Buffer.from(body).toString('utf8')) {
    throw new CovenantError('validation-failed', 'sealed: not in canonical form', { issues: [{ field: 'sealed', message: 'not in canonical form' }] });
  }
  const size = Buffer.from(parsed.value, 'base64').length - GCM_OVERHEAD;
  if (size < 1 || size > MAX_SECRET_BYTES) throw new CovenantError('validation-failed', `sealed: a value of ${size} bytes is out of bounds`, { issues: [{ field: 'sealed', message: 'value size out of bounds' }] });
  return { digest: sha256Digest(body), kek: parsed.kek, size };
}
