import { LruCache } from '../core/lru.js';
import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { CovenantError } from '../core/errors.js';

/**
 * Keys around attestation result tokens: the tenant's ES256 signing key (`token.pem`)
 * published as a JWKS, and the instance keys the verifier binds into `cnf`.
 */

/** One member of `/.well-known/jwks.json`. */
export interface PublishedJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
  readonly kid: string;
  readonly alg: 'ES256';
  readonly use: 'sig';
}

export interface PublishedJwks {
  readonly keys: PublishedJwk[];
}

/** A signing key and, once a successor took over, when it stopped signing. */
export interface KeyRotation<K = KeyObject> {
  readonly key: K;
  readonly retiredAt?: Date;
}

const MIN_RSA_BITS = 2048;

/** RFC 7638 thumbprint (SHA-256, base64url); the `kid` of every token key. */
export async function thumbprintOf(jwk: JsonWebKey): Promise<string> {
  try {
    return await calculateJwkThumbprint(jwk as Parameters<typeof calculateJwkThumbprint>[0], 'sha256');
  } catch (error) {
    throw new CovenantError('bad-request', `cannot compute the JWK thumbprint: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The public JWK of an instance key: only the members RFC 7638 names for its type,
 * so `cnf.jwk` never carries a `kid`, `alg` or anything the attester slipped in.
 * Refuses private JWKs outright instead of stripping `d`: a caller holding the
 * instance's private key has already made a mistake worth surfacing.
 */
export function instancePublicJwk(jwk: JsonWebKey): JsonWebKey {
  if (typeof jwk !== 'object' || jwk === null) throw new CovenantError('bad-request', 'instance key must be a JWK object');
  if ('d' in jwk) throw new CovenantError('bad-request', 'instance key is a private JWK (has "d"); pass the public key');
  // Fleets re-attest with the same keys: decoding one through OpenSSL is the costly part.
  const text = JSON.stringify(jwk);
  const known = validatedInstanceKeys.get(text);
  if (known !== undefined) return known;
  const validated = Object.freeze(decodeInstanceJwk(jwk));
  validatedInstanceKeys.set(text, validated);
  return validated;
}

const validatedInstanceKeys = new LruCache<string, JsonWebKey>(10_000);

function decodeInstanceJwk(jwk: JsonWebKey): JsonWebKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: jwk, format: 'jwk' });
  } catch (error) {
    throw new CovenantError('bad-request', `instance key is not a valid public JWK: ${(error as Error).message}`, { cause: error });
  }
  return publicJwkOf(key, 'instance key');
}

/** Instance keys arrive from evidence as SubjectPublicKeyInfo DER. */
export function jwkFromSpki(spkiDer: Uint8Array): JsonWebKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  } catch (error) {
    throw new CovenantError('bad-request', `instance key is not a valid SubjectPublicKeyInfo: ${(error as Error).message}`, { cause: error });
  }
  return publicJwkOf(key, 'instance key');
}

function publicJwkOf(key: KeyObject, what: string): JsonWebKey {
  const full = key.export({ format: 'jwk' });
  switch (key.asymmetricKeyType) {
    case 'ec':
      if (full.crv !== 'P-256' && full.crv !== 'P-384') throw new CovenantError('bad-request', `${what}: EC curve ${String(full.crv)} is not accepted (P-256, P-384)`);
      return { kty: 'EC', crv: full.crv, x: full.x, y: full.y };
    case 'ed25519':
      return { kty: 'OKP', crv: 'Ed25519', x: full.x };
    case 'rsa': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS) throw new CovenantError('bad-request', `${what}: RSA modulus of ${bits} bits is below ${MIN_RSA_BITS}`);
      return { kty: 'RSA', n: full.n, e: full.e };
    }
    default:
      throw new CovenantError('bad-request', `${what}: key type ${String(key.asymmetricKeyType)} is not accepted (EC P-256/P-384, Ed25519, RSA)`);
  }
}

/** Public JWK of a token signing key (private or public KeyObject); only P-256 signs tokens. */
export function signingPublicJwk(key: KeyObject): { kty: 'EC'; crv: 'P-256'; x: string; y: string } {
  if (key.type === 'secret') throw new CovenantError('bad-request', 'token signing key must be EC P-256 (ES256), got a secret key');
  // Exporting only the public half means `d` can never reach the JWKS.
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  if (pub.asymmetricKeyType !== 'ec' || jwk.crv !== 'P-256' || jwk.x === undefined || jwk.y === undefined) {
    throw new CovenantError('bad-request', `token signing key must be EC P-256 (ES256), got ${String(pub.asymmetricKeyType)} ${String(jwk.crv ?? '')}`.trim());
  }
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
}

/** The document served at `/.well-known/jwks.json`. */
export async function jwksFromKeys(publicKeys: readonly KeyObject[]): Promise<PublishedJwks> {
  const keys = await Promise.all(
    publicKeys.map(async (key): Promise<PublishedJwk> => {
      const jwk = signingPublicJwk(key);
      return { ...jwk, kid: await thumbprintOf(jwk), alg: 'ES256', use: 'sig' };
    }),
  );
  return { keys };
}

/**
 * Which signing keys the JWKS must still list. A relying party may hold a token
 * signed just before a rotation until that token's `exp`, so a retired key stays
 * published until `retiredAt + maxLifetimeSeconds` (pass the jittered maximum,
 * see `longestLifetimeSeconds`) and is dropped from then on: every token it signed
 * has expired, and keeping it longer only widens what a stolen old key could forge.
 * `retiredAt` must be when the key stopped signing on every replica (`signingHistory`).
 */
export function keysToPublish<K>(rotations: readonly KeyRotation<K>[], now: Date, maxLifetimeSeconds: number): K[] {
  const nowMs = now.getTime();
  return rotations
    .filter((rotation) => rotation.retiredAt === undefined || nowMs < rotation.retiredAt.getTime() + maxLifetimeSeconds * 1000)
    .map((rotation) => rotation.key);
}

/**
 * How long a replica may go on signing with a key a rotation on another replica
 * retired: each reads the tenant's token keys again at most this often (seconds).
 */
export const TOKEN_KEY_REFRESH_SECONDS = 30;

/** A key that became the signing key at `at` (a `token-key.rotated` entry's time). */
export interface KeyTakeover<K> {
  readonly key: K;
  readonly at: Date;
}

/**
 * The whole signing history in order, as `keysToPublish` takes it: keys retired before
 * (offline, while every server was stopped: `settled`), the tenant's first key, then
 * each key a rotation made current. A key stops signing on the replica that rotated at
 * once, but on another only at its next read, so its `retiredAt` is its successor's
 * takeover plus `refreshSeconds`: a token another replica signed with it in between
 * still verifies until its own `exp`.
 */
export function signingHistory<K>(settled: readonly KeyRotation<K>[], first: K, takeovers: readonly KeyTakeover<K>[], refreshSeconds: number): KeyRotation<K>[] {
  const chain = [{ key: first }, ...takeovers];
  return [
    ...settled,
    ...chain.map((link, i): KeyRotation<K> => {
      const successor = takeovers[i];
      return successor === undefined ? { key: link.key } : { key: link.key, retiredAt: new Date(successor.at.getTime() + refreshSeconds * 1000) };
    }),
  ];
}

/**
 * The JWKS as a server serves it: fixed keys, judged against the clock at each request
 * (a retired key drops out without a restart), or a source that follows rotations.
 */
export async function publishedTokenKeys(
  keys: readonly KeyRotation[] | { jwks(): PublishedJwks },
  clock: () => Date,
  longestLifetime: number,
): Promise<() => PublishedJwks> {
  if ('jwks' in keys) return () => keys.jwks();
  const published = (await jwksFromKeys(keys.map((rotation) => rotation.key))).keys;
  const rotations = keys.map((rotation, i) => ({ ...rotation, key: published[i]! }));
  return () => ({ keys: keysToPublish(rotations, clock(), longestLifetime) });
}
