/**
 * Member signing keys. Members authenticate every mutating admin request with
 * their own key (see signed-request.ts); Covenant only ever stores the public
 * half, as base64 DER SubjectPublicKeyInfo.
 *
 * Only two key kinds are accepted, matching the RFC 9421 algorithms we speak:
 * Ed25519 (`ed25519`) and ECDSA on P-256 (`ecdsa-p256-sha256`). Everything
 * else (RSA, other curves, X25519, explicit-parameter EC keys…) is refused so
 * that a key's algorithm can always be derived from the key itself.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';

import { CovenantError } from '../core/errors.js';
import type { MemberAlgorithm } from '../core/model.js';

export type MemberKeyAlg = MemberAlgorithm;

export const MEMBER_KEY_ALGS: readonly MemberKeyAlg[] = ['ed25519', 'ecdsa-p256-sha256'];

export interface GeneratedMemberKey {
  /** PKCS#8 PEM. Secret: hand it to the member, never log or store it. */
  readonly privateKeyPem: string;
  /** base64 DER SubjectPublicKeyInfo, the form stored on the member record. */
  readonly publicKey: string;
  readonly alg: MemberKeyAlg;
}

export interface MemberPublicKey {
  readonly alg: MemberKeyAlg;
  /** Canonical base64 DER SPKI (uncompressed EC point), so equal keys compare equal as strings. */
  readonly spki: string;
  readonly key: KeyObject;
}

export interface MemberPrivateKey {
  readonly alg: MemberKeyAlg;
  readonly key: KeyObject;
}

/*
 * Bounds on untrusted key text. A P-256 SPKI is 91 bytes of DER and an
 * Ed25519 one 44; PEM armour and line breaks add little. Anything far larger
 * is not a key we would accept, so refuse it before handing it to OpenSSL.
 */
const MAX_PUBLIC_KEY_TEXT = 4096;
const MAX_PRIVATE_KEY_TEXT = 8192;

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;

function publicKeyError(message: string): CovenantError {
  return new CovenantError('validation-failed', message, { issues: [{ field: 'publicKey', message }] });
}

function privateKeyError(message: string): CovenantError {
  return new CovenantError('validation-failed', message, { issues: [{ field: 'privateKey', message }] });
}

/**
 * Decodes base64 only if it is the one canonical encoding of its bytes, so two
 * different strings can never name the same key (Node's decoder silently
 * skips junk characters and ignores non-zero trailing bits).
 */
function decodeCanonicalBase64(text: string): Buffer | undefined {
  if (text.length === 0 || text.length % 4 !== 0 || !BASE64_RE.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : undefined;
}

/**
 * The algorithm a key object implies, or undefined when it is not a kind
 * members may use. Works for public and private key objects alike.
 */
export function memberAlgOfKey(key: KeyObject): MemberKeyAlg | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
    return 'ecdsa-p256-sha256';
  }
  return undefined;
}

export function generateMemberKey(alg: MemberKeyAlg): GeneratedMemberKey {
  const pair =
    alg === 'ed25519'
      ? generateKeyPairSync('ed25519')
      : alg === 'ecdsa-p256-sha256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : undefined;
  if (pair === undefined) {
    // Reachable from untyped callers (CLI flags, JSON); the type system cannot help there.
    throw new CovenantError('validation-failed', 'unsupported member key algorithm', {
      issues: [{ field: 'alg', message: `must be one of ${MEMBER_KEY_ALGS.join(', ')}` }],
    });
  }
  return {
    privateKeyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKey: pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    alg,
  };
}

/** Extracts the DER of a single `PUBLIC KEY` (SPKI) PEM block, refusing anything else. */
function derFromPublicPem(text: string): Buffer {
  const match = /^-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]+?)\r?\n?-----END ([A-Z0-9 ]+)-----$/.exec(text);
  if (match === null) throw publicKeyError('public key PEM is malformed');
  const [, begin, body, end] = match;
  // A private key or certificate would also yield a public key through
  // createPublicKey; accepting those would invite members to paste secrets.
  if (begin !== 'PUBLIC KEY' || end !== 'PUBLIC KEY') {
    throw publicKeyError('expected a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) block');
  }
  const der = decodeCanonicalBase64((body ?? '').replace(/\r?\n/g, ''));
  if (der === undefined) throw publicKeyError('public key PEM body is not valid base64');
  return der;
}

/**
 * Accepts a member public key as base64 DER SPKI or as a PEM `PUBLIC KEY`
 * block, and returns it with its algorithm and canonical SPKI encoding.
 */
export function parseMemberPublicKey(text: string): MemberPublicKey {
  if (typeof text !== 'string') throw publicKeyError('public key must be a string');
  const trimmed = text.trim();
  if (trimmed.length === 0) throw publicKeyError('public key is empty');
  if (trimmed.length > MAX_PUBLIC_KEY_TEXT) throw publicKeyError('public key is too long');

  let der: Buffer;
  if (trimmed.startsWith('-----BEGIN')) {
    der = derFromPublicPem(trimmed);
  } else {
    const decoded = decodeCanonicalBase64(trimmed);
    if (decoded === undefined) throw publicKeyError('public key is neither PEM nor base64 DER SubjectPublicKeyInfo');
    der = decoded;
  }

  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    throw publicKeyError('public key is not a valid DER SubjectPublicKeyInfo');
  }
  const alg = memberAlgOfKey(key);
  if (alg === undefined) {
    throw publicKeyError('public key must be Ed25519 or ECDSA P-256');
  }
  return { alg, spki: canonicalSpki(key), key };
}

/**
 * OpenSSL re-exports an EC key in the point form it was given, so a P-256 key
 * sent compressed would get a different SPKI (and thumbprint) than the same
 * key sent uncompressed. A round trip through JWK, which has only one form,
 * settles on the uncompressed encoding.
 */
function canonicalSpki(key: KeyObject): string {
  const viaJwk = createPublicKey({ key: key.export({ format: 'jwk' }), format: 'jwk' });
  return viaJwk.export({ type: 'spki', format: 'der' }).toString('base64');
}

/**
 * Loads a member's private key from PEM (PKCS#8, or SEC1 `EC PRIVATE KEY`).
 * Errors never carry the underlying OpenSSL error as cause: it is the one
 * place a secret is being parsed, and nothing of it should reach a log.
 */
export function loadPrivateKey(pem: string): MemberPrivateKey {
  if (typeof pem !== 'string') throw privateKeyError('private key must be a PEM string');
  const trimmed = pem.trim();
  if (trimmed.length === 0) throw privateKeyError('private key is empty');
  if (trimmed.length > MAX_PRIVATE_KEY_TEXT) throw privateKeyError('private key is too long');
  if (!trimmed.startsWith('-----BEGIN')) throw privateKeyError('private key must be PEM');

  let key: KeyObject;
  try {
    key = createPrivateKey({ key: trimmed, format: 'pem' });
  } catch {
    throw privateKeyError('private key PEM could not be parsed (encrypted keys are not supported)');
  }
  const alg = memberAlgOfKey(key);
  if (alg === undefined) throw privateKeyError('private key must be Ed25519 or ECDSA P-256');
  return { alg, key };
}

/** Hex SHA-256 of the DER SPKI: a stable, non-secret handle for a key in logs and ledger entries. */
export function keyThumbprint(spkiB64: string): string {
  const der = typeof spkiB64 === 'string' ? decodeCanonicalBase64(spkiB64.trim()) : undefined;
  if (der === undefined) throw publicKeyError('public key is not canonical base64');
  return createHash('sha256').update(der).digest('hex');
}
