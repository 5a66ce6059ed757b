import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, flattenedDecrypt } from 'jose';
import { describe, expect, it } from 'vitest';
import { aesKeyWrap, concatKdf, encryptToTee, type KbsResponse } from '../../src/keys/jwe.js';
import { asyncRejection } from '../support/errors.js';

/** The JWE is built with node:crypto; jose, an independent implementation, must open it. */

const recipients: Record<string, () => { jwk: JsonWebKey; privateKey: KeyObject }> = {
  'P-256': () => ec('P-256'),
  'P-384': () => ec('P-384'),
  'RSA-2048': () => rsa(2048),
  'RSA-3072': () => rsa(3072),
};

function ec(curve: 'P-256' | 'P-384') {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: curve });
  const { x, y } = publicKey.export({ format: 'jwk' });
  return { jwk: { kty: 'EC', crv: curve, x, y }, privateKey };
}

function rsa(modulusLength: number) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength });
  const { n, e } = publicKey.export({ format: 'jwk' });
  return { jwk: { kty: 'RSA', n, e }, privateKey };
}

const plaintext = new TextEncoder().encode('correct horse battery staple');

/** One bit of a member's decoded bytes flipped, re-encoded. */
function flipped(jwe: KbsResponse, member: 'encrypted_key' | 'iv' | 'ciphertext' | 'tag'): KbsResponse {
  const bytes = Buffer.from(jwe[member], 'base64url');
  bytes[bytes.length >> 1]! ^= 0x01;
  return { ...jwe, [member]: bytes.toString('base64url') };
}

describe('the JWE encrypted to a TEE key', () => {
  for (const [name, make] of Object.entries(recipients)) {
    describe(`for ${name}`, () => {
      const { jwk, privateKey } = make();

      it('is a flattened JWE that jose opens, laid out as jose lays it out', async () => {
        const jwe = await encryptToTee(jwk, plaintext);
        expect(Object.keys(jwe)).toEqual(['ciphertext', 'iv', 'tag', 'encrypted_key', 'protected']);
        expect(Buffer.from(jwe.iv, 'base64url')).toHaveLength(12);
        expect(Buffer.from(jwe.tag, 'base64url')).toHaveLength(16);
        const header = decodeProtectedHeader(jwe);
        if (jwk.kty === 'EC') {
          expect(Object.keys(header)).toEqual(['alg', 'enc', 'epk']);
          expect(header).toMatchObject({ alg: 'ECDH-ES+A256KW', enc: 'A256GCM', epk: { kty: 'EC', crv: jwk.crv } });
          // Only the public members of the ephemeral key.
          expect(Object.keys(header.epk!)).toEqual(['x', 'crv', 'kty', 'y']);
          expect(Buffer.from(jwe.encrypted_key, 'base64url')).toHaveLength(40);
        } else {
          expect(JSON.stringify(header)).toBe('{"alg":"RSA-OAEP-256","enc":"A256GCM"}');
          expect(Buffer.from(jwe.encrypted_key, 'base64url')).toHaveLength(privateKey.asymmetricKeyDetails!.modulusLength! / 8);
        }
        const opened = await flattenedDecrypt(jwe, privateKey);
        expect(opened.plaintext).toEqual(plaintext);
        expect(opened.protectedHeader).toEqual(header);
      });

      it('uses a fresh content key, IV (and ephemeral key) every time', async () => {
        const [a, b] = await Promise.all([encryptToTee(jwk, plaintext), encryptToTee(jwk, plaintext)]);
        expect(a.iv).not.toBe(b.iv);
        expect(a.encrypted_key).not.toBe(b.encrypted_key);
        expect(a.ciphertext).not.toBe(b.ciphertext);
        if (jwk.kty === 'EC') expect(a.protected).not.toBe(b.protected);
      });

      it('is refused by jose when any part is altered', async () => {
        const jwe = await encryptToTee(jwk, plaintext);
        // The same header, spelled differently: it is the encoded bytes that are authenticated.
        const respelled = Buffer.from(JSON.stringify(decodeProtectedHeader(jwe), null, 1)).toString('base64url');
        const altered = [{ ...jwe, protected: respelled }, flipped(jwe, 'iv'), flipped(jwe, 'ciphertext'), flipped(jwe, 'tag'), flipped(jwe, 'encrypted_key')];
        for (const tampered of altered) {
          await expect(flattenedDecrypt(tampered, privateKey)).rejects.toThrow();
        }
        expect((await flattenedDecrypt(jwe, privateKey)).plaintext).toEqual(plaintext);
      });
    });
  }

  it('opens only with the key it was encrypted to', async () => {
    const jwe = await encryptToTee(ec('P-256').jwk, plaintext);
    await expect(flattenedDecrypt(jwe, ec('P-256').privateKey)).rejects.toThrow();
  });

  it('refuses keys it cannot encrypt to, as a bad request', async () => {
    const { jwk } = ec('P-256');
    const offCurve = { ...jwk, y: jwk.x };
    const small = rsa(1024).jwk;
    for (const bad of [offCurve, small, { kty: 'EC', crv: 'P-521', x: jwk.x, y: jwk.y }]) {
      expect((await asyncRejection(encryptToTee(bad, plaintext))).type).toBe('bad-request');
    }
  });
});

describe('the JWA primitives, against published vectors', () => {
  it('Concat KDF: RFC 7518 Appendix C (ECDH-ES, A128GCM, apu "Alice", apv "Bob")', () => {
    const alice = createPrivateKey({
      key: { kty: 'EC', crv: 'P-256', x: 'gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0', y: 'SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps', d: '0_NxaRPUMQoAJt50Gz8YiTr8gRTwyEaCumd-MToTmIo' },
      format: 'jwk',
    });
    const bob = createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: 'weNJy2HscCSM6AEDTDg04biOvhFhyyWvOHQfeF_PxMQ', y: 'e8lnCO-AlStT-NJVX-crhB7QRYhiix03illJOVAOyck' }, format: 'jwk' });
    const z = diffieHellman({ privateKey: alice, publicKey: bob });
    expect([...z]).toEqual([158, 86, 217, 29, 129, 113, 53, 211, 114, 131, 66, 131, 191, 132, 38, 156, 251, 49, 110, 163, 218, 128, 106, 72, 246, 218, 167, 121, 140, 254, 144, 196]);
    const key = concatKdf(z, 'A128GCM', 128, Buffer.from('Alice'), Buffer.from('Bob'));
    expect([...key]).toEqual([86, 170, 141, 234, 248, 35, 109, 32, 92, 34, 40, 205, 113, 167, 16, 26]);
    expect(key.toString('base64url')).toBe('VqqN6vgjbSBcIijNcacQGg');
  });

  it('Concat KDF: one round only', () => {
    expect(() => concatKdf(new Uint8Array(32), 'A256CBC-HS512', 512)).toThrow(RangeError);
  });

  it('AES key wrap: RFC 3394 §4.6 (256-bit KEK, 256-bit key data)', () => {
    const kek = Buffer.from('000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F', 'hex');
    const key = Buffer.from('00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F', 'hex');
    expect(aesKeyWrap(kek, key).toString('hex').toUpperCase()).toBe('28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21');
  });
});
