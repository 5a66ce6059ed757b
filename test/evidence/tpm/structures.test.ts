import { describe, expect, it } from 'vitest';
import { EvidenceError } from '../../../src/evidence/plugin.js';
import { TpmReader } from '../../../src/evidence/tpm/reader.js';
import { parsePublic, parseQuoteAttest, parseSignature } from '../../../src/evidence/tpm/structures.js';
import { attest, eccPublic, ecKeys, rsaKeys, rsaPublic, signQuote, tpm2b, u16, u32 } from './builders.js';
import { gce } from './gce-fixture.js';

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(EvidenceError);
    return (error as EvidenceError).reason;
  }
  throw new Error('expected a refusal');
}

describe('TpmReader', () => {
  it('reads big-endian integers and sized buffers', () => {
    const reader = new TpmReader(new Uint8Array([1, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 2, 9, 9]), 'test');
    expect(reader.u16('a')).toBe(0x0102);
    expect(reader.u32('b')).toBe(3);
    expect(reader.u64('c')).toBe(4n);
    expect(Array.from(reader.tpm2b(2, 'd'))).toEqual([9, 9]);
    expect(() => reader.end()).not.toThrow();
  });

  it("refuses truncation, oversize buffers and trailing bytes with 'malformed'", () => {
    expect(reason(() => new TpmReader(new Uint8Array([1]), 't').u16('x'))).toBe('malformed');
    expect(reason(() => new TpmReader(new Uint8Array([0, 5, 1, 2]), 't').tpm2b(10, 'x'))).toBe('malformed');
    expect(reason(() => new TpmReader(new Uint8Array([0, 5, 1, 2, 3, 4, 5]), 't').tpm2b(4, 'x'))).toBe('malformed');
    expect(reason(() => new TpmReader(new Uint8Array([0]), 't').end())).toBe('malformed');
  });
});

describe('TPMS_ATTEST', () => {
  it('parses the GCE quote', () => {
    const quote = parseQuoteAttest(gce.quote);
    expect(Buffer.from(quote.extraData).toString('hex')).toBe('9009');
    expect(quote.firmwareVersion).toBe(0x2016051100162800n);
    expect(quote.pcrSelections).toEqual([{ hash: 0x000b, pcrs: Array.from({ length: 24 }, (_, i) => i) }]);
    expect(quote.pcrDigest).toHaveLength(32);
    expect(quote.qualifiedSigner).toHaveLength(34);
  });

  it('refuses a wrong magic as malformed and other attestation types as unsupported', () => {
    const base = { extraData: new Uint8Array([1]), selection: [{ bank: 'sha256' as const, pcrs: [0] }], pcrDigest: new Uint8Array(32) };
    expect(() => parseQuoteAttest(attest(base))).not.toThrow();
    expect(reason(() => parseQuoteAttest(attest({ ...base, magic: 0xff544348 })))).toBe('malformed');
    expect(reason(() => parseQuoteAttest(attest({ ...base, type: 0x8017 })))).toBe('unsupported');
    expect(reason(() => parseQuoteAttest(Buffer.concat([attest(base), Buffer.from([0])])))).toBe('malformed');
  });

  it('refuses every truncation of the GCE quote', () => {
    for (let length = 0; length < gce.quote.length; length++) {
      expect(reason(() => parseQuoteAttest(gce.quote.subarray(0, length)))).toBe('malformed');
    }
  });
});

describe('TPMT_SIGNATURE', () => {
  it('parses RSASSA (GCE), RSAPSS and ECDSA', () => {
    const rsassa = parseSignature(gce.signature);
    expect(rsassa).toMatchObject({ scheme: 'rsassa', hash: 0x000b });
    const rsa = rsaKeys();
    expect(parseSignature(signQuote(Buffer.from('x'), rsa.privateKey, 'rsapss', 'sha384'))).toMatchObject({ scheme: 'rsapss', hash: 0x000c });
    const ec = ecKeys('P-384');
    const ecdsa = parseSignature(signQuote(Buffer.from('x'), ec.privateKey, 'ecdsa', 'sha384'));
    expect(ecdsa).toMatchObject({ scheme: 'ecdsa', hash: 0x000c });
    expect(ecdsa.scheme === 'ecdsa' && ecdsa.r.length).toBe(48);
  });

  it('refuses other schemes as unsupported', () => {
    expect(reason(() => parseSignature(Buffer.concat([u16(0x0010)])))).toBe('unsupported');
    expect(reason(() => parseSignature(Buffer.concat([u16(0x0005), u16(0x000b), tpm2b(Buffer.alloc(32))])))).toBe('unsupported');
  });
});

describe('TPMT_PUBLIC', () => {
  it('parses the GCE RSA AK into the same key as its certificate', async () => {
    const ak = parsePublic(gce.akPublic);
    expect(ak).toMatchObject({ type: 'rsa', nameAlg: 0x000b, objectAttributes: 0x00050072, keySize: 2048 });
    const { X509Certificate } = await import('node:crypto');
    const certified = new X509Certificate(Buffer.from(gce.akCertificate)).publicKey;
    expect(ak.key.export({ type: 'spki', format: 'der' }).equals(certified.export({ type: 'spki', format: 'der' }))).toBe(true);
  });

  it('parses ECC keys on P-256, P-384 and P-521 through JWK', () => {
    for (const curve of ['P-256', 'P-384', 'P-521'] as const) {
      const keys = ecKeys(curve);
      const parsed = parsePublic(eccPublic(keys.publicKey));
      expect(parsed).toMatchObject({ type: 'ecc', keySize: curve, scheme: { alg: 0x0018, hash: 0x000b } });
      expect(parsed.key.export({ format: 'jwk' })).toEqual(keys.publicKey.export({ format: 'jwk' }));
    }
  });

  it('refuses points off the curve as malformed, small RSA and other types as unsupported', () => {
    const bytes = eccPublic(ecKeys().publicKey);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 1;
    expect(reason(() => parsePublic(bytes))).toBe('malformed');
    expect(reason(() => parsePublic(rsaPublic(rsaKeys(1024).publicKey)))).toBe('unsupported');
    expect(reason(() => parsePublic(Buffer.concat([u16(0x0008), u16(0x000b), u32(0)])))).toBe('unsupported');
  });

  it('refuses every truncation of the GCE AK', () => {
    for (let length = 0; length < gce.akPublic.length; length++) {
      expect(['malformed', 'unsupported']).toContain(reason(() => parsePublic(gce.akPublic.subarray(0, length))));
    }
  });
});
