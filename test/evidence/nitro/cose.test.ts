import { encode, Tag } from 'cbor2';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_DOCUMENT_BYTES, MAX_PAYLOAD_BYTES, parseSign1, sigStructure } from '../../../src/evidence/nitro/cose.js';
import { nitroPlugin } from '../../../src/evidence/nitro/index.js';
import { expectRefused, expectRefusedSync } from '../refusal.js';
import { document, envelope, ES384_HEADER, makePki, payload, SYNTH_NOW, type Pki } from './builder.js';
import { REAL } from './fixtures.js';

let pki: Pki;

beforeAll(async () => {
  pki = await makePki();
});

const sig96 = new Uint8Array(96);
/** An envelope with arbitrary parts, unsigned: for the checks made before the signature. */
const raw = (parts: unknown[]): Uint8Array => encode(parts);

describe('parseSign1', () => {
  it('reads the real document: protected {1: -35}, a payload, a 96-byte signature', () => {
    const sign1 = parseSign1(REAL.document());
    expect(Buffer.from(sign1.protectedHeader).toString('hex')).toBe('a1013822');
    expect(sign1.signature).toHaveLength(96);
    expect(sign1.payload.length).toBeGreaterThan(4000);
  });

  it('reads the tagged form the same as the untagged one', () => {
    const untagged = parseSign1(document(pki));
    const tagged = parseSign1(document(pki, {}, { tagged: true }));
    expect(Buffer.from(tagged.payload).equals(Buffer.from(untagged.payload))).toBe(true);
  });

  it('refuses other tags and other shapes as malformed', () => {
    expectRefusedSync(() => parseSign1(encode(new Tag(98, [ES384_HEADER, new Map(), new Uint8Array(1), sig96]))), 'malformed', /tag 98/);
    expectRefusedSync(() => parseSign1(encode(new Tag(18, new Tag(18, [ES384_HEADER, new Map(), new Uint8Array(1), sig96])))), 'malformed');
    expectRefusedSync(() => parseSign1(raw([ES384_HEADER, new Map(), new Uint8Array(1)])), 'malformed', /four items/);
    expectRefusedSync(() => parseSign1(encode(new Map([[1, 2]]))), 'malformed', /four items/);
    expectRefusedSync(() => parseSign1(new Uint8Array(0)), 'malformed', /empty/);
  });

  it('refuses trailing bytes after the envelope', () => {
    const doc = document(pki);
    expectRefusedSync(() => parseSign1(new Uint8Array([...doc, 0x00])), 'malformed', /Extra data/);
  });

  it('refuses input over the size bound before decoding it', () => {
    expectRefusedSync(() => parseSign1(new Uint8Array(MAX_DOCUMENT_BYTES + 1)), 'malformed', /more than/);
  });

  it.each([
    ['a protected header that is not a byte string', [new Map([[1, -35]]), new Map(), new Uint8Array(1), sig96], /protected header is not a byte string/],
    ['a non-empty unprotected header', [ES384_HEADER, new Map([[4, new Uint8Array(1)]]), new Uint8Array(1), sig96], /unprotected header is not empty/],
    ['an unprotected header that is not a map', [ES384_HEADER, [], new Uint8Array(1), sig96], /unprotected header is not a map/],
    ['a detached (nil) payload', [ES384_HEADER, new Map(), null, sig96], /payload is not a byte string/],
    ['an empty payload', [ES384_HEADER, new Map(), new Uint8Array(0), sig96], /payload is 0 bytes/],
    ['a payload over 16 KiB', [ES384_HEADER, new Map(), new Uint8Array(MAX_PAYLOAD_BYTES + 1), sig96], /payload is 16385 bytes/],
    ['a signature that is not a byte string', [ES384_HEADER, new Map(), new Uint8Array(1), 'sig'], /signature is not a byte string/],
    ['a protected header that is not a map inside', [encode([1, -35]), new Map(), new Uint8Array(1), sig96], /protected header is not a map/],
    ['a protected header that is no CBOR', [new Uint8Array([0xa1, 0x01]), new Map(), new Uint8Array(1), sig96], /protected header is not well-formed/],
  ])('refuses %s as malformed', (_label, parts, message) => {
    expectRefusedSync(() => parseSign1(raw(parts)), 'malformed', message);
  });

  it.each([
    ['ES256 (-7)', encode(new Map([[1, -7]])), /COSE algorithm -7 is not ES384/],
    ['ES512 (-36)', encode(new Map([[1, -36]])), /COSE algorithm -36/],
    ['alg as text', encode(new Map([[1, 'ES384']])), /COSE algorithm ES384 is not ES384 \(-35\)/],
    ['no alg', encode(new Map()), /names no algorithm/],
    ['alg plus crit', encode(new Map<number, unknown>([[1, -35], [2, [99]]])), /besides alg: 2/],
    ['alg plus a kid', encode(new Map<number, unknown>([[1, -35], [4, new Uint8Array(2)]])), /besides alg: 4/],
  ])('refuses a protected header with %s as unsupported', (_label, header, message) => {
    expectRefusedSync(() => parseSign1(raw([header, new Map(), new Uint8Array(1), sig96])), 'unsupported', message);
  });

  it('refuses a signature of another length as signature', () => {
    for (const length of [0, 64, 95, 97, 132]) {
      expectRefusedSync(() => parseSign1(raw([ES384_HEADER, new Map(), new Uint8Array(1), new Uint8Array(length)])), 'signature', new RegExp(`is ${length} bytes, not 96`));
    }
  });

  it('refuses indefinite lengths, duplicate keys, floats and deep nesting as malformed', () => {
    const indefinite = new Uint8Array([0x9f, ...encode(ES384_HEADER), 0xa0, 0x41, 0x00, ...encode(sig96), 0xff]);
    expectRefusedSync(() => parseSign1(indefinite), 'malformed', /Streaming/);
    expectRefusedSync(() => parseSign1(raw([new Uint8Array([0xa2, 0x01, 0x38, 0x22, 0x01, 0x38, 0x22]), new Map(), new Uint8Array(1), sig96])), 'malformed', /Duplicate key/);
    expectRefusedSync(() => parseSign1(raw([ES384_HEADER, new Map(), new Uint8Array(1), 1.5])), 'malformed', /floating point/);
    expectRefusedSync(() => parseSign1(raw([ES384_HEADER, new Map(), [[[[[1]]]]], sig96])), 'malformed', /depth/);
  });
});

describe('sigStructure', () => {
  it('is ["Signature1", protected, h\'\', payload] as cbor2 encodes it', () => {
    const sign1 = parseSign1(REAL.document());
    const expected = encode(['Signature1', sign1.protectedHeader, new Uint8Array(0), sign1.payload]);
    expect(Buffer.from(sigStructure(sign1)).equals(Buffer.from(expected))).toBe(true);
  });

  it.each([0, 1, 23, 24, 255, 256, 65_535, 65_536])('encodes a %i-byte payload with the shortest byte-string head', (length) => {
    const parts = { protectedHeader: ES384_HEADER, payload: new Uint8Array(length).fill(7) };
    expect(Buffer.from(sigStructure(parts)).equals(Buffer.from(encode(['Signature1', parts.protectedHeader, new Uint8Array(0), parts.payload])))).toBe(true);
  });
});

describe('the envelope through the plugin', () => {
  it('a payload that is signed but no CBOR map is refused as malformed', async () => {
    const doc = envelope(pki, new Uint8Array([0x01]));
    await expectRefused(nitroPlugin.verify(doc, { now: SYNTH_NOW, trustAnchors: [pki.root.der] }), 'malformed', /payload is not a map/);
  });

  it('an unexpected header parameter is refused even when the whole document is validly signed', async () => {
    const header = encode(new Map<number, unknown>([[1, -35], [3, 'application/cbor']]));
    const doc = envelope(pki, payload(pki), { protectedHeader: header });
    await expectRefused(nitroPlugin.verify(doc, { now: SYNTH_NOW, trustAnchors: [pki.root.der] }), 'unsupported', /besides alg: 3/);
  });
});
