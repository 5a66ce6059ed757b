import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeAzureEvidence, parseAzureEvidence, type AzureEvidence } from '../../../src/evidence/azure-snp-vtpm/index.js';
export { flipped, xorAt } from '../bytes.js';

const DIR = fileURLToPath(new URL('../../fixtures/azure-snp-vtpm/', import.meta.url));

/** A fresh copy of a fixture file, safe to mutate. */
export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(DIR + name));
}

/** The AMD Genoa ASK and ARK of the sev-snp fixtures: real roots, of the wrong product. */
export function genoaRoots(): Uint8Array {
  return new Uint8Array(readFileSync(fileURLToPath(new URL('../../fixtures/sev-snp/genoa-ask-ark.pem', import.meta.url))));
}

export const AZURE = {
  /** The file as Trustee wrote it. */
  evidence: (): Uint8Array => fixture('evidence-v1.json'),
  /** Decoded, as fresh copies. */
  parts: (): AzureEvidence => parseAzureEvidence(fixture('evidence-v1.json')),
  nonce: new TextEncoder().encode('challenge'),
  now: new Date('2026-01-01T00:00:00Z'),
  vcekNotBefore: new Date('2025-01-28T16:26:55Z'),
  vcekNotAfter: new Date('2032-01-28T16:26:55Z'),
} as const;

/** Offsets into the decoded HCL report. */
export const HCL = {
  snp: 0x20,
  snpReportData: 0x20 + 0x50,
  snpMeasurement: 0x20 + 0x90,
  snpVmpl: 0x20 + 0x30,
  snpPolicy: 0x20 + 0x08,
  snpSignature: 0x20 + 0x2a0,
  igvm: 0x4c0,
  reportType: 0x4c0 + 8,
  hashType: 0x4c0 + 12,
  runtimeSize: 0x4c0 + 16,
  runtime: 0x4d4,
  runtimeLength: 1110,
} as const;

/** Offsets into the TPMS_ATTEST: magic, type, qualifiedSigner (2+34), extraData (2+9), clock… */
export const QUOTE = {
  qualifiedSigner: 8,
  extraData: 8 + 34 + 2,
  clock: 8 + 34 + 2 + 9,
  pcrDigest: 122 - 32,
  length: 122,
} as const;

/** The evidence with one part changed, re-encoded. */
export function withParts(change: (parts: AzureEvidence) => AzureEvidence): Uint8Array {
  return encodeAzureEvidence(change(AZURE.parts()));
}

export function writeU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  new DataView(copy.buffer).setUint32(at, value >>> 0, true);
  return copy;
}
