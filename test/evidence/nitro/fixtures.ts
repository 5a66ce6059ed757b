import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
export { flipped, xorAt } from '../bytes.js';

const DIR = fileURLToPath(new URL('../../fixtures/nitro/', import.meta.url));

/** A fresh copy of a fixture file, safe to mutate. */
export function fixture(name: string): Uint8Array {
  return new Uint8Array(readFileSync(DIR + name));
}

export function fixturePath(name: string): string {
  return DIR + name;
}

/** The real eu-central-1 document (yawn/nitro-attest tests/fixtures/attestation.cose). */
export const REAL = {
  document: () => fixture('yawn-nitro-attest_attestation.cose'),
  /** The time upstream verifies it at (unix 1736179625), inside every certificate's validity. */
  now: new Date('2025-01-06T16:07:05Z'),
  /** Long after the signing certificate's three hours ran out. */
  today: new Date('2026-12-01T00:00:00Z'),
  moduleId: 'i-0bee92034f3d60691-enc01943c5eaab3ad6a',
  timestamp: 1736179625472,
  pcrs: {
    0: '8bb159f202bb95d6d4d98e0e103918246cea734f1d57cd263e4fd56075ed53f6fa8c68854817a32749a241e11874c26b',
    1: '3b4a7e1b5f13c5a1000b3ed32ef8995ee13e9876329f9bc72650b918329ef9cf4e2e4d1e1e37375dab0ba56ba0974d03',
    2: 'f4e86b12ad3df5f9fea962ff706c23ee190b463740a32f1a679a3cd1070a7731ddd83328fe3db5e8143ea94344b6fb95',
    3: '957daeb0196a044bd93133dc03d41017db77bacb95d21c410906f0207960f63e86d08a5a5160bdacf30a8297154eaeaa',
    4: '5ecf4fb14c100ccc62999e094c99819ce9e51dd7c9497602d1cdf68b98cba25c153406046d9f9096f9d059211c7cbca3',
  },
  /** The signing certificate's validity: the window in which the whole chain is current. */
  signerNotBefore: new Date('2025-01-06T16:07:02Z'),
  signerNotAfter: new Date('2025-01-06T19:07:05Z'),
} as const;

/** marlinprotocol/oyster-monorepo sdks/rs/src/testcases/custom.bin: validly signed under a mock root. */
export const MARLIN = {
  document: () => fixture('NEGATIVE_marlin_custom-mock-root.bin'),
  /** Its timestamp, 2024-12-13T09:05:45.008Z. */
  now: new Date('2024-12-13T09:05:45Z'),
};

export const awsRootPem = (): Uint8Array => fixture('aws-nitro-root-g1.pem');

/** Where `needle` starts in `haystack`; throws when absent, so a test never flips the wrong byte. */
export function offsetOf(haystack: Uint8Array, needle: Uint8Array | string): number {
  const at = Buffer.from(haystack).indexOf(typeof needle === 'string' ? Buffer.from(needle, 'hex') : Buffer.from(needle));
  if (at < 0) throw new Error('needle not found');
  return at;
}
