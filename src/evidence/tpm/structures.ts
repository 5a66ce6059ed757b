import { createPublicKey, type KeyObject } from 'node:crypto';
import { EvidenceError } from '../plugin.js';
import { TpmReader } from './reader.js';

/**
 * Parsers for the TPM 2.0 structures a quote carries (TPM 2.0 Library, Part 2:
 * TPMS_ATTEST, TPMS_QUOTE_INFO, TPML_PCR_SELECTION, TPMT_SIGNATURE, TPMT_PUBLIC).
 * Only what a quote verifier needs is accepted; anything else is 'unsupported' by name,
 * anything that does not parse is 'malformed'.
 */

export const TPM_GENERATED_VALUE = 0xff544347;
export const TPM_ST_ATTEST_QUOTE = 0x8018;

export const TPM_ALG = Object.freeze({
  RSA: 0x0001,
  SHA1: 0x0004,
  SHA256: 0x000b,
  SHA384: 0x000c,
  SHA512: 0x000d,
  NULL: 0x0010,
  RSASSA: 0x0014,
  RSAES: 0x0015,
  RSAPSS: 0x0016,
  ECDSA: 0x0018,
  ECDAA: 0x001a,
  ECC: 0x0023,
});

/** objectAttributes bits (Part 2, TPMA_OBJECT) that make a key an attestation key. */
export const TPMA_OBJECT = Object.freeze({
  fixedTPM: 1 << 1,
  restricted: 1 << 16,
  sign: 1 << 18,
});

export type TpmHashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

const HASHES: ReadonlyMap<number, { name: TpmHashName; size: number }> = new Map([
  [TPM_ALG.SHA1, { name: 'sha1', size: 20 }],
  [TPM_ALG.SHA256, { name: 'sha256', size: 32 }],
  [TPM_ALG.SHA384, { name: 'sha384', size: 48 }],
  [TPM_ALG.SHA512, { name: 'sha512', size: 64 }],
]);

export function hashName(alg: number): TpmHashName | undefined {
  return HASHES.get(alg)?.name;
}

export function hashSize(alg: number): number | undefined {
  return HASHES.get(alg)?.size;
}

export const algHex = (alg: number): string => `0x${alg.toString(16).padStart(4, '0')}`;

// Buffer sizes from Part 2 for a TPM with SHA-512 and RSA-4096 / P-521 support: the
// largest any real TPM emits, and small enough that a hostile size costs nothing.
const MAX_DIGEST = 64;
const MAX_NAME = 2 + MAX_DIGEST; // TPMU_NAME: hash alg + digest
const MAX_DATA = 2 + MAX_DIGEST; // TPM2B_DATA is sized by TPMT_HA
const MAX_RSA_BYTES = 512;
const MAX_ECC_BYTES = 66;
// Part 2 bounds the list by HASH_COUNT; no TPM implements more than a handful of banks.
const MAX_PCR_BANKS = 16;
const MAX_SIZEOF_SELECT = 8;

export interface PcrSelection {
  /** TPM_ALG_ID of the bank. */
  readonly hash: number;
  /** Selected PCR indices, ascending: the order the TPM concatenates them in. */
  readonly pcrs: readonly number[];
}

export interface ClockInfo {
  readonly clock: bigint;
  readonly resetCount: number;
  readonly restartCount: number;
  readonly safe: boolean;
}

/** TPMS_ATTEST whose attested union is a TPMS_QUOTE_INFO. */
export interface QuoteAttest {
  readonly qualifiedSigner: Uint8Array;
  readonly extraData: Uint8Array;
  readonly clockInfo: ClockInfo;
  readonly firmwareVersion: bigint;
  readonly pcrSelections: readonly PcrSelection[];
  readonly pcrDigest: Uint8Array;
}

function parsePcrSelectionList(reader: TpmReader): PcrSelection[] {
  const count = reader.u32('pcrSelect.count');
  if (count > MAX_PCR_BANKS) throw new EvidenceError('malformed', `TPMS_ATTEST: ${count} PCR selections, above ${MAX_PCR_BANKS}`);
  const selections: PcrSelection[] = [];
  for (let index = 0; index < count; index++) {
    const hash = reader.u16(`pcrSelections[${index}].hash`);
    const size = reader.u8(`pcrSelections[${index}].sizeofSelect`);
    if (size > MAX_SIZEOF_SELECT) {
      throw new EvidenceError('malformed', `TPMS_ATTEST: sizeofSelect ${size} is above ${MAX_SIZEOF_SELECT}`);
    }
    const bitmap = reader.bytesOf(size, `pcrSelections[${index}].pcrSelect`);
    const pcrs: number[] = [];
    for (let pcr = 0; pcr < size * 8; pcr++) {
      if (((bitmap[pcr >> 3] ?? 0) >> (pcr & 7)) & 1) pcrs.push(pcr);
    }
    selections.push({ hash, pcrs });
  }
  return selections;
}

/** Parses a marshalled TPMS_ATTEST, accepting only TPM_ST_ATTEST_QUOTE. */
export function parseQuoteAttest(bytes: Uint8Array): QuoteAttest {
  const reader = new TpmReader(bytes, 'TPMS_ATTEST');
  const magic = reader.u32('magic');
  if (magic !== TPM_GENERATED_VALUE) {
    throw new EvidenceError('malformed', `TPMS_ATTEST: magic 0x${magic.toString(16)} is not TPM_GENERATED_VALUE`);
  }
  const type = reader.u16('type');
  if (type !== TPM_ST_ATTEST_QUOTE) {
    throw new EvidenceError('unsupported', `TPMS_ATTEST: type ${algHex(type)} is not TPM_ST_ATTEST_QUOTE (0x8018)`);
  }
  const qualifiedSigner = reader.tpm2b(MAX_NAME, 'qualifiedSigner');
  const extraData = reader.tpm2b(MAX_DATA, 'extraData');
  const clock = reader.u64('clockInfo.clock');
  const resetCount = reader.u32('clockInfo.resetCount');
  const restartCount = reader.u32('clockInfo.restartCount');
  const safe = reader.u8('clockInfo.safe');
  if (safe > 1) throw new EvidenceError('malformed', `TPMS_ATTEST: clockInfo.safe is ${safe}, not a TPMI_YES_NO`);
  const firmwareVersion = reader.u64('firmwareVersion');
  const pcrSelections = parsePcrSelectionList(reader);
  const pcrDigest = reader.tpm2b(MAX_DIGEST, 'pcrDigest');
  reader.end();
  return {
    qualifiedSigner,
    extraData,
    clockInfo: { clock, resetCount, restartCount, safe: safe === 1 },
    firmwareVersion,
    pcrSelections,
    pcrDigest,
  };
}

export type TpmSignature =
  | { readonly scheme: 'rsassa' | 'rsapss'; readonly hash: number; readonly signature: Uint8Array }
  | { readonly scheme: 'ecdsa'; readonly hash: number; readonly r: Uint8Array; readonly s: Uint8Array };

/** Parses a marshalled TPMT_SIGNATURE (RSASSA, RSAPSS or ECDSA). */
export function parseSignature(bytes: Uint8Array): TpmSignature {
  const reader = new TpmReader(bytes, 'TPMT_SIGNATURE');
  const sigAlg = reader.u16('sigAlg');
  let result: TpmSignature;
  if (sigAlg === TPM_ALG.RSASSA || sigAlg === TPM_ALG.RSAPSS) {
    const hash = reader.u16('hash');
    const signature = reader.tpm2b(MAX_RSA_BYTES, 'sig');
    result = { scheme: sigAlg === TPM_ALG.RSASSA ? 'rsassa' : 'rsapss', hash, signature };
  } else if (sigAlg === TPM_ALG.ECDSA) {
    const hash = reader.u16('hash');
    const r = reader.tpm2b(MAX_ECC_BYTES, 'signatureR');
    const s = reader.tpm2b(MAX_ECC_BYTES, 'signatureS');
    result = { scheme: 'ecdsa', hash, r, s };
  } else {
    throw new EvidenceError('unsupported', `TPMT_SIGNATURE: signature algorithm ${algHex(sigAlg)} (only RSASSA, RSAPSS, ECDSA)`);
  }
  reader.end();
  return result;
}

export type EccCurve = 'P-256' | 'P-384' | 'P-521';

const CURVES: ReadonlyMap<number, { name: EccCurve; size: number }> = new Map([
  [0x0003, { name: 'P-256', size: 32 }],
  [0x0004, { name: 'P-384', size: 48 }],
  [0x0005, { name: 'P-521', size: 66 }],
]);

export interface TpmPublic {
  readonly type: 'rsa' | 'ecc';
  readonly nameAlg: number;
  readonly objectAttributes: number;
  /** The key's own signing scheme; TPM_ALG_NULL lets the caller choose per signature. */
  readonly scheme: { readonly alg: number; readonly hash?: number };
  /** RSA modulus bits, or the curve name. */
  readonly keySize: number | EccCurve;
  readonly key: KeyObject;
}

function symmetric(reader: TpmReader): void {
  // An AK is a signing key: its symmetric definition must be NULL, but we only need to skip it.
  const alg = reader.u16('parameters.symmetric.algorithm');
  if (alg !== TPM_ALG.NULL) {
    reader.u16('parameters.symmetric.keyBits');
    reader.u16('parameters.symmetric.mode');
  }
}

const base64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

function keyFromJwk(jwk: Record<string, string>): KeyObject {
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch (error) {
    throw new EvidenceError('malformed', 'TPMT_PUBLIC: the key material is not a valid public key', { cause: error });
  }
}

/** Strips leading zero bytes and left-pads to the curve's field size, which JWK requires. */
function fieldElement(value: Uint8Array, size: number, field: string): Uint8Array {
  let start = 0;
  while (start < value.length && value[start] === 0) start++;
  const significant = value.subarray(start);
  if (significant.length > size) throw new EvidenceError('malformed', `TPMT_PUBLIC: ${field} is longer than the curve's field`);
  const out = new Uint8Array(size);
  out.set(significant, size - significant.length);
  return out;
}

/** Parses a marshalled TPMT_PUBLIC of an RSA or ECC key and builds the node KeyObject. */
export function parsePublic(bytes: Uint8Array): TpmPublic {
  const reader = new TpmReader(bytes, 'TPMT_PUBLIC');
  const type = reader.u16('type');
  if (type !== TPM_ALG.RSA && type !== TPM_ALG.ECC) {
    throw new EvidenceError('unsupported', `TPMT_PUBLIC: key type ${algHex(type)} (only RSA and ECC)`);
  }
  const nameAlg = reader.u16('nameAlg');
  const objectAttributes = reader.u32('objectAttributes');
  reader.tpm2b(MAX_DIGEST, 'authPolicy');
  symmetric(reader);
  const schemeAlg = reader.u16('parameters.scheme.scheme');
  let schemeHash: number | undefined;
  // RSAES carries no details; every other non-NULL scheme starts with a hash algorithm.
  if (schemeAlg !== TPM_ALG.NULL && schemeAlg !== TPM_ALG.RSAES) schemeHash = reader.u16('parameters.scheme.hashAlg');
  const scheme = schemeHash === undefined ? { alg: schemeAlg } : { alg: schemeAlg, hash: schemeHash };

  if (type === TPM_ALG.RSA) {
    const keyBits = reader.u16('parameters.keyBits');
    const exponent = reader.u32('parameters.exponent');
    const modulus = reader.tpm2b(MAX_RSA_BYTES, 'unique.rsa');
    reader.end();
    if (keyBits !== 2048 && keyBits !== 3072 && keyBits !== 4096) {
      throw new EvidenceError('unsupported', `TPMT_PUBLIC: RSA key size ${keyBits} (only 2048, 3072, 4096)`);
    }
    if (modulus.length * 8 !== keyBits || (modulus[0] ?? 0) < 0x80) {
      throw new EvidenceError('malformed', `TPMT_PUBLIC: the modulus is not a ${keyBits}-bit number`);
    }
    // Part 2: an exponent of zero means the default, 2^16 + 1.
    const e = exponent === 0 ? 65537 : exponent;
    const eHex = e.toString(16);
    const eBytes = Buffer.from(eHex.length % 2 === 0 ? eHex : `0${eHex}`, 'hex');
    const key = keyFromJwk({ kty: 'RSA', n: base64url(modulus), e: base64url(eBytes) });
    return { type: 'rsa', nameAlg, objectAttributes, scheme, keySize: keyBits, key };
  }

  if (schemeAlg === TPM_ALG.ECDAA) reader.u16('parameters.scheme.count');
  const curveId = reader.u16('parameters.curveID');
  const kdf = reader.u16('parameters.kdf.scheme');
  if (kdf !== TPM_ALG.NULL) reader.u16('parameters.kdf.hashAlg');
  const x = reader.tpm2b(MAX_ECC_BYTES, 'unique.ecc.x');
  const y = reader.tpm2b(MAX_ECC_BYTES, 'unique.ecc.y');
  reader.end();
  const curve = CURVES.get(curveId);
  if (curve === undefined) throw new EvidenceError('unsupported', `TPMT_PUBLIC: ECC curve ${algHex(curveId)} (only NIST P-256, P-384, P-521)`);
  const key = keyFromJwk({
    kty: 'EC',
    crv: curve.name,
    x: base64url(fieldElement(x, curve.size, 'x')),
    y: base64url(fieldElement(y, curve.size, 'y')),
  });
  return { type: 'ecc', nameAlg, objectAttributes, scheme, keySize: curve.name, key };
}
