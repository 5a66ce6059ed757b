import fc from 'fast-check';
import { extendBy, flipBits, keep, overwrite, truncate, type Mutation } from '../mutate.js';

const extend = extendBy(32);

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
  return fc.oneof(flipBits, overwrite, truncate, extend, headerWord, keep);
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
