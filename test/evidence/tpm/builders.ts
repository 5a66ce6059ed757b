import { createHash, generateKeyPairSync, sign, constants, type KeyObject } from 'node:crypto';

/** Marshalling helpers that build synthetic TPM structures, independent of the parsers under test. */

export const u16 = (value: number): Buffer => {
  const out = Buffer.alloc(2);
  out.writeUInt16BE(value);
  return out;
};
export const u32 = (value: number): Buffer => {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(value >>> 0);
  return out;
};
export const u64 = (value: bigint): Buffer => {
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(value);
  return out;
};
export const tpm2b = (bytes: Uint8Array): Buffer => Buffer.concat([u16(bytes.length), bytes]);

export const ALG = { sha1: 0x0004, sha256: 0x000b, sha384: 0x000c, sha512: 0x000d } as const;
export type Bank = keyof typeof ALG;

export function pcrSelection(banks: ReadonlyArray<{ bank: Bank; pcrs: readonly number[] }>): Buffer {
  const parts = [u32(banks.length)];
  for (const { bank, pcrs } of banks) {
    const bitmap = Buffer.alloc(3);
    for (const pcr of pcrs) bitmap[pcr >> 3] = (bitmap[pcr >> 3] ?? 0) | (1 << (pcr & 7));
    parts.push(u16(ALG[bank]), Buffer.from([3]), bitmap);
  }
  return Buffer.concat(parts);
}

export function attest(options: {
  extraData: Uint8Array;
  selection: ReadonlyArray<{ bank: Bank; pcrs: readonly number[] }>;
  pcrDigest: Uint8Array;
  magic?: number;
  type?: number;
}): Buffer {
  return Buffer.concat([
    u32(options.magic ?? 0xff544347),
    u16(options.type ?? 0x8018),
    tpm2b(Buffer.concat([u16(0x000b), Buffer.alloc(32, 7)])),
    tpm2b(options.extraData),
    u64(123456789n),
    u32(3),
    u32(1),
    Buffer.from([1]),
    u64(0x2016051100162800n),
    pcrSelection(options.selection),
    tpm2b(options.pcrDigest),
  ]);
}

export function pcrDigest(alg: 'sha256' | 'sha384' | 'sha512', values: readonly Uint8Array[]): Buffer {
  const hash = createHash(alg);
  for (const value of values) hash.update(value);
  return hash.digest();
}

const AK_ATTRIBUTES = 0x00050072; // fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|restricted|sign

const CURVE_ID: Record<string, number> = { 'P-256': 0x0003, 'P-384': 0x0004, 'P-521': 0x0005 };

export function eccPublic(key: KeyObject, options: { attributes?: number; scheme?: number; hash?: number } = {}): Buffer {
  const jwk = key.export({ format: 'jwk' });
  const scheme = options.scheme ?? 0x0018;
  return Buffer.concat([
    u16(0x0023),
    u16(0x000b),
    u32(options.attributes ?? AK_ATTRIBUTES),
    tpm2b(Buffer.alloc(0)),
    u16(0x0010),
    u16(scheme),
    ...(scheme === 0x0010 ? [] : [u16(options.hash ?? 0x000b)]),
    u16(CURVE_ID[jwk.crv as string] ?? 0),
    u16(0x0010),
    tpm2b(Buffer.from(jwk.x as string, 'base64url')),
    tpm2b(Buffer.from(jwk.y as string, 'base64url')),
  ]);
}

export function rsaPublic(key: KeyObject, options: { attributes?: number; scheme?: number; hash?: number } = {}): Buffer {
  const jwk = key.export({ format: 'jwk' });
  const modulus = Buffer.from(jwk.n as string, 'base64url');
  const scheme = options.scheme ?? 0x0010;
  return Buffer.concat([
    u16(0x0001),
    u16(0x000b),
    u32(options.attributes ?? AK_ATTRIBUTES),
    tpm2b(Buffer.alloc(0)),
    u16(0x0010),
    u16(scheme),
    ...(scheme === 0x0010 ? [] : [u16(options.hash ?? 0x000b)]),
    u16(modulus.length * 8),
    u32(0),
    tpm2b(modulus),
  ]);
}

export function signQuote(
  quote: Uint8Array,
  privateKey: KeyObject,
  scheme: 'rsassa' | 'rsapss' | 'ecdsa',
  hash: 'sha256' | 'sha384' | 'sha512' = 'sha256',
): Buffer {
  if (scheme === 'ecdsa') {
    const raw = sign(hash, quote, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    const half = raw.length / 2;
    return Buffer.concat([u16(0x0018), u16(ALG[hash]), tpm2b(raw.subarray(0, half)), tpm2b(raw.subarray(half))]);
  }
  const sig =
    scheme === 'rsassa'
      ? sign(hash, quote, { key: privateKey, padding: constants.RSA_PKCS1_PADDING })
      : sign(hash, quote, { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST });
  return Buffer.concat([u16(scheme === 'rsassa' ? 0x0014 : 0x0016), u16(ALG[hash]), tpm2b(sig)]);
}

export function ecKeys(curve: 'P-256' | 'P-384' | 'P-521' = 'P-256') {
  return generateKeyPairSync('ec', { namedCurve: curve });
}

export function rsaKeys(bits = 2048) {
  return generateKeyPairSync('rsa', { modulusLength: bits });
}

export const sha256 = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest();

/** A complete, valid synthetic quote signed by a fresh pinned AK. */
export function syntheticQuote(
  options: {
    keyType?: 'ecdsa-p256' | 'ecdsa-p384' | 'rsassa' | 'rsapss';
    hash?: 'sha256' | 'sha384' | 'sha512';
    bank?: 'sha256' | 'sha384' | 'sha512';
    pcrs?: readonly number[];
    nonce?: Uint8Array;
  } = {},
) {
  const keyType = options.keyType ?? 'ecdsa-p256';
  const hash = options.hash ?? 'sha256';
  const bank = options.bank ?? 'sha256';
  const indices = options.pcrs ?? [0, 1, 2, 3];
  const nonce = options.nonce ?? Buffer.from('c0ffee', 'hex');
  const size = { sha256: 32, sha384: 48, sha512: 64 }[bank];
  const values = Object.fromEntries(indices.map((index) => [index, Buffer.alloc(size, index + 1)])) as Record<number, Uint8Array>;
  const keys = keyType.startsWith('ecdsa') ? ecKeys(keyType === 'ecdsa-p384' ? 'P-384' : 'P-256') : rsaKeys();
  const akPublic = keyType.startsWith('ecdsa') ? eccPublic(keys.publicKey, { hash: ALG[hash] }) : rsaPublic(keys.publicKey);
  const quote = attest({
    extraData: nonce,
    selection: [{ bank, pcrs: indices }],
    pcrDigest: pcrDigest(hash, indices.map((index) => values[index] as Uint8Array)),
  });
  const scheme = keyType.startsWith('ecdsa') ? 'ecdsa' : (keyType as 'rsassa' | 'rsapss');
  const signature = signQuote(quote, keys.privateKey, scheme, hash);
  return { quote, signature, akPublic, pin: sha256(akPublic), values, bank, nonce, keys };
}
