import { CovenantError } from './errors.js';
import type { Digest } from './model.js';

export type DigestAlgorithm = Digest['alg'];

/** Hex digits per algorithm: the output size in bytes, times two. */
export const DIGEST_HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = Object.freeze({
  sha256: 64,
  sha384: 96,
  sha512: 128,
});

export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = Object.freeze(['sha256', 'sha384', 'sha512']);

// Longer than any valid digest by a margin; past this the input is echoed truncated
// so an error message never carries an unbounded (possibly hostile) string.
const ECHO_LIMIT = 48;

function echo(text: string): string {
  return JSON.stringify(text.length > ECHO_LIMIT ? `${text.slice(0, ECHO_LIMIT)}…` : text);
}

function isAlgorithm(value: string): value is DigestAlgorithm {
  return Object.hasOwn(DIGEST_HEX_LENGTH, value);
}

/**
 * Why `text` is not a digest `<alg>:<hex>`, or undefined when it is one. Kept separate
 * from `parseDigest` so builders can collect every bad field before failing once.
 */
export function digestProblem(text: unknown): string | undefined {
  if (typeof text !== 'string') return `expected a string "<alg>:<hex>", got ${text === null ? 'null' : typeof text}`;
  const colon = text.indexOf(':');
  if (colon < 0) return `${echo(text)} is not of the form "<alg>:<hex>" (e.g. "sha256:…")`;
  const alg = text.slice(0, colon).toLowerCase();
  const hex = text.slice(colon + 1);
  if (!isAlgorithm(alg)) {
    return `unsupported digest algorithm ${echo(text.slice(0, colon))} (expected ${DIGEST_ALGORITHMS.join(', ')})`;
  }
  const expected = DIGEST_HEX_LENGTH[alg];
  const bad = hex.search(/[^0-9a-fA-F]/);
  if (bad >= 0) {
    return `${alg} digest has a non-hex character ${echo(hex.charAt(bad))} at position ${colon + 1 + bad}`;
  }
  if (hex.length !== expected) return `${alg} digest must have ${expected} hex digits, got ${hex.length}`;
  return undefined;
}

/**
 * Parses `<alg>:<hex>`; algorithm and hex are normalised to lowercase so the same
 * digest always serialises (and therefore content-addresses) the same way.
 */
export function parseDigest(text: unknown, field = 'digest'): Digest {
  const problem = digestProblem(text);
  if (problem !== undefined) {
    throw new CovenantError('validation-failed', `${field}: ${problem}`, { issues: [{ field, message: problem }] });
  }
  const value = text as string;
  const colon = value.indexOf(':');
  return { alg: value.slice(0, colon).toLowerCase() as DigestAlgorithm, hex: value.slice(colon + 1).toLowerCase() };
}

export function formatDigest(digest: Digest): string {
  return `${digest.alg}:${digest.hex}`;
}

export function isDigest(text: unknown): text is string {
  return digestProblem(text) === undefined;
}

export function digestEquals(a: Digest, b: Digest): boolean {
  return a.alg === b.alg && a.hex.toLowerCase() === b.hex.toLowerCase();
}
