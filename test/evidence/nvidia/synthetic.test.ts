import { createHash } from 'node:crypto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifiedChains } from '../../../src/evidence/nvidia/chain.js';
import { nvidiaGpuPlugin, parseSpdmReport } from '../../../src/evidence/nvidia/index.js';
import type { VerifyContext } from '../../../src/evidence/plugin.js';
import { crl } from '../x509/pki.js';
import { expectRefused } from '../refusal.js';
import { DEFAULT_OPAQUE, document, field, gpuPki, PKI_NOW, signed, SYNTHETIC_NONCE, unsignedReport, type GpuPki } from './builders.js';

/**
 * What the real reports cannot show, with a throwaway P-384 chain: the FWID comparison,
 * other keys, validity windows and revocation of the leaf, the order of the checks.
 */

const FWID = new Uint8Array(48).fill(0xf1);
const withFwid = [...DEFAULT_OPAQUE, field(20, FWID)];

let pki: GpuPki;
let anchors: Uint8Array[];
const ctx = (extra: Partial<VerifyContext> = {}): VerifyContext => ({ now: PKI_NOW, trustAnchors: anchors, ...extra });

beforeAll(async () => {
  pki = await gpuPki({ fwid: FWID });
  anchors = [pki.root.der];
});

beforeEach(() => verifiedChains.clear());

describe('a synthetic report signed by a synthetic chain', () => {
  it('verifies, with one config digest per block and one measurement over the record', async () => {
    const report = await signed(unsignedReport({ opaque: withFwid, blocks: [{ index: 2 }, { index: 9 }] }), pki.leaf.keys.privateKey);
    const claims = await nvidiaGpuPlugin.verify(document(report, pki.chainPem), ctx({ expectedNonce: SYNTHETIC_NONCE }));
    const record = parseSpdmReport(report).response.record;
    expect(claims.measurements).toEqual([{ alg: 'sha384', hex: createHash('sha384').update(record).digest('hex') }]);
    expect(claims.config).toEqual({
      measurement2: { alg: 'sha384', hex: '02'.repeat(48) },
      measurement9: { alg: 'sha384', hex: '09'.repeat(48) },
    });
    expect(claims.details).toMatchObject({ fwidChecked: true, chainLength: 3, root: 'CN=Test GPU Identity CA, O=Covenant Tests', trailingBytes: 0 });
  });

  it('is refused by the shipped NVIDIA root', async () => {
    const report = await signed(unsignedReport({ opaque: withFwid }), pki.leaf.keys.privateKey);
    await expectRefused(nvidiaGpuPlugin.verify(document(report, pki.chainPem), { now: PKI_NOW }), 'chain');
  });

  it('checks the nonce after the signature: a forged report is a signature refusal, whatever its nonce', async () => {
    const other = await gpuPki({ fwid: FWID });
    const forged = await signed(unsignedReport({ opaque: withFwid, nonce: new Uint8Array(32) }), other.leaf.keys.privateKey);
    await expectRefused(nvidiaGpuPlugin.verify(document(forged, pki.chainPem), ctx({ expectedNonce: SYNTHETIC_NONCE })), 'signature');
  });

  it('tolerates trailing bytes of any length and value', async () => {
    const report = await signed(unsignedReport({ opaque: withFwid }), pki.leaf.keys.privateKey, new Uint8Array(100).fill(0x5a));
    await expect(nvidiaGpuPlugin.verify(document(report, pki.chainPem), ctx())).resolves.toMatchObject({ details: { trailingBytes: 100 } });
  });
});

describe('the firmware identity (FWID)', () => {
  it("refuses a report naming another firmware than the leaf's as endorsement-mismatch", async () => {
    const report = await signed(unsignedReport({ opaque: [...DEFAULT_OPAQUE, field(20, new Uint8Array(48).fill(0xf2))] }), pki.leaf.keys.privateKey);
    await expectRefused(nvidiaGpuPlugin.verify(document(report, pki.chainPem), ctx()), 'endorsement-mismatch', /fwid f2f2/);
  });

  it('refuses a report naming a firmware when the leaf has no TcbInfo', async () => {
    const bare = await gpuPki({ fwid: null });
    const report = await signed(unsignedReport({ opaque: withFwid }), bare.leaf.keys.privateKey);
    await expectRefused(nvidiaGpuPlugin.verify(document(report, bare.chainPem), ctx({ trustAnchors: [bare.root.der] })), 'endorsement-mismatch', /no TcbInfo/);
  });

  it('accepts a report without fwid (older drivers) and says the comparison was not made', async () => {
    const report = await signed(unsignedReport(), pki.leaf.keys.privateKey);
    const claims = await nvidiaGpuPlugin.verify(document(report, pki.chainPem), ctx());
    expect(claims.details).toMatchObject({ fwidChecked: false, certificate: { fwids: [{ alg: 'sha384', hex: 'f1'.repeat(48) }] } });
  });
});

describe('the leaf key and its validity', () => {
  it('refuses a leaf that is not EC P-384 as unsupported', async () => {
    const p256 = await gpuPki({ leafCurve: 'P-256' });
    const report = new Uint8Array([...unsignedReport(), ...new Uint8Array(96).fill(1)]);
    await expectRefused(nvidiaGpuPlugin.verify(document(report, p256.chainPem), ctx({ trustAnchors: [p256.root.der] })), 'unsupported', /P-384/);
  });

  it('refuses a leaf outside its validity as expired, inside it bounds included as valid', async () => {
    const window = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2025-12-31T23:59:59Z') };
    const short = await gpuPki({ fwid: FWID, leafValidity: window });
    const evidence = document(await signed(unsignedReport({ opaque: withFwid }), short.leaf.keys.privateKey), short.chainPem);
    const at = (now: Date): VerifyContext => ({ now, trustAnchors: [short.root.der] });
    await expect(nvidiaGpuPlugin.verify(evidence, at(window.notBefore))).resolves.toBeDefined();
    await expect(nvidiaGpuPlugin.verify(evidence, at(window.notAfter))).resolves.toBeDefined();
    await expectRefused(nvidiaGpuPlugin.verify(evidence, at(new Date(window.notAfter.getTime() + 1000))), 'expired', /Test GPU FMC LF/);
    await expectRefused(nvidiaGpuPlugin.verify(evidence, at(new Date(window.notBefore.getTime() - 1000))), 'expired');
  });
});

describe('revocation by CRLs in the collateral', () => {
  const window = { thisUpdate: new Date('2025-05-01T00:00:00Z'), nextUpdate: new Date('2025-07-01T00:00:00Z') };

  it('refuses a leaf its ICA revoked, accepts it with a clean CRL, and says CRLs were checked', async () => {
    const report = await signed(unsignedReport({ opaque: withFwid }), pki.leaf.keys.privateKey);
    const revoked = await crl(pki.ica, ['7a01'], window);
    await expectRefused(nvidiaGpuPlugin.verify(document(report, pki.chainPem), ctx({ collateral: [revoked] })), 'revoked', /serial 7a01.*revoked by CN=Test GPU Provisioner ICA/);
    const clean = await crl(pki.ica, ['7a02'], window);
    const claims = await nvidiaGpuPlugin.verify(document(report, pki.chainPem), ctx({ collateral: [clean] }));
    expect(claims.details).toMatchObject({ crlsChecked: true });
  });

  it('refuses a CRL past its next update as expired, and never caches a chain checked against CRLs', async () => {
    const report = await signed(unsignedReport({ opaque: withFwid }), pki.leaf.keys.privateKey);
    const clean = await crl(pki.ica, [], window);
    await nvidiaGpuPlugin.verify(document(report, pki.chainPem), ctx({ collateral: [clean] }));
    expect(verifiedChains.size).toBe(0);
    await expectRefused(nvidiaGpuPlugin.verify(document(report, pki.chainPem), ctx({ collateral: [clean], now: new Date('2025-08-01T00:00:00Z') })), 'expired');
  });
});
