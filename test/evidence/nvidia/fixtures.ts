import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeNvidiaEvidence } from '../../../src/evidence/nvidia/index.js';
export { flipped, xorAt } from '../bytes.js';

const DIR = fileURLToPath(new URL('../../fixtures/nvidia-hopper/', import.meta.url));

export function fixturePath(name: string): string {
  return DIR + name;
}

/** A fresh copy of a fixture file, safe to mutate. */
export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(DIR + name));
}

export const fixtureText = (name: string): string => readFileSync(DIR + name, 'utf8');

export interface HopperVector {
  readonly name: string;
  /** The raw report bytes (decoded from the hex file). */
  readonly report: () => Uint8Array;
  readonly chainPem: () => string;
  /** The Covenant evidence document. */
  readonly evidence: () => Uint8Array;
  readonly nonce: Uint8Array;
  readonly trailingBytes: number;
  readonly now: Date;
}

function vector(name: string, reportFile: string, chainFile: string, nonceHex: string, trailingBytes: number): HopperVector {
  const report = (): Uint8Array => new Uint8Array(Buffer.from(fixtureText(reportFile).trim(), 'hex'));
  const chainPem = (): string => fixtureText(chainFile);
  return {
    name,
    report,
    chainPem,
    evidence: () => encodeNvidiaEvidence(report(), chainPem()),
    nonce: new Uint8Array(Buffer.from(nonceHex, 'hex')),
    trailingBytes,
    now: new Date('2025-01-01T00:00:00Z'),
  };
}

/** nvtrust's Hopper sample, also Trustee's `hopperAttestationReport.txt`. */
export const HOPPER = vector(
  'nvtrust hopper sample',
  'hopperAttestationReport.txt',
  'hopperCertChain.txt',
  '931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb',
  0,
);

/** Trustee's Confidential Containers CI report: one byte after the signature. */
export const HOPPER_COCO = vector(
  'trustee coco hopper report',
  'hopper_coco_report1.txt',
  'hopper_coco_certs1.txt',
  '87d8e24ab336adafe228d49e83d745f6dba4ae505372b6a5704820856b343fec',
  1,
);

export const VECTORS = [HOPPER, HOPPER_COCO] as const;

/** The latest notBefore on both chains: the Provisioner ICA's. */
export const CHAIN_NOT_BEFORE = new Date('2022-03-01T00:00:00Z');

/** Offsets into the raw report of the first vector, from its declared lengths. */
export const LAYOUT = {
  requestNonce: 4,
  /** The response starts after the 37-byte request; its record after 8 more bytes. */
  record: 37 + 8,
  /** Block 1's digest: record + 4-byte block header + 3-byte DMTF header. */
  firstDigest: 37 + 8 + 7,
  responderNonce: 37 + 8 + 3520,
  opaque: 37 + 8 + 3520 + 32 + 2,
  opaqueLength: 422,
} as const;

/** Splits a PEM chain into its blocks (with their END lines). */
export function pemBlocksOf(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** The DER of the i-th certificate of a PEM chain. */
export function derAt(pem: string, i: number): Uint8Array {
  const block = pemBlocksOf(pem)[i] ?? '';
  return new Uint8Array(Buffer.from(block.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, ''), 'base64'));
}

export function toPemText(der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}
