import { generateKeyPairSync } from 'node:crypto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nitroPlugin, verifiedChains } from '../../../src/evidence/nitro/index.js';
import type { VerifyContext } from '../../../src/evidence/plugin.js';
import { issue, rootCa } from '../x509/pki.js';
import { debugPcrs, document, makePki, productionPcrs, SYNTH_NOW, SYNTH_VALIDITY, type Pki } from './builder.js';
import { expectRefused } from '../refusal.js';
import { flipped, offsetOf } from './fixtures.js';

/**
 * What the real document cannot show, on documents signed here under a throwaway P-384
 * PKI: debug mode, a nonce and user data, the tagged form, the key and path checks.
 */

let pki: Pki;
const ctx = (extra: Partial<VerifyContext> = {}): VerifyContext => ({ now: SYNTH_NOW, trustAnchors: [pki.root.der], ...extra });

beforeAll(async () => {
  pki = await makePki();
});

beforeEach(() => {
  verifiedChains.clear();
});

describe('a production-mode synthetic document', () => {
  it('verifies under its own root, with PCR3, PCR4 and PCR8 as config and PCR8 as signer', async () => {
    const claims = await nitroPlugin.verify(document(pki), ctx());
    expect(claims.debug).toBe(false);
    expect(claims.measurements).toEqual([0x10, 0x11, 0x12].map((b) => ({ alg: 'sha384', hex: b.toString(16).repeat(48) })));
    expect(claims.config).toEqual({
      pcr3: { alg: 'sha384', hex: '13'.repeat(48) },
      pcr4: { alg: 'sha384', hex: '14'.repeat(48) },
      pcr8: { alg: 'sha384', hex: '18'.repeat(48) },
    });
    expect(claims.signer).toBe('18'.repeat(48));
    expect(claims.reportData).toBeUndefined();
    expect(claims.publicKey).toBeUndefined();
  });

  it('leaves zero PCR3/4/8 out of config and signer', async () => {
    const pcrs = productionPcrs();
    for (const i of [3, 4, 8]) pcrs.set(i, new Uint8Array(48));
    const claims = await nitroPlugin.verify(document(pki, { pcrs }), ctx());
    expect(claims.config).toEqual({});
    expect(claims.signer).toBeUndefined();
  });

  it('verifies in the tagged form (CBOR tag 18) with the same claims', async () => {
    const untagged = await nitroPlugin.verify(document(pki), ctx());
    const tagged = document(pki, {}, { tagged: true });
    expect(tagged[0]).toBe(0xd2);
    expect(await nitroPlugin.verify(tagged, ctx())).toEqual(untagged);
  });

  it('is refused as chain under the default AWS root: the cabundle root copy is never trusted by itself', async () => {
    await expectRefused(nitroPlugin.verify(document(pki), { now: SYNTH_NOW }), 'chain', /does not chain to a trust anchor/);
  });

  it('is refused as signature when another key signed it', async () => {
    await expectRefused(nitroPlugin.verify(document(pki, {}, { signer: pki.intermediate }), ctx()), 'signature', /does not verify/);
  });
});

describe('debug mode', () => {
  it('reports debug when PCR0 is all zero, which the default policy refuses', async () => {
    const claims = await nitroPlugin.verify(document(pki, { pcrs: debugPcrs() }), ctx());
    expect(claims.debug).toBe(true);
    expect(claims.measurements).toEqual([0, 1, 2].map(() => ({ alg: 'sha384', hex: '00'.repeat(48) })));
  });
});

describe('nonce, user_data and public_key', () => {
  const nonce = new Uint8Array(32).map((_, i) => i + 1);
  const userData = new Uint8Array(64).fill(0xab);
  const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));

  it('are reported: user_data as report data, public_key as a JWK, all three raw in details', async () => {
    const claims = await nitroPlugin.verify(document(pki, { nonce, user_data: userData, public_key: spki }), ctx({ expectedNonce: nonce }));
    expect(claims.reportData).toBe('ab'.repeat(64));
    expect(claims.publicKey).toEqual(publicKey.export({ format: 'jwk' }));
    expect(claims.details).toMatchObject({
      nonce: Buffer.from(nonce).toString('hex'),
      userData: 'ab'.repeat(64),
      publicKey: Buffer.from(spki).toString('hex'),
    });
  });

  it('an absent field and a null one mean the same', async () => {
    const absent = await nitroPlugin.verify(document(pki, { nonce: undefined, user_data: undefined, public_key: undefined }), ctx());
    const nulls = await nitroPlugin.verify(document(pki), ctx());
    expect(absent).toEqual(nulls);
  });

  it('empty user_data and nonce are allowed (AWS bounds them 0..512)', async () => {
    const claims = await nitroPlugin.verify(document(pki, { nonce: new Uint8Array(0), user_data: new Uint8Array(0) }), ctx({ expectedNonce: new Uint8Array(0) }));
    expect(claims.reportData).toBe('');
  });

  it('the nonce must equal the expected one byte for byte', async () => {
    const doc = document(pki, { nonce });
    await expect(nitroPlugin.verify(doc, ctx({ expectedNonce: nonce }))).resolves.toBeDefined();
    await expectRefused(nitroPlugin.verify(doc, ctx({ expectedNonce: flipped(nonce, 31) })), 'nonce', /not the expected one/);
    await expectRefused(nitroPlugin.verify(doc, ctx({ expectedNonce: nonce.subarray(0, 31) })), 'nonce');
    await expectRefused(nitroPlugin.verify(doc, ctx({ expectedNonce: new Uint8Array([...nonce, 0]) })), 'nonce');
    // Without an expected nonce the plugin only reports it.
    await expect(nitroPlugin.verify(doc, ctx())).resolves.toBeDefined();
  });

  it('a document without a nonce is refused when one is expected', async () => {
    await expectRefused(nitroPlugin.verify(document(pki, { user_data: userData }), ctx({ expectedNonce: nonce })), 'nonce', /carries no nonce/);
  });

  it('a flipped byte in the nonce, the user_data or the public_key is refused as signature', async () => {
    const doc = document(pki, { nonce, user_data: userData, public_key: spki });
    for (const field of [nonce, userData, spki]) {
      await expectRefused(nitroPlugin.verify(flipped(doc, offsetOf(doc, field) + 5), ctx()), 'signature', /does not verify/);
    }
    // Checked before the nonce comparison: a forged document reads as forged.
    await expectRefused(nitroPlugin.verify(flipped(doc, offsetOf(doc, nonce) + 5), ctx({ expectedNonce: nonce })), 'signature');
  });

  it('a public_key that is no SubjectPublicKeyInfo is reported raw only', async () => {
    const claims = await nitroPlugin.verify(document(pki, { public_key: new Uint8Array([1, 2, 3]) }), ctx());
    expect(claims.publicKey).toBeUndefined();
    expect(claims.details).toMatchObject({ publicKey: '010203' });
  });
});

describe('the signing certificate and its path', () => {
  it('refuses a signing certificate that is a CA', async () => {
    const caLeaf = await issue(pki.intermediate, 'CN=not an end entity', SYNTH_VALIDITY, { ca: true, curve: 'P-384' });
    const doc = document(pki, { certificate: caLeaf.der }, { signer: caLeaf });
    await expectRefused(nitroPlugin.verify(doc, ctx()), 'chain', /is a CA certificate/);
  });

  it('refuses a P-256 signing key as unsupported: ES384 means P-384', async () => {
    const p256 = await issue(pki.intermediate, 'CN=p256 leaf', SYNTH_VALIDITY, { curve: 'P-256' });
    // Signed by a P-384 key, so the signature has the ES384 length and only the key is wrong.
    const doc = document(pki, { certificate: p256.der });
    await expectRefused(nitroPlugin.verify(doc, ctx()), 'unsupported', /not EC P-384/);
  });

  it('refuses a path longer than a CA pathLenConstraint allows', async () => {
    // The intermediate has pathlen 0; a CA below it makes the path one CA too deep.
    const deeper = await issue(pki.intermediate, 'CN=one CA too many', SYNTH_VALIDITY, { ca: true, curve: 'P-384' });
    const leaf = await issue(deeper, 'CN=leaf under it', SYNTH_VALIDITY, { curve: 'P-384' });
    const doc = document(pki, { certificate: leaf.der, cabundle: [pki.root.der, pki.intermediate.der, deeper.der] }, { signer: leaf });
    await expectRefused(nitroPlugin.verify(doc, ctx()), 'chain', /allows 0 CA certificate\(s\) below it, the path has 1/);
  });

  it('accepts a longer path where no CA limits it, cabundle in AWS order', async () => {
    const root = await rootCa('CN=deep root', SYNTH_VALIDITY, { curve: 'P-384' });
    const a = await issue(root, 'CN=regional', SYNTH_VALIDITY, { ca: true, curve: 'P-384' });
    const b = await issue(a, 'CN=zonal', SYNTH_VALIDITY, { ca: true, curve: 'P-384', pathLength: 1 });
    const c = await issue(b, 'CN=instance', SYNTH_VALIDITY, { ca: true, curve: 'P-384', pathLength: 0 });
    const leaf = await issue(c, 'CN=enclave', SYNTH_VALIDITY, { curve: 'P-384' });
    const doc = document(pki, { certificate: leaf.der, cabundle: [root.der, a.der, b.der, c.der] }, { signer: leaf });
    const claims = await nitroPlugin.verify(doc, { now: SYNTH_NOW, trustAnchors: [root.der] });
    expect(claims.details.chain).toEqual(['CN=enclave', 'CN=instance', 'CN=zonal', 'CN=regional', 'CN=deep root']);
  });

  it('refuses a chain whose certificates are valid but not at now', async () => {
    await expectRefused(nitroPlugin.verify(document(pki), ctx({ now: new Date('2026-01-01T00:00:00Z') })), 'expired');
    await expectRefused(nitroPlugin.verify(document(pki), ctx({ now: new Date('2024-12-31T23:59:59Z') })), 'expired');
  });
});
