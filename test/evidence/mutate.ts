import fc from 'fast-check';
import { xorAt } from './bytes.js';

/**
 * The format-blind mutations every plugin's fuzzers start from; each plugin's mutators.ts
 * adds the ones that know its layout (header words, declared lengths, CBOR heads, …).
 */

/** A mutation of real bytes; pure, returns a new array. */
export type Mutation = (bytes: Uint8Array) => Uint8Array;

/** One to eight single-bit flips anywhere. */
export const flipBits: fc.Arbitrary<Mutation> = fc
  .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 })
  .map((flips) => (bytes: Uint8Array) => {
    const out = new Uint8Array(bytes);
    if (out.length === 0) return out;
    for (const [pos, bit] of flips) xorAt(out, pos % out.length, 1 << bit);
    return out;
  });

/** Up to 64 random bytes written over the input, never past its end. */
export const overwrite: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([pos, data]) => (bytes: Uint8Array) => {
  const out = new Uint8Array(bytes);
  if (out.length === 0) return out;
  const at = pos % out.length;
  out.set(data.subarray(0, out.length - at), at);
  return out;
});

/** A strict prefix (the empty input stays empty). */
export const truncate: fc.Arbitrary<Mutation> = fc.nat().map((n) => (bytes: Uint8Array) => bytes.slice(0, bytes.length === 0 ? 0 : n % bytes.length));

/** 1 to `maxLength` random bytes appended; the plugins' fuzzers differ in how far they reach. */
export function extendBy(maxLength: number): fc.Arbitrary<Mutation> {
  return fc.uint8Array({ minLength: 1, maxLength }).map((tail) => (bytes: Uint8Array) => new Uint8Array([...bytes, ...tail]));
}

/** The input unchanged (as a copy), so that a mix of mutations also tries the real vector. */
export const keep: fc.Arbitrary<Mutation> = fc.constant((b: Uint8Array) => new Uint8Array(b));
