import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { CovenantError } from '../core/errors.js';

/**
 * The TEE key of the KBS protocol (`runtime-data.tee-pubkey`): the key the attested
 * evidence binds and every released secret is encrypted to. Exactly the shapes
 * kbs-types defines, each with the one JWE algorithm the broker uses for it:
 *
 *   {"kty":"EC","crv":"P-256"|"P-384","alg":"ECDH-ES+A256KW","x","y"}
 *   {"kty":"RSA","alg":"RSA-OAEP-256","n","e"}            (2048–8192 bits)
 *
 * No other members: the runtime data is hashed as posted, so a member the broker
 * ignored would still change the hash, and one it honoured (`use`, `key_ops`) could
 * change its meaning.
 */
export type KeyWrapAlg = 'ECDH-ES+A256KW' | 'RSA-OAEP-256';

export interface TeeKey {
  /** As posted (validated): what the runtime data hashes. */
  readonly jwk: Readonly<Record<string, string>>;
  readonly alg: KeyWrapAlg;
  readonly key: KeyObject;
  /** DER SubjectPublicKeyInfo: how the verifier names an instance key. */
  readonly spki: Uint8Array;
}

const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 8192;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const EC_COORDINATE_LENGTH: Readonly<Record<string, number>> = { 'P-256': 43, 'P-384': 64 };

function invalid(message: string): CovenantError {
  return new CovenantError('bad-request', `tee-pubkey: ${message}`, { issues: [{ field: 'runtime-data.tee-pubkey', message }] });
}

function members(value: unknown, expected: readonly string[]): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('must be a JWK object');
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  const unknown = keys.filter((key) => !expected.includes(key));
  if (unknown.length > 0) throw invalid(`unexpected member(s) ${unknown.map((k) => JSON.stringify(k.slice(0, 32))).join(', ')} for kty ${String(record['kty'])}`);
  for (const key of expected) {
    const member = record[key];
    if (typeof member !== 'string' || member.length === 0 || member.length > 2048) throw invalid(`${key} must be a non-empty string`);
  }
  return record as Record<string, string>;
}

/** The algorithm the broker wraps keys with for this public key (a `cnf.jwk` carries no `alg`). */
export function wrapAlgFor(jwk: JsonWebKey): KeyWrapAlg {
  if (jwk.kty === 'EC' && (jwk.crv === 'P-256' || jwk.crv === 'P-384')) return 'ECDH-ES+A256KW';
  if (jwk.kty === 'RSA') return 'RSA-OAEP-256';
  const curve = jwk.crv === undefined ? '' : ` ${String(jwk.crv)}`;
  throw new CovenantError('bad-request', `no secret can be encrypted to a ${String(jwk.kty)}${curve} key: the TEE key must be EC P-256, P-384 or RSA`);
}

export function parseTeeKey(value: unknown): TeeKey {
  const kty = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)['kty'] : undefined;
  let jwk: Record<string, string>;
  if (kty === 'EC') {
    jwk = members(value, ['kty', 'crv', 'alg', 'x', 'y']);
    const length = EC_COORDINATE_LENGTH[jwk['crv']!];
    if (length === undefined) throw invalid(`crv ${JSON.stringify(jwk['crv'])} is not accepted (P-256 or P-384)`);
    if (jwk['alg'] !== 'ECDH-ES+A256KW') throw invalid(`alg must be ECDH-ES+A256KW for an EC key, got ${JSON.stringify(jwk['alg'])}`);
    for (const coordinate of ['x', 'y']) {
      if (!BASE64URL.test(jwk[coordinate]!) || jwk[coordinate]!.length !== length) throw invalid(`${coordinate} must be ${length} base64url characters for ${jwk['crv']}`);
    }
  } else if (kty === 'RSA') {
    jwk = members(value, ['kty', 'alg', 'n', 'e']);
    if (jwk['alg'] !== 'RSA-OAEP-256') throw invalid(`alg must be RSA-OAEP-256 for an RSA key, got ${JSON.stringify(jwk['alg'])}`);
    if (!BASE64URL.test(jwk['n']!) || !BASE64URL.test(jwk['e']!) || jwk['e']!.length > 8) throw invalid('n and e must be base64url');
  } else {
    throw invalid(`kty must be EC or RSA, got ${JSON.stringify(kty)}`);
  }
  let key: KeyObject;
  try {
    // Node skips characters outside the alphabet; the patterns above refused them first.
    key = createPublicKey({ key: jwk.kty === 'EC' ? { kty: 'EC', crv: jwk['crv'], x: jwk['x'], y: jwk['y'] } : { kty: 'RSA', n: jwk['n'], e: jwk['e'] }, format: 'jwk' });
  } catch (error) {
    throw invalid(`not a valid public key (${(error as Error).message})`);
  }
  if (kty === 'RSA') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) throw invalid(`RSA keys must have ${MIN_RSA_BITS} to ${MAX_RSA_BITS} bits, got ${bits}`);
  }
  return { jwk, alg: jwk['alg'] as KeyWrapAlg, key, spki: new Uint8Array(key.export({ type: 'spki', format: 'der' })) };
}
