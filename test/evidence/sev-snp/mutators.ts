import fc from 'fast-check';
import { xorAt } from './fixtures.js';

/** A mutation of real bytes; pure, returns a new array. */
export type Mutation = (bytes: Uint8Array) => Uint8Array;

const flipBits: fc.Arbitrary<Mutation> = fc
  .array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 })
  .map((flips) => (bytes: Uint8Array) => {
    const out = new Uint8Array(bytes);
    if (out.length === 0) return out;
    for (const [pos, bit] of flips) xorAt(out, pos % out.length, 1 << bit);
    return out;
  });

const overwrite: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([pos, data]) => (bytes: Uint8Array) => {
  const out = new Uint8Array(bytes);
  if (out.length === 0) return out;
  const at = pos % out.length;
  out.set(data.subarray(0, out.length - at), at);
  return out;
});

const truncate: fc.Arbitrary<Mutation> = fc.nat().map((n) => (bytes: Uint8Array) => bytes.slice(0, bytes.length === 0 ? 0 : n % bytes.length));

const extend: fc.Arbitrary<Mutation> = fc.uint8Array({ minLength: 1, maxLength: 32 }).map((tail) => (bytes: Uint8Array) => {
  const out = new Uint8Array(bytes.length + tail.length);
  out.set(bytes);
  out.set(tail, bytes.length);
  return out;
});

/** Writes a little-endian u32 where report header words live: version, flags, sig algo. */
const headerWord: fc.Arbitrary<Mutation> = fc
  .tuple(fc.constantFrom(0x00, 0x30, 0x34, 0x48), fc.oneof(fc.integer({ min: 0, max: 8 }), fc.nat()))
  .map(([offset, value]) => (bytes: Uint8Array) => {
    const out = new Uint8Array(bytes);
    if (out.length >= offset + 4) new DataView(out.buffer).setUint32(offset, value >>> 0, true);
    return out;
  });

/** Mutations aimed at a 1184-byte SEV-SNP report. */
export function mutatedReport(): fc.Arbitrary<Mutation> {
  return fc.oneof(flipBits, overwrite, truncate, extend, headerWord, fc.constant((b: Uint8Array) => new Uint8Array(b)));
}

/** Mutations aimed at a DER certificate, including the PEM wrapping of the result. */
export function mutatedCertificate(): fc.Arbitrary<Mutation> {
  const base = fc.oneof(flipBits, overwrite, truncate, extend);
  return fc.tuple(base, fc.boolean()).map(([m, asPem]) => (bytes: Uint8Array) => {
    const der = m(bytes);
    if (!asPem) return der;
    const b64 = Buffer.from(der).toString('base64');
    return new TextEncoder().encode(`-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`);
  });
}
