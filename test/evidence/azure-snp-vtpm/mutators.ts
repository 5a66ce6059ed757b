import fc from 'fast-check';
import { encodeAzureEvidence, parseAzureEvidence, parseHclReport, type AzureEvidence } from '../../../src/evidence/azure-snp-vtpm/index.js';
import { extendBy, flipBits, keep, overwrite, truncate, type Mutation } from '../mutate.js';
import { signedPartsOfCertificate } from '../nvidia/certificate-parts.js';
import { AZURE, HCL, xorAt } from './fixtures.js';

/**
 * Mutations of the real Azure evidence for the fuzzers (the short pass in vitest and the
 * long one in test/fuzz), and the judge of an accepted mutation: every signed or bound byte
 * — the SNP report up to its signature's end, the runtime data, the quote, its signature,
 * the PCRs and what the ASK signed of the VCEK — must be exactly as it was.
 */

const extend = extendBy(64);

/** Writes a u32 LE where the HCL header and the IGVM request keep their words. */
const headerWord: fc.Arbitrary<Mutation> = fc
  .tuple(fc.constantFrom(0, 4, 8, 12, 16, HCL.igvm, HCL.igvm + 4, HCL.reportType, HCL.hashType, HCL.runtimeSize), fc.oneof(fc.integer({ min: 0, max: 8 }), fc.nat()))
  .map(([at, value]) => (bytes: Uint8Array) => {
    const out = new Uint8Array(bytes);
    if (out.length >= at + 4) new DataView(out.buffer).setUint32(at, value >>> 0, true);
    return out;
  });

/** A byte change aimed at one region of the HCL report. */
const inRegion: fc.Arbitrary<Mutation> = fc
  .tuple(fc.constantFrom([HCL.snp, 0x2a0], [HCL.snpSignature, 144], [HCL.runtime, HCL.runtimeLength], [HCL.runtime + HCL.runtimeLength, 100]), fc.nat(), fc.integer({ min: 1, max: 255 }))
  .map(([[start, length], pos, mask]) => (bytes: Uint8Array) => {
    const out = new Uint8Array(bytes);
    xorAt(out, start + (pos % length), mask);
    return out;
  });

const bytesMutation = fc.oneof(flipBits, overwrite, truncate, extend);

type PartMutation = (parts: AzureEvidence) => AzureEvidence;

/** One part of the decoded evidence mutated: the HCL report, the quote, its signature, a PCR, the VCEK. */
export function mutatedParts(): fc.Arbitrary<PartMutation> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.oneof(bytesMutation, headerWord, inRegion, keep).map((m): PartMutation => (p) => ({ ...p, hclReport: m(p.hclReport) })) },
    { weight: 2, arbitrary: bytesMutation.map((m): PartMutation => (p) => ({ ...p, quote: { ...p.quote, message: m(p.quote.message) } })) },
    { weight: 1, arbitrary: bytesMutation.map((m): PartMutation => (p) => ({ ...p, quote: { ...p.quote, signature: m(p.quote.signature) } })) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.nat({ max: 23 }), flipBits).map(([index, m]): PartMutation => (p) => ({
        ...p,
        quote: { ...p.quote, pcrs: p.quote.pcrs.map((v, i) => (i === index ? m(v) : v)) },
      })),
    },
    { weight: 1, arbitrary: bytesMutation.map((m): PartMutation => (p) => ({ ...p, vcek: m(p.vcek) })) },
  );
}

export interface FuzzInput {
  readonly evidence: Uint8Array;
  /** Whether the input was built from the real vector, so that acceptance must be judged. */
  readonly derived: boolean;
}

const text = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value));

/** Random bytes, random documents, and mutations of the real evidence, decoded or as text. */
export function fuzzInput(): fc.Arbitrary<FuzzInput> {
  const randomDocument = fc
    .record({
      version: fc.constantFrom(1, 1, 2),
      hcl_report: fc.uint8Array({ maxLength: 3000 }).map((b) => Buffer.from(b).toString('base64url')),
      tpm_quote: fc.record({
        message: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('hex')),
        signature: fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('hex')),
        pcrs: fc.array(fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex')), { minLength: 24, maxLength: 24 }),
      }),
      vcek: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('base64url')),
    })
    .map((d) => ({ evidence: text(d), derived: false }));
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4000 }).map((bytes) => ({ evidence: bytes, derived: false })) },
    { weight: 1, arbitrary: randomDocument },
    { weight: 6, arbitrary: mutatedParts().map((m) => ({ evidence: encodeAzureEvidence(m(AZURE.parts())), derived: true })) },
    { weight: 2, arbitrary: fc.oneof(flipBits, overwrite, truncate).map((m) => ({ evidence: m(AZURE.evidence()), derived: true })) },
  );
}

function protectedBytes(evidence: Uint8Array): Buffer[] {
  const parts = parseAzureEvidence(evidence);
  const hcl = parseHclReport(parts.hclReport);
  return [
    Buffer.from(hcl.snpReport.subarray(0, 0x2a0 + 144)),
    Buffer.from(hcl.runtimeData),
    Buffer.from(parts.quote.message),
    Buffer.from(parts.quote.signature),
    ...parts.quote.pcrs.map((p) => Buffer.from(p)),
    ...signedPartsOfCertificate(parts.vcek),
  ];
}

/** Throws unless an accepted mutation left every signed or bound byte of the real evidence unchanged. */
export function assertUnchangedWhereSigned(evidence: Uint8Array): void {
  const got = protectedBytes(evidence);
  const want = protectedBytes(AZURE.evidence());
  if (got.length !== want.length || got.some((part, i) => !part.equals(want[i] ?? Buffer.alloc(0)))) {
    throw new Error('verification succeeded over altered signed bytes');
  }
}
