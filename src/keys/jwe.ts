import type { JsonWebKey } from 'node:crypto';
import { FlattenedEncrypt, importJWK, type FlattenedJWE, type JWK } from 'jose';
import { CovenantError } from '../core/errors.js';
import { LruCache } from '../core/lru.js';
import { wrapAlgFor } from './tee-key.js';

/**
 * The KBS `Response`: a flattened JWE (RFC 7516 §7.2.2) of the secret, encrypted to the
 * attested TEE key — `ECDH-ES+A256KW` for EC P-256/P-384, `RSA-OAEP-256` for RSA — with
 * content encryption `A256GCM`. The key comes from the token's `cnf.jwk`, which the
 * verifier copied from the key the evidence binds: whoever presents a stolen token gets
 * ciphertext only that TEE can open.
 */
export type KbsResponse = FlattenedJWE;

export const CONTENT_ENCRYPTION = 'A256GCM';

type ImportedKey = Awaited<ReturnType<typeof importJWK>>;

/**
 * Instance keys by their JWK text, imported once: a fleet fetches secrets with the same
 * few keys, and jose would otherwise convert a key for WebCrypto on every encryption.
 */
const keys = new LruCache<string, Promise<ImportedKey>>(10_000);

function importedKey(jwk: JsonWebKey, alg: string): Promise<ImportedKey> {
  const text = JSON.stringify(jwk);
  let key = keys.get(text);
  if (key === undefined) {
    key = importJWK(jwk as JWK, alg).catch(
      // A failure is remembered too: the same key fails the same way.
      (error: unknown) => {
        throw new CovenantError('bad-request', `the token's cnf.jwk is not a usable public key: ${(error as Error).message}`, { cause: error });
      },
    );
    keys.set(text, key);
  }
  return key;
}

export async function encryptToTee(jwk: JsonWebKey, plaintext: Uint8Array): Promise<KbsResponse> {
  const alg = wrapAlgFor(jwk);
  return new FlattenedEncrypt(plaintext).setProtectedHeader({ alg, enc: CONTENT_ENCRYPTION }).encrypt(await importedKey(jwk, alg));
}
