import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_QUOTE_BYTES, parseQuote, type Quote } from '../../../src/evidence/dcap/quote.js';
import { expectRefusedSync } from '../refusal.js';
import { layout, SGX_V3, TDX_V4, TDX_V5_OUTDATED } from './fixtures.js';
import { makePki, buildQuote, type Pki } from './synthetic.js';

/** The quote parser alone: layouts by declared lengths, and refusals by name. */

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function withU16(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = new Uint8Array(bytes);
  new DataView(out.buffer).setUint16(at, value, true);
  return out;
}

function withU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const out = new Uint8Array(bytes);
  new DataView(out.buffer).setUint32(at, value, true);
  return out;
}

const sgxBody = (q: Quote) => {
  if (q.body.kind !== 'sgx') throw new Error('not SGX');
  return q.body.report;
};
const tdBody = (q: Quote) => {
  if (q.body.kind === 'sgx') throw new Error('not TDX');
  return q.body.report;
};

describe('the real vectors', () => {
  it('sgx_quote: v3 header, enclave report, QE report, type-5 PEM chain', () => {
    const q = parseQuote(SGX_V3.quote());
    expect(q.header).toMatchObject({ version: 3, attestationKeyType: 2, teeType: 0, qeSvn: 10, pceSvn: 15 });
    expect(hex(q.header.qeVendorId)).toBe('939a7233f79c4ca9940a0db3957f0607');
    expect(q.tee).toBe('sgx');
    expect(q.bodyType).toBeUndefined();
    const r = sgxBody(q);
    expect(hex(r.mrEnclave)).toBe('33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb');
    expect(hex(r.mrSigner)).toBe('815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6');
    expect([r.isvProdId, r.isvSvn, r.configSvn]).toEqual([0, 0, 0]);
    expect(hex(r.attributes)).toBe('0500000000000000e700000000000000');
    expect(hex(r.cpuSvn)).toBe('0b0b1a18ffff04000000000000000000');
    expect(Buffer.from(r.reportData).toString('latin1')).toBe('Hello, world!' + '\0'.repeat(51));
    expect(q.signedBytes.length).toBe(48 + 384);
    expect(q.qeReport).toMatchObject({ isvProdId: 1, isvSvn: 10 });
    expect(hex(q.qeReport.mrSigner)).toBe('8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff');
    expect(q.qeAuthData.length).toBe(32);
    expect(Buffer.from(q.pckChain).toString('latin1')).toMatch(/^-----BEGIN CERTIFICATE-----[\s\S]*-----END CERTIFICATE-----\n\0$/);
    expect(q.trailingBytes).toBe(0);
  });

  it('tdx_quote: v4 TD 1.0 report, type-6 wrapper, 70 trailing bytes', () => {
    const q = parseQuote(TDX_V4.quote());
    expect(q.header).toMatchObject({ version: 4, attestationKeyType: 2, teeType: 0x81 });
    expect(q.body.kind).toBe('td10');
    const r = tdBody(q);
    expect(hex(r.teeTcbSvn)).toBe('06010300000000000000000000000000');
    expect(hex(r.mrTd)).toBe('91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7');
    expect(hex(r.mrSeam)).toBe('5b38e33a6487958b72c3c12a938eaa5e3fd4510c51aeeab58c7d5ecee41d7c436489d6c8e4f92f160b7cad34207b00c1');
    expect(hex(r.tdAttributes)).toBe('0000001000000000');
    expect(hex(r.xfam)).toBe('e702060000000000');
    expect(hex(r.rtmrs[3])).toBe('00'.repeat(48));
    expect(r.teeTcbSvn2).toBeUndefined();
    expect(q.signedBytes.length).toBe(48 + 584);
    expect(q.qeReport).toMatchObject({ isvProdId: 2, isvSvn: 6 });
    expect(q.trailingBytes).toBe(70);
  });

  it('tdx_quote_outdated: v5, body type 3 (TD 1.5), 648 bytes signed with its descriptor', () => {
    const q = parseQuote(TDX_V5_OUTDATED.quote());
    expect(q.header.version).toBe(5);
    expect(q.bodyType).toBe(3);
    expect(q.body.kind).toBe('td15');
    const r = tdBody(q);
    expect(hex(r.teeTcbSvn)).toBe('07010300000000000000000000000000');
    expect(hex(r.teeTcbSvn2 ?? new Uint8Array())).toBe('0d010300000000000000000000000000');
    expect(hex(r.mrServiceTd ?? new Uint8Array(1))).toBe('00'.repeat(48));
    expect(hex(r.reportData)).toBe('d2142b643598eb5fae2bc8529dd79a558b29f868ccbb6531cb28dab9dce47728' + '00'.repeat(32));
    expect(q.signedBytes.length).toBe(48 + 6 + 648);
    expect(q.qeReport.isvSvn).toBe(7);
    expect(q.trailingBytes).toBe(0);
  });

  it('views a private copy: changing the input afterwards changes nothing parsed', () => {
    const bytes = SGX_V3.quote();
    const q = parseQuote(bytes);
    bytes.fill(0);
    expect(hex(sgxBody(q).mrEnclave)).toBe('33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb');
  });
});

describe('declared lengths', () => {
  it.each([
    ['sgx_quote', SGX_V3.quote],
    ['tdx_quote', TDX_V4.quote],
    ['tdx_quote_outdated', TDX_V5_OUTDATED.quote],
  ] as const)('%s: every truncation inside the signature data is malformed', (_name, quote) => {
    const q = quote();
    const end = q.length - parseQuote(q).trailingBytes;
    for (let n = 0; n < end; n++) expectRefusedSync(() => parseQuote(q.subarray(0, n)), 'malformed', /truncated/);
  });

  it('a signature-data size beyond the quote is malformed; one short of its parts is malformed', () => {
    const q = SGX_V3.quote();
    const at = layout(q).signatureSize as number;
    const size = new DataView(q.buffer).getUint32(at, true);
    expectRefusedSync(() => parseQuote(withU32(q, at, size + 1)), 'malformed', /truncated at signature data/);
    expectRefusedSync(() => parseQuote(withU32(q, at, 0xffffffff)), 'malformed', /truncated at signature data/);
    expectRefusedSync(() => parseQuote(withU32(q, at, size - 1)), 'malformed', /truncated/);
  });

  it('bytes inside the signature data that no part claims are malformed; bytes after it are ignored', () => {
    const q = SGX_V3.quote();
    const at = layout(q).signatureSize as number;
    const size = new DataView(q.buffer).getUint32(at, true);
    const padded = withU32(new Uint8Array(Buffer.concat([q, Buffer.alloc(1)])), at, size + 1);
    expectRefusedSync(() => parseQuote(padded), 'malformed', /1 unexpected bytes after the last field/);
    expect(parseQuote(new Uint8Array(Buffer.concat([q, Buffer.alloc(1000, 0xee)]))).trailingBytes).toBe(1000);
  });

  it('a type-6 wrapper must hold exactly its parts', () => {
    const q = TDX_V4.quote();
    const wrapperSize = (layout(q).key as number) + 64 + 2;
    const size = new DataView(q.buffer).getUint32(wrapperSize, true);
    expectRefusedSync(() => parseQuote(withU32(q, wrapperSize, size - 1)), 'malformed');
    expectRefusedSync(() => parseQuote(withU32(q, wrapperSize, size + 1)), 'malformed');
  });

  it('a v5 body size must be its type\'s', () => {
    const q = TDX_V5_OUTDATED.quote();
    expectRefusedSync(() => parseQuote(withU32(q, 50, 584)), 'malformed', /must be 648 bytes, declared 584/);
    expectRefusedSync(() => parseQuote(withU16(q, 48, 1)), 'malformed', /contradicts TEE type 0x81/);
  });

  it(`more than ${MAX_QUOTE_BYTES} bytes, or no bytes at all, is malformed`, () => {
    expectRefusedSync(() => parseQuote(new Uint8Array(MAX_QUOTE_BYTES + 1)), 'malformed', /exceeds/);
    expectRefusedSync(() => parseQuote(new Uint8Array(0)), 'malformed');
    expectRefusedSync(() => parseQuote('quote' as unknown as Uint8Array), 'malformed', /must be bytes/);
  });
});

describe('unknown formats are refused by name', () => {
  it.each([
    [0, /version 0 is not supported/],
    [2, /version 2 is not supported \(supported: 3, 4, 5\)/],
    [6, /version 6/],
  ])('quote version %i', (version, message) => {
    expectRefusedSync(() => parseQuote(withU16(SGX_V3.quote(), 0, version)), 'unsupported', message);
  });

  it.each([
    [3, /attestation key type 3 \(ECDSA-384-with-P-384\) is not supported/],
    [0, /attestation key type 0 is not supported/],
  ])('attestation key type %i', (type, message) => {
    expectRefusedSync(() => parseQuote(withU16(TDX_V4.quote(), 2, type)), 'unsupported', message);
  });

  it('TEE types other than SGX and TDX, and TDX in a v3 quote', () => {
    expectRefusedSync(() => parseQuote(withU32(TDX_V4.quote(), 4, 0x82)), 'unsupported', /TEE type 0x82/);
    expectRefusedSync(() => parseQuote(withU32(SGX_V3.quote(), 4, 0x81)), 'unsupported', /v3 is SGX only/);
  });

  it("another vendor's QE", () => {
    const q = SGX_V3.quote();
    q[12] = 0;
    expectRefusedSync(() => parseQuote(q), 'unsupported', /QE vendor id 009a7233.* is not Intel's/);
  });

  it.each([0, 4])('v5 body type %i', (type) => {
    expectRefusedSync(() => parseQuote(withU16(TDX_V5_OUTDATED.quote(), 48, type)), 'unsupported', new RegExp(`body type ${type} is not supported`));
  });

  it.each([
    [1, /type 1 \(PPID in clear text\)/],
    [3, /type 3 \(PPID RSA-3072-OAEP encrypted\)/],
    [7, /type 7 \(platform manifest\)/],
    [9, /type 9; only type 5/],
  ])('v3 certification data type %i', (type, message) => {
    const q = SGX_V3.quote();
    const at = (layout(q).authData as number) + 32;
    expectRefusedSync(() => parseQuote(withU16(q, at, type)), 'unsupported', message);
  });

  it('v4: an outer certification data type other than 6, an inner one other than 5', () => {
    const q = TDX_V4.quote();
    const outer = (layout(q).key as number) + 64;
    expectRefusedSync(() => parseQuote(withU16(q, outer, 5)), 'unsupported', /quote v4 certification data is certification data type 5 \(PCK certificate chain\); only type 6/);
    const inner = (layout(q).authData as number) + 32;
    expectRefusedSync(() => parseQuote(withU16(q, inner, 6)), 'unsupported', /type 6 \(QE report certification data\); only type 5/);
  });
});

describe('synthetic quotes', () => {
  let pki: Pki;
  beforeAll(async () => {
    pki = await makePki();
  });

  it.each([
    [3, 'sgx', undefined, 'sgx'],
    [4, 'sgx', undefined, 'sgx'],
    [5, 'sgx', 1, 'sgx'],
    [4, 'tdx', undefined, 'td10'],
    [5, 'tdx', 2, 'td10'],
    [5, 'tdx', 3, 'td15'],
  ] as const)('v%i %s (body type %s) parses as %s', (version, tee, bodyType, kind) => {
    const q = parseQuote(buildQuote(pki, { version, tee, ...(bodyType ? { bodyType } : {}), trailing: 5 }));
    expect(q.body.kind).toBe(kind);
    expect(q.trailingBytes).toBe(5);
    expect(q.bodyType).toBe(bodyType);
  });

  it('a zero-length QE authentication data parses; its bytes are read by its declared size', () => {
    const q = parseQuote(buildQuote(pki, { authData: new Uint8Array(0) }));
    expect(q.qeAuthData.length).toBe(0);
    const long = parseQuote(buildQuote(pki, { authData: new Uint8Array(300).fill(7) }));
    expect(long.qeAuthData).toEqual(new Uint8Array(300).fill(7));
  });

  it('an auth data size pointing past its region is malformed', () => {
    const q = buildQuote(pki, {});
    const at = (layout(q).authData as number) - 2;
    expectRefusedSync(() => parseQuote(withU16(q, at, 0xffff)), 'malformed', /truncated/);
  });
});
