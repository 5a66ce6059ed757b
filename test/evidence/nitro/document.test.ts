import { encode, Tag } from 'cbor2';
import { beforeAll, describe, expect, it } from 'vitest';
import { LIMITS, parseDocument } from '../../../src/evidence/nitro/document.js';
import { parseSign1 } from '../../../src/evidence/nitro/cose.js';
import type { EvidenceFailure } from '../../../src/evidence/plugin.js';
import { expectRefusedSync } from '../refusal.js';
import { makePki, payload, productionPcrs, type Pki } from './builder.js';
import { MARLIN, REAL } from './fixtures.js';

/** AWS's schema, field by field (attestation_process.md §3.2.2). */

let pki: Pki;

beforeAll(async () => {
  pki = await makePki();
});

const parse = (changes: Record<string, unknown>) => parseDocument(encode(payload(pki, changes)));
const bytes = (length: number, fill = 1): Uint8Array => new Uint8Array(length).fill(fill);
const pcrsWith = (index: unknown, value: unknown): Map<unknown, unknown> => {
  const pcrs = new Map<unknown, unknown>(productionPcrs());
  pcrs.set(index, value);
  return pcrs;
};

describe('parseDocument on real documents', () => {
  it('reads every field of the yawn document', () => {
    const doc = parseDocument(parseSign1(REAL.document()).payload);
    expect(doc.moduleId).toBe(REAL.moduleId);
    expect(doc.timestamp).toBe(REAL.timestamp);
    expect(doc.digest).toBe('SHA384');
    expect([...doc.pcrs.keys()]).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(Buffer.from(doc.pcrs.get(0)!).toString('hex')).toBe(REAL.pcrs[0]);
    expect(doc.cabundle).toHaveLength(4);
    expect(doc.publicKey).toHaveLength(294);
    expect(doc.userData).toBeUndefined();
    expect(doc.nonce).toBeUndefined();
  });

  it('reads the marlin document (public_key and user_data set, nonce null)', () => {
    const doc = parseDocument(parseSign1(MARLIN.document()).payload);
    expect(Buffer.from(doc.publicKey!).toString('hex')).toBe('12345678');
    expect(Buffer.from(doc.userData!).toString('hex')).toBe('abcdef');
    expect(doc.nonce).toBeUndefined();
    expect(doc.cabundle).toHaveLength(1);
  });

  it('returns plain copies, not views into the input', () => {
    const input = encode(payload(pki, { nonce: bytes(4) }));
    const doc = parseDocument(input);
    input.fill(0);
    expect(doc.nonce).toEqual(bytes(4));
    expect(doc.certificate).toEqual(pki.leaf.der);
  });
});

describe('parseDocument refuses what the schema does not allow', () => {
  it.each<[string, Record<string, unknown>, EvidenceFailure, RegExp]>([
    ['an unknown field', { pubkey: bytes(4) }, 'malformed', /unknown field "pubkey"/],
    ['a missing module_id', { module_id: undefined }, 'malformed', /module_id is missing/],
    ['a null module_id', { module_id: null }, 'malformed', /module_id is missing/],
    ['an empty module_id', { module_id: '' }, 'malformed', /module_id is not a non-empty text/],
    ['a module_id in bytes', { module_id: bytes(4) }, 'malformed', /module_id/],
    ['a missing digest', { digest: undefined }, 'malformed', /digest is missing/],
    ['digest SHA256', { digest: 'SHA256' }, 'unsupported', /digest "SHA256" is not SHA384/],
    ['digest sha384 in lower case', { digest: 'sha384' }, 'unsupported', /not SHA384/],
    ['a digest that is no text', { digest: 384 }, 'malformed', /digest is not a text string/],
    ['a missing timestamp', { timestamp: undefined }, 'malformed', /timestamp is missing/],
    ['timestamp 0', { timestamp: 0 }, 'malformed', /timestamp is not a positive integer/],
    ['a negative timestamp', { timestamp: -1 }, 'malformed', /timestamp/],
    ['a timestamp past what a Date holds', { timestamp: 8.64e15 + 1 }, 'malformed', /timestamp/],
    ['a 64-bit timestamp beyond 2^53', { timestamp: 2n ** 60n }, 'malformed', /timestamp/],
    ['a timestamp in text', { timestamp: '1736179625472' }, 'malformed', /timestamp/],
    ['a date-tagged timestamp', { timestamp: new Tag(1, 1736179625) }, 'malformed', /timestamp/],
    ['missing pcrs', { pcrs: undefined }, 'malformed', /pcrs is missing/],
    ['pcrs as an array', { pcrs: [bytes(48)] }, 'malformed', /pcrs is not a map/],
    ['empty pcrs', { pcrs: new Map() }, 'malformed', /pcrs holds 0 entries/],
    ['PCR index 32', { pcrs: pcrsWith(32, bytes(48)) }, 'malformed', /PCR index 32/],
    ['PCR index -1', { pcrs: pcrsWith(-1, bytes(48)) }, 'malformed', /PCR index -1/],
    ['PCR index as text', { pcrs: pcrsWith('0', bytes(48)) }, 'malformed', /PCR index 0 is not an integer/],
    ['a 47-byte PCR', { pcrs: pcrsWith(3, bytes(47)) }, 'malformed', /PCR3 is not a byte string of 32\/48\/64 bytes/],
    ['a PCR in text', { pcrs: pcrsWith(3, 'ab'.repeat(24)) }, 'malformed', /PCR3/],
    ['no PCR0', { pcrs: new Map([[1, bytes(48)], [2, bytes(48)]]) }, 'malformed', /PCR0 is missing/],
    ['no PCR2', { pcrs: new Map([[0, bytes(48)], [1, bytes(48)]]) }, 'malformed', /PCR2 is missing/],
    ['a missing certificate', { certificate: undefined }, 'malformed', /certificate is missing/],
    ['an empty certificate', { certificate: new Uint8Array(0) }, 'malformed', /certificate is not a byte string of 1\.\.1024/],
    ['a certificate over 1024 bytes', { certificate: bytes(1025) }, 'malformed', /certificate is not a byte string of 1\.\.1024/],
    ['a missing cabundle', { cabundle: undefined }, 'malformed', /cabundle is missing/],
    ['an empty cabundle', { cabundle: [] }, 'malformed', /cabundle holds 0 certificates/],
    ['a cabundle of 17', { cabundle: Array.from({ length: 17 }, () => bytes(10)) }, 'malformed', /cabundle holds 17/],
    ['a cabundle item in text', { cabundle: ['MII'] }, 'malformed', /cabundle\[0\]/],
    ['a cabundle item over 1024 bytes', { cabundle: [bytes(10), bytes(1025)] }, 'malformed', /cabundle\[1\]/],
    ['an empty public_key', { public_key: new Uint8Array(0) }, 'malformed', /public_key is not a byte string of 1\.\.1024/],
    ['a public_key over 1024 bytes', { public_key: bytes(1025) }, 'malformed', /public_key/],
    ['user_data over 512 bytes', { user_data: bytes(513) }, 'malformed', /user_data is not a byte string of 0\.\.512/],
    ['a nonce over 512 bytes', { nonce: bytes(513) }, 'malformed', /nonce is not a byte string of 0\.\.512/],
    ['a nonce in text', { nonce: 'abc' }, 'malformed', /nonce/],
    ['a tagged nonce', { nonce: new Tag(24, bytes(4)) }, 'malformed', /nonce/],
    ['a boolean user_data', { user_data: false }, 'malformed', /user_data/],
  ])('%s', (_label, changes, reason, message) => {
    expectRefusedSync(() => parse(changes), reason, message);
  });

  it('accepts the largest sizes AWS allows', () => {
    const doc = parse({ public_key: bytes(LIMITS.publicKey), user_data: bytes(LIMITS.userData), nonce: bytes(LIMITS.nonce) });
    expect([doc.publicKey?.length, doc.userData?.length, doc.nonce?.length]).toEqual([1024, 512, 512]);
  });

  it('accepts 32 PCRs of 32, 48 or 64 bytes', () => {
    const pcrs = new Map<number, Uint8Array>();
    for (let i = 0; i < 32; i++) pcrs.set(i, bytes([32, 48, 64][i % 3]!));
    expect(parse({ pcrs }).pcrs.size).toBe(32);
  });

  it('refuses a payload that is not a map, and a map with a non-text key', () => {
    expectRefusedSync(() => parseDocument(encode([1, 2])), 'malformed', /payload is not a map/);
    expectRefusedSync(() => parseDocument(encode(new Map<unknown, unknown>([...payload(pki), [1, 2]]))), 'malformed', /unknown field "1"/);
  });

  it('refuses a duplicated field', () => {
    // cbor2 will not write a duplicate key, so the map is written by hand: {"digest": "SHA384", "digest": "SHA384"}.
    const field = [...encode('digest'), ...encode('SHA384')];
    expectRefusedSync(() => parseDocument(new Uint8Array([0xa2, ...field, ...field])), 'malformed', /Duplicate key/);
  });

  it('a __proto__ field is an unknown field, not a prototype', () => {
    expectRefusedSync(() => parse({ ['__proto__']: new Map([['polluted', true]]) }), 'malformed', /unknown field "__proto__"/);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});
