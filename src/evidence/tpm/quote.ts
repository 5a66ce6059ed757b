import { createHash, verify as cryptoVerify, constants, type KeyObject } from 'node:crypto';
import { EvidenceError } from '../plugin.js';
import {
  algHex,
  hashName,
  hashSize,
  parseQuoteAttest,
  type QuoteAttest,
  type TpmHashName,
  type TpmPublic,
  type TpmSignature,
} from './structures.js';

/** PCR values by bank, then by index, as supplied next to the quote. */
export type PcrValues = ReadonlyMap<TpmHashName, ReadonlyMap<number, Uint8Array>>;

export interface QuoteInput {
  /** The marshalled TPMS_ATTEST exactly as signed. */
  readonly attest: Uint8Array;
  readonly signature: TpmSignature;
  /** The trusted AK; `public` is present when the evidence carried its TPMT_PUBLIC. */
  readonly ak: { readonly key: KeyObject; readonly public?: TpmPublic };
  readonly pcrs: PcrValues;
  /** Absent: any extraData is accepted and surfaced for the caller to check. */
  readonly expectedNonce?: Uint8Array;
}

/** Digest algorithms a quote may be signed with; SHA-1 is refused by policy, not parsing. */
export type QuoteDigestAlg = 'sha256' | 'sha384' | 'sha512';

export interface SelectedPcr {
  readonly bank: QuoteDigestAlg;
  readonly index: number;
  readonly value: Uint8Array;
}

export interface VerifiedQuote {
  readonly attest: QuoteAttest;
  /** The signing hash, which is also the algorithm of pcrDigest (Part 3, TPM2_Quote). */
  readonly digestAlg: QuoteDigestAlg;
  /** Selected PCRs in selection order. */
  readonly selected: readonly SelectedPcr[];
}

// PC Client TPMs have 24 PCRs; the evidence format cannot carry values for more.
export const MAX_PCR_INDEX = 23;

function strongHash(alg: number, what: string): QuoteDigestAlg {
  const name = hashName(alg);
  if (name === 'sha256' || name === 'sha384' || name === 'sha512') return name;
  throw new EvidenceError('unsupported', `${what}: hash algorithm ${name ?? algHex(alg)} (only SHA-256, SHA-384, SHA-512)`);
}

function fail(message: string): never {
  throw new EvidenceError('signature', message);
}

/** Left-pads an ECDSA scalar to the field size: TPMs may drop leading zero bytes. */
function scalar(value: Uint8Array, size: number): Uint8Array {
  let start = 0;
  while (start < value.length && value[start] === 0) start++;
  const significant = value.subarray(start);
  if (significant.length > size) fail('quote signature does not verify with the AK (ECDSA scalar too long)');
  const out = new Uint8Array(size);
  out.set(significant, size - significant.length);
  return out;
}

// Keyed by OpenSSL's curve names, as KeyObject reports them.
const EC_FIELD_BYTES: Readonly<Record<string, number>> = { prime256v1: 32, secp384r1: 48, secp521r1: 66 };

/** Verifies the TPMT_SIGNATURE over the raw TPMS_ATTEST bytes; returns the signing hash. */
export function verifyQuoteSignature(attest: Uint8Array, signature: TpmSignature, ak: QuoteInput['ak']): QuoteDigestAlg {
  const digestAlg = strongHash(signature.hash, 'TPMT_SIGNATURE');
  const scheme = ak.public?.scheme;
  if (scheme !== undefined && scheme.alg !== 0x0010) {
    const expected = { rsassa: 0x0014, rsapss: 0x0016, ecdsa: 0x0018 }[signature.scheme];
    if (scheme.alg !== expected || (scheme.hash !== undefined && scheme.hash !== signature.hash)) {
      fail(`quote signature scheme ${signature.scheme}/${digestAlg} differs from the AK's fixed scheme`);
    }
  }
  const keyType = ak.key.asymmetricKeyType;
  let ok: boolean;
  try {
    if (signature.scheme === 'ecdsa') {
      if (keyType !== 'ec') fail('an ECDSA quote signature needs an ECC AK');
      const size = EC_FIELD_BYTES[ak.key.asymmetricKeyDetails?.namedCurve ?? ''];
      if (size === undefined) fail('the AK is on a curve quotes are not verified with');
      const raw = Buffer.concat([scalar(signature.r, size), scalar(signature.s, size)]);
      ok = cryptoVerify(digestAlg, attest, { key: ak.key, dsaEncoding: 'ieee-p1363' }, raw);
    } else {
      if (keyType !== 'rsa') fail(`an ${signature.scheme.toUpperCase()} quote signature needs an RSA AK`);
      const modulusBytes = Math.ceil((ak.key.asymmetricKeyDetails?.modulusLength ?? 0) / 8);
      if (signature.signature.length !== modulusBytes) fail('quote signature length differs from the AK modulus length');
      ok = cryptoVerify(
        digestAlg,
        attest,
        signature.scheme === 'rsassa'
          ? { key: ak.key, padding: constants.RSA_PKCS1_PADDING }
          : // TPMs use a salt as long as the digest, some the maximum; AUTO accepts both.
            { key: ak.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO },
        signature.signature,
      );
    }
  } catch (error) {
    if (error instanceof EvidenceError) throw error;
    throw new EvidenceError('signature', 'quote signature does not verify with the AK', { cause: error });
  }
  if (!ok) fail('quote signature does not verify with the AK');
  return digestAlg;
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((byte, i) => byte === b[i]);

/**
 * Verifies a quote: signature first (so nothing unauthenticated steers the outcome),
 * then the nonce, then that the supplied PCR values hash to the signed pcrDigest.
 */
export function verifyQuote(input: QuoteInput): VerifiedQuote {
  const digestAlg = verifyQuoteSignature(input.attest, input.signature, input.ak);
  const attest = parseQuoteAttest(input.attest);

  if (input.expectedNonce !== undefined && !equalBytes(attest.extraData, input.expectedNonce)) {
    throw new EvidenceError('nonce', 'the quote does not carry the expected nonce (extraData differs)');
  }

  const banks = attest.pcrSelections.filter((selection) => selection.pcrs.length > 0);
  // One bank keeps `pcr<N>` names unambiguous; a quote over several banks proves no more.
  if (banks.length > 1) throw new EvidenceError('unsupported', 'quotes over more than one PCR bank');
  const selected: SelectedPcr[] = [];
  const hash = createHash(digestAlg);
  for (const selection of banks) {
    const bank = strongHash(selection.hash, 'PCR selection');
    const values = input.pcrs.get(bank);
    for (const index of selection.pcrs) {
      if (index > MAX_PCR_INDEX) throw new EvidenceError('unsupported', `PCR ${index} is beyond PCR ${MAX_PCR_INDEX}`);
      const value = values?.get(index);
      if (value === undefined) throw new EvidenceError('missing-collateral', `no value supplied for quoted PCR ${bank}:${index}`);
      if (value.length !== hashSize(selection.hash)) throw new EvidenceError('malformed', `PCR ${bank}:${index} has the wrong length`);
      hash.update(value);
      selected.push({ bank, index, value });
    }
  }

  for (const [bank, values] of input.pcrs) {
    for (const index of values.keys()) {
      if (!selected.some((pcr) => pcr.bank === bank && pcr.index === index)) {
        // Unquoted values would look attested to anyone reading the evidence later.
        throw new EvidenceError('malformed', `PCR ${bank}:${index} is supplied but not covered by the quote`);
      }
    }
  }

  if (!equalBytes(hash.digest(), attest.pcrDigest)) {
    throw new EvidenceError('measurement-mismatch', 'the supplied PCR values do not hash to the quoted pcrDigest');
  }
  return { attest, digestAlg, selected };
}
