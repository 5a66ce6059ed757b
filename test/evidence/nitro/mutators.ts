import { decode, encode, Tag } from 'cbor2';
import fc from 'fast-check';
import { extendBy, flipBits, keep, overwrite, truncate, type Mutation } from '../mutate.js';

const insert: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([pos, data]) => (bytes: Uint8Array) => {
  const at = bytes.length === 0 ? 0 : pos % bytes.length;
  return new Uint8Array([...bytes.subarray(0, at), ...data, ...bytes.subarray(at)]);
});

const remove: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), fc.integer({ min: 1, max: 64 })).map(([pos, length]) => (bytes: Uint8Array) => {
  const at = bytes.length === 0 ? 0 : pos % bytes.length;
  return new Uint8Array([...bytes.subarray(0, at), ...bytes.subarray(at + length)]);
});

const extend = extendBy(32);

/** CBOR heads are where a length or a type lives: rewrite one with a random head byte. */
const cborHead: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), fc.constantFrom(0x18, 0x19, 0x1a, 0x1b, 0x40, 0x58, 0x59, 0x5a, 0x5b, 0x60, 0x78, 0x80, 0x9f, 0xa0, 0xbf, 0xc0, 0xd2, 0xd8, 0xf4, 0xf6, 0xf7, 0xf9, 0xfb, 0xff)).map(
  ([pos, head]) =>
    (bytes: Uint8Array) => {
      const out = new Uint8Array(bytes);
      if (out.length > 0) out[pos % out.length] = head;
      return out;
    },
);

/** Byte-level mutations of a whole document. */
export function mutatedBytes(): fc.Arbitrary<Mutation> {
  return fc.oneof(flipBits, overwrite, truncate, insert, remove, extend, cborHead, keep);
}

/** Values of every CBOR type the schema might meet in a field. */
export function cborValue(): fc.Arbitrary<unknown> {
  const leaf = fc.oneof(
    fc.uint8Array({ maxLength: 80 }),
    fc.constantFrom(32, 48, 64, 1024, 1025).map((n) => new Uint8Array(n)),
    fc.string({ maxLength: 20 }),
    fc.integer(),
    fc.bigInt({ min: -(2n ** 64n) + 1n, max: 2n ** 64n - 1n }),
    fc.double(),
    fc.constantFrom(null, true, false, undefined),
  );
  return fc.oneof(
    { weight: 4, arbitrary: leaf },
    { weight: 1, arbitrary: fc.array(leaf, { maxLength: 5 }) },
    { weight: 1, arbitrary: fc.array(fc.tuple(fc.oneof(fc.integer({ min: -2, max: 40 }), fc.string({ maxLength: 4 })), leaf), { maxLength: 5 }).map((entries) => new Map(entries)) },
    { weight: 1, arbitrary: fc.tuple(fc.nat(300), leaf).map(([tag, value]) => new Tag(tag, value)) },
  );
}

const FIELDS = ['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce'];

/**
 * A change to a decoded payload map: a field replaced by a value of any type, removed,
 * or added under another name. Applied to a copy.
 */
export type PayloadChange = (payload: Map<unknown, unknown>) => Map<unknown, unknown>;

export function payloadChange(): fc.Arbitrary<PayloadChange> {
  return fc.oneof(
    fc.tuple(fc.constantFrom(...FIELDS), cborValue()).map(([key, value]) => (p: Map<unknown, unknown>) => new Map(p).set(key, value)),
    fc.constantFrom(...FIELDS).map((key) => (p: Map<unknown, unknown>) => {
      const copy = new Map(p);
      copy.delete(key);
      return copy;
    }),
    fc.tuple(fc.oneof(fc.string({ maxLength: 12 }), fc.integer()), cborValue()).map(([key, value]) => (p: Map<unknown, unknown>) => new Map(p).set(key, value)),
    fc.tuple(fc.integer({ min: -1, max: 33 }), cborValue()).map(([index, value]) => (p: Map<unknown, unknown>) => {
      const pcrs = p.get('pcrs');
      return new Map(p).set('pcrs', new Map(pcrs instanceof Map ? pcrs : []).set(index, value));
    }),
  );
}

/** The decoded payload map of a document, read leniently (the generator's own view). */
export function payloadOf(document: Uint8Array): Map<unknown, unknown> {
  const top = decode(document) as unknown;
  const parts = (top instanceof Tag ? top.contents : top) as Uint8Array[];
  return decode(parts[2]!, { preferMap: true }) as Map<unknown, unknown>;
}

/** The re-encoded payload with `change` applied, or undefined when cbor2 cannot write it. */
export function changedPayload(document: Uint8Array, change: PayloadChange): Uint8Array | undefined {
  try {
    return encode(change(payloadOf(document)));
  } catch {
    return undefined;
  }
}

/**
 * The protected header, payload and signature of an accepted document, read with cbor2's
 * own defaults, independently of the plugin. An accepted mutation must leave all three
 * byte for byte as they were: only the envelope around them (tag 18, the length heads)
 * may differ and still verify.
 */
export function coseParts(document: Uint8Array): string {
  const top = decode(document) as unknown;
  const parts = (top instanceof Tag ? top.contents : top) as Uint8Array[];
  return [parts[0]!, parts[2]!, parts[3]!].map((part) => Buffer.from(part).toString('hex')).join('.');
}
