import { createHash } from 'node:crypto';
import canonicalizeJson from 'canonicalize';

/** RFC 8785 (JCS) canonical JSON text of a JSON-compatible value. */
export function canonicalJson(value: unknown): string {
  const text = canonicalizeJson(value);
  if (text === undefined) throw new TypeError('value has no JSON representation');
  return text;
}

export function sha256(data: string | Uint8Array): Buffer {
  return createHash('sha256').update(data).digest();
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** `sha256:<hex>`: how the ledger names stored bytes (evidence, collateral, anchors, sealed values). */
export function sha256Digest(data: Uint8Array): string {
  return `sha256:${sha256Hex(data)}`;
}

/** What `sha256Digest` writes: to check a digest a client names. */
export const SHA256_DIGEST = /^sha256:[0-9a-f]{64}$/;

/** Content address of a JSON document: hex SHA-256 of its canonical form. */
export function contentDigest(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
