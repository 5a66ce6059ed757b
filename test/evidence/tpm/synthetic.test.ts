import { describe, expect, it } from 'vitest';
import { encodeTpmEvidence, parseTpmEvidence, tpmPlugin } from '../../../src/evidence/tpm/index.js';
import { attest, eccPublic, ecKeys, pcrDigest, signQuote, sha256, syntheticQuote } from './builders.js';
import { expectRefused } from '../refusal.js';

const now = new Date('2025-01-01T00:00:00Z');

function evidenceOf(q: ReturnType<typeof syntheticQuote>, overrides: Partial<Parameters<typeof encodeTpmEvidence>[0]> = {}) {
  return encodeTpmEvidence({ quote: q.quote, signature: q.signature, pcrs: { [q.bank]: q.values }, akPublic: q.akPublic, ...overrides });
}

describe('TPM plugin: synthetic quotes from pinned AKs', () => {
  const cases = [
    { keyType: 'ecdsa-p256', hash: 'sha256', bank: 'sha256' },
    { keyType: 'ecdsa-p384', hash: 'sha384', bank: 'sha256' },
    { keyType: 'rsassa', hash: 'sha256', bank: 'sha384' },
    { keyType: 'rsapss', hash: 'sha512', bank: 'sha512' },
  ] as const;
  for (const options of cases) {
    it(`verifies ${options.keyType}/${options.hash} over the ${options.bank} bank`, async () => {
      const q = syntheticQuote({ ...options, pcrs: [0, 7, 14] });
      const claims = await tpmPlugin.verify(evidenceOf(q), { now, trustAnchors: [q.pin], expectedNonce: q.nonce });
      expect(claims.measurements).toEqual([{ alg: options.hash, hex: pcrDigest(options.hash, [q.values[0], q.values[7], q.values[14]] as Uint8Array[]).toString('hex') }]);
      expect(Object.keys(claims.config)).toEqual(['pcr0', 'pcr7', 'pcr14']);
      expect(claims.config.pcr7?.alg).toBe(options.bank);
    });
  }

  it("refuses a quote whose signing hash is SHA-1 as 'unsupported'", async () => {
    const keys = ecKeys();
    const akPublic = eccPublic(keys.publicKey, { scheme: 0x0010 });
    const quote = attest({ extraData: new Uint8Array(), selection: [{ bank: 'sha256', pcrs: [0] }], pcrDigest: new Uint8Array(20) });
    const { sign } = await import('node:crypto');
    const raw = sign('sha1', quote, { key: keys.privateKey, dsaEncoding: 'ieee-p1363' });
    const signature = Buffer.concat([Buffer.from([0, 0x18, 0, 0x04, 0, 32]), raw.subarray(0, 32), Buffer.from([0, 32]), raw.subarray(32)]);
    const evidence = encodeTpmEvidence({ quote, signature, pcrs: { sha256: { 0: new Uint8Array(32) } }, akPublic });
    await expectRefused(tpmPlugin.verify(evidence, { now, trustAnchors: [sha256(akPublic)] }), 'unsupported', /sha1/);
  });

  it("refuses a signature by another key with 'signature'", async () => {
    const q = syntheticQuote();
    const other = signQuote(q.quote, ecKeys().privateKey, 'ecdsa');
    await expectRefused(tpmPlugin.verify(evidenceOf(q, { signature: other }), { now, trustAnchors: [q.pin] }), 'signature');
    const rsaSig = signQuote(q.quote, syntheticQuote({ keyType: 'rsassa' }).keys.privateKey, 'rsassa');
    await expectRefused(tpmPlugin.verify(evidenceOf(q, { signature: rsaSig }), { now, trustAnchors: [q.pin] }), 'signature');
  });

  it("refuses a pinned key that is not a restricted signing key with 'unsupported'", async () => {
    const keys = ecKeys();
    const akPublic = eccPublic(keys.publicKey, { attributes: 0x00040072 });
    const q = syntheticQuote();
    await expectRefused(tpmPlugin.verify(evidenceOf(q, { akPublic }), { now, trustAnchors: [sha256(akPublic)] }), 'unsupported', /restricted/);
  });

  it('refuses quotes over several banks as unsupported', async () => {
    const keys = ecKeys();
    const akPublic = eccPublic(keys.publicKey);
    const values = { 0: new Uint8Array(32) };
    const quote = attest({
      extraData: new Uint8Array(),
      selection: [
        { bank: 'sha256', pcrs: [0] },
        { bank: 'sha384', pcrs: [0] },
      ],
      pcrDigest: new Uint8Array(32),
    });
    const evidence = encodeTpmEvidence({ quote, signature: signQuote(quote, keys.privateKey, 'ecdsa'), pcrs: { sha256: values }, akPublic });
    await expectRefused(tpmPlugin.verify(evidence, { now, trustAnchors: [sha256(akPublic)] }), 'unsupported', /more than one PCR bank/);
  });
});

describe('TPM evidence wire format', () => {
  const q = syntheticQuote();
  const good = JSON.parse(new TextDecoder().decode(evidenceOf(q))) as Record<string, unknown>;
  const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

  it('round-trips', () => {
    const parsed = parseTpmEvidence(evidenceOf(q));
    expect(Buffer.from(parsed.quote).equals(q.quote)).toBe(true);
    expect(parsed.pcrs.get('sha256')?.get(3)).toEqual(new Uint8Array(q.values[3] as Uint8Array));
    expect(parsed.akChain).toEqual([]);
  });

  const bad: Array<[string, unknown]> = [
    ['not an object', []],
    ['an unknown member', { ...good, extra: 1 }],
    ['no quote', { ...good, quote: undefined }],
    ['unpadded base64', { ...good, quote: (good.quote as string).replace(/=+$/, '') }],
    ['base64url', { ...good, quote: 'ab-_' }],
    ['a PCR index beyond 23', { ...good, pcrs: { sha256: { '24': '00'.repeat(32) } } }],
    ['a PCR index with a leading zero', { ...good, pcrs: { sha256: { '07': '00'.repeat(32) } } }],
    ['a short PCR value', { ...good, pcrs: { sha256: { '0': '00'.repeat(31) } } }],
    ['an unknown bank', { ...good, pcrs: { sm3_256: {} } }],
    ['a __proto__ PCR key', JSON.parse(`{"quote":"${good.quote as string}","signature":"${good.signature as string}","pcrs":{"sha256":{"__proto__":"00"}}}`)],
    ['a long akChain', { ...good, akChain: Array.from({ length: 9 }, () => 'AAAA') }],
  ];
  for (const [what, document] of bad) {
    it(`refuses ${what} as malformed`, async () => {
      await expectRefused(tpmPlugin.verify(encode(document), { now, trustAnchors: [q.pin] }), 'malformed');
    });
  }

  it('refuses non-JSON, invalid UTF-8 and oversized evidence as malformed', async () => {
    await expectRefused(tpmPlugin.verify(new TextEncoder().encode('{'), { now }), 'malformed');
    await expectRefused(tpmPlugin.verify(new Uint8Array([0x7b, 0xff, 0x7d]), { now }), 'malformed');
    await expectRefused(tpmPlugin.verify(new Uint8Array(256 * 1024 + 1).fill(0x20), { now }), 'malformed', /above/);
  });
});
