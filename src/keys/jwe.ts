import { constants, createCipheriv, createHash, createPublicKey, diffieHellman, generateKeyPairSync, publicEncrypt, randomBytes, type JsonWebKey, type KeyObject } from 'node:crypto';
import { CovenantError } from '../core/errors.js';
import { LruCache } from '../core/lru.js';
import { wrapAlgFor, type KeyWrapAlg } from './tee-key.js';

/**
 * The KBS `Response`: a flattened JWE (RFC 7516 §7.2.2) of the secret, encrypted to the
 * attested TEE key — `ECDH-ES+A256KW` for EC P-256/P-384, `RSA-OAEP-256` for RSA — with
 * content encryption `A256GCM`. The key comes from the token's `cnf.jwk`, which the
 * verifier copied from the key the evidence binds: whoever presents a stolen token gets
 * ciphertext only that TEE can open.
 *
 * Built here with node:crypto rather than jose: it is the largest cost of a key release,
 * and jose's WebCrypto path (a key import, async jobs, promise hops per step) is several
 * times slower than the same operations done synchronously. Only the sending side is
 * ours: the SDK and the tests open these with jose, which keeps us honest.
 */
export interface KbsResponse {
  readonly ciphertext: string;
  readonly iv: string;
  readonly tag: string;
  readonly encrypted_key: string;
  readonly protected: string;
}

export const CONTENT_ENCRYPTION = 'A256GCM';

const CEK_BYTES = 32;
/** 96 bits: the IV length GCM is defined for without hashing it (RFC 7518 §5.3). */
const IV_BYTES = 12;
/** RFC 3394 §2.2.3.1: the default initial value of AES key wrap, the one JWA uses. */
const KEY_WRAP_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
/** Same for every RSA response, so encoded once. */
const RSA_PROTECTED = Buffer.from(JSON.stringify({ alg: 'RSA-OAEP-256', enc: CONTENT_ENCRYPTION })).toString('base64url');

function uint32be(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value);
  return bytes;
}

/**
 * The Concat KDF of JWA (RFC 7518 §4.6.2; NIST SP 800-56A §5.8.1) with SHA-256: OtherInfo is
 * AlgorithmID ‖ PartyUInfo ‖ PartyVInfo (each length-prefixed) ‖ SuppPubInfo (the key
 * length in bits). One round of SHA-256 yields 256 bits, all a key wrapping key needs.
 * The broker sends no `apu`/`apv`, so they are empty; they are parameters for RFC 7518
 * Appendix C's vector, which has them.
 */
export function concatKdf(z: Uint8Array, algorithmId: string, keyBits: number, apu: Uint8Array = Buffer.alloc(0), apv: Uint8Array = Buffer.alloc(0)): Buffer {
  if (keyBits % 8 !== 0 || keyBits > 256) throw new RangeError(`one round of the Concat KDF gives up to 256 bits, not ${keyBits}`);
  const hash = createHash('sha256').update(uint32be(1)).update(z);
  for (const field of [Buffer.from(algorithmId), apu, apv]) hash.update(uint32be(field.length)).update(field);
  return hash.update(uint32be(keyBits)).digest().subarray(0, keyBits / 8);
}

/** AES-256 key wrap (RFC 3394), as A256KW. */
export function aesKeyWrap(kek: Uint8Array, key: Uint8Array): Buffer {
  const cipher = createCipheriv('id-aes256-wrap', kek, KEY_WRAP_IV);
  return Buffer.concat([cipher.update(key), cipher.final()]);
}

interface Recipient {
  readonly alg: KeyWrapAlg;
  readonly key: KeyObject;
  /** The curve of an EC key, for the ephemeral key. */
  readonly crv?: string;
}

/**
 * Instance keys by their JWK text, parsed once: a fleet fetches secrets with the same few
 * keys, and parsing (with its point check, ~0.4 ms on P-384) would otherwise recur on
 * every release.
 */
const recipients = new LruCache<string, Recipient>(10_000);

function recipient(jwk: JsonWebKey): Recipient {
  const text = JSON.stringify(jwk);
  const cached = recipients.get(text);
  if (cached !== undefined) return cached;
  const alg = wrapAlgFor(jwk);
  let key: KeyObject;
  try {
    // Only the public members: a `d` would otherwise make node derive the public key from it.
    key = createPublicKey({ key: alg === 'RSA-OAEP-256' ? { kty: 'RSA', n: jwk.n, e: jwk.e } : { kty: 'EC', crv: jwk.crv, x: jwk.x, y: jwk.y }, format: 'jwk' });
  } catch (error) {
    throw new CovenantError('bad-request', `the token's cnf.jwk is not a usable public key: ${(error as Error).message}`, { cause: error });
  }
  // RFC 7518 §4.3 requires at least 2048 bits for RSA-OAEP (jose, opening, enforces it too).
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (bits !== undefined && bits < 2048) throw new CovenantError('bad-request', `the token's cnf.jwk is not a usable public key: RSA-OAEP needs 2048 bits or more, got ${bits}`);
  const entry: Recipient = alg === 'RSA-OAEP-256' ? { alg, key } : { alg, key, crv: jwk.crv! };
  recipients.set(text, entry);
  return entry;
}

/** A fresh content key, wrapped for the recipient, with the protected header that says how. */
function wrapContentKey(to: Recipient, cek: Buffer): { protectedHeader: string; encryptedKey: Buffer } {
  if (to.alg === 'RSA-OAEP-256') {
    return { protectedHeader: RSA_PROTECTED, encryptedKey: publicEncrypt({ key: to.key, oaepHash: 'sha256', padding: constants.RSA_PKCS1_OAEP_PADDING }, cek) };
  }
  // ECDH-ES (RFC 7518 §4.6): a new ephemeral key per message, its public half in `epk`.
  const ephemeral = generateKeyPairSync('ec', { namedCurve: to.crv! });
  const { x, crv, kty, y } = ephemeral.publicKey.export({ format: 'jwk' });
  const z = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: to.key });
  const kek = concatKdf(z, to.alg, 256);
  const encryptedKey = aesKeyWrap(kek, cek);
  z.fill(0);
  kek.fill(0);
  // Members in the order jose writes them, so any client sees the layout it knows.
  const header = JSON.stringify({ alg: to.alg, enc: CONTENT_ENCRYPTION, epk: { x, crv, kty, y } });
  return { protectedHeader: Buffer.from(header).toString('base64url'), encryptedKey };
}

/**
 * A promise because callers take a bad key as a rejection; the work itself is synchronous:
 * ~0.15 ms on P-256, less than handing each step to the thread pool and back would cost.
 */
export async function encryptToTee(jwk: JsonWebKey, plaintext: Uint8Array): Promise<KbsResponse> {
  const to = recipient(jwk);
  const random = randomBytes(CEK_BYTES + IV_BYTES);
  const cek = random.subarray(0, CEK_BYTES);
  const iv = random.subarray(CEK_BYTES);
  try {
    const { protectedHeader, encryptedKey } = wrapContentKey(to, cek);
    const cipher = createCipheriv('aes-256-gcm', cek, iv);
    // RFC 7516 §5.1 step 14: the AAD is the ASCII of the encoded protected header.
    cipher.setAAD(Buffer.from(protectedHeader, 'ascii'));
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      ciphertext: ciphertext.toString('base64url'),
      iv: iv.toString('base64url'),
      tag: cipher.getAuthTag().toString('base64url'),
      encrypted_key: encryptedKey.toString('base64url'),
      protected: protectedHeader,
    };
  } finally {
    cek.fill(0);
  }
}
