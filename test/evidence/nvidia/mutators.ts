import fc from 'fast-check';
import { parseNvidiaEvidence, parseSpdmReport } from '../../../src/evidence/nvidia/index.js';
import { readCertificates } from '../../../src/evidence/x509/certificate.js';
import { extendBy, flipBits, keep, overwrite, truncate, type Mutation } from '../mutate.js';
import { signedPartsOfCertificate } from './certificate-parts.js';
import { derAt, pemBlocksOf, toPemText, VECTORS, type HopperVector } from './fixtures.js';

/**
 * Mutations of real NVIDIA evidence for the fuzzers (the short pass in vitest and the long
 * one in test/fuzz), and the judge of an accepted mutation: it must have left every signed
 * byte, and what the issuer signed of the leaf certificate, exactly as they were.
 */

const extend = extendBy(64);

/** Rewrites a declared length of a real report: the record length, a block size, the opaque length. */
const lengthField: fc.Arbitrary<Mutation> = fc
  .tuple(fc.constantFrom('record', 'block', 'opaque', 'opaque-field'), fc.oneof(fc.integer({ min: 0, max: 8 }), fc.nat({ max: 0xffffff })))
  .map(([which, value]) => (bytes: Uint8Array) => {
    const out = new Uint8Array(bytes);
    const recordLength = (out[42] ?? 0) | ((out[43] ?? 0) << 8) | ((out[44] ?? 0) << 16);
    const opaqueAt = 45 + recordLength + 32;
    const at = { record: 42, block: 45 + 2, opaque: opaqueAt, 'opaque-field': opaqueAt + 2 + 2 }[which];
    const width = which === 'record' ? 3 : 2;
    for (let i = 0; i < width && at + i < out.length; i++) out[at + i] = (value >> (8 * i)) & 0xff;
    return out;
  });

/** Mutations aimed at a raw report. */
export function mutatedReport(): fc.Arbitrary<Mutation> {
  return fc.oneof(flipBits, overwrite, truncate, extend, lengthField, keep);
}

/** Mutations of a PEM chain: a DER byte of one certificate, a dropped, repeated or reordered certificate, raw text damage. */
export function mutatedChain(): fc.Arbitrary<(pem: string) => string> {
  const der = fc.tuple(fc.nat({ max: 4 }), fc.oneof(flipBits, overwrite, truncate, extend)).map(([i, m]) => (pem: string) => {
    const blocks = pemBlocksOf(pem).map((_, k) => derAt(pem, k));
    blocks[i % blocks.length] = m(blocks[i % blocks.length] ?? new Uint8Array());
    return blocks.map(toPemText).join('');
  });
  const drop = fc.nat({ max: 4 }).map((i) => (pem: string) => pemBlocksOf(pem).filter((_, k) => k !== i).join('\n'));
  const reorder = fc.shuffledSubarray([0, 1, 2, 3, 4], { minLength: 1 }).map((order) => (pem: string) => {
    const blocks = pemBlocksOf(pem);
    return order.map((k) => blocks[k] ?? '').join('\n');
  });
  const text = fc.oneof(flipBits, overwrite, truncate).map((m) => (pem: string) => Buffer.from(m(new TextEncoder().encode(pem))).toString('latin1'));
  return fc.oneof(der, drop, reorder, text);
}

function signedParts(evidence: Uint8Array): { signed: Buffer; signature: Buffer } {
  const report = parseSpdmReport(parseNvidiaEvidence(evidence).report);
  return { signed: Buffer.from(report.signed), signature: Buffer.from(report.signature) };
}

function leafOf(chain: Uint8Array | undefined): Buffer | undefined {
  const first = chain === undefined ? undefined : readCertificates(chain, 'chain')?.[0];
  return first === undefined ? undefined : Buffer.concat(signedPartsOfCertificate(first.der));
}

/**
 * Throws unless an accepted mutation of `original` left what the GPU signed, and the leaf
 * certificate the plugin trusted, unchanged.
 */
export function assertUnchangedWhereSigned(evidence: Uint8Array, original: HopperVector): void {
  const got = signedParts(evidence);
  const want = signedParts(original.evidence());
  if (!got.signed.equals(want.signed) || !got.signature.equals(want.signature)) {
    throw new Error('verification succeeded over altered signed bytes');
  }
  const leaf = leafOf(parseNvidiaEvidence(evidence).chain);
  if (leaf !== undefined && !leaf.equals(Buffer.concat(signedPartsOfCertificate(derAt(original.chainPem(), 0))))) {
    throw new Error('verification succeeded with an altered leaf certificate');
  }
}

export interface FuzzInput {
  readonly evidence: Uint8Array;
  readonly vector: HopperVector;
  /** Whether the input was built from a real vector, so that acceptance must be checked. */
  readonly derived: boolean;
}

const documentOf = (report: Uint8Array, chain: string): Uint8Array =>
  new TextEncoder().encode(JSON.stringify({ report: Buffer.from(report).toString('hex'), certChain: chain }));

/** Random bytes, random documents, and mutations of either real vector at every level. */
export function fuzzInput(): fc.Arbitrary<FuzzInput> {
  const vector = fc.constantFrom(...VECTORS);
  return fc.oneof(
    { weight: 1, arbitrary: fc.tuple(vector, fc.uint8Array({ maxLength: 5000 })).map(([v, bytes]) => ({ evidence: bytes, vector: v, derived: false })) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(vector, fc.uint8Array({ maxLength: 600 }), fc.string({ maxLength: 200 }))
        .map(([v, report, chain]) => ({ evidence: documentOf(report, chain), vector: v, derived: false })),
    },
    {
      weight: 5,
      arbitrary: fc.tuple(vector, mutatedReport()).map(([v, m]) => ({ evidence: documentOf(m(v.report()), v.chainPem()), vector: v, derived: true })),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(vector, mutatedChain()).map(([v, m]) => ({ evidence: documentOf(v.report(), m(v.chainPem())), vector: v, derived: true })),
    },
    { weight: 2, arbitrary: fc.tuple(vector, fc.oneof(flipBits, overwrite, truncate)).map(([v, m]) => ({ evidence: m(v.evidence()), vector: v, derived: true })) },
  );
}
