import { createHash, X509Certificate } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { verifiedChains } from '../../../src/evidence/nvidia/chain.js';
import {
  NVIDIA_DEVICE_IDENTITY_CA_PEM,
  NVIDIA_DEVICE_IDENTITY_CA_SHA256,
  nvidiaGpuPlugin,
  parseSpdmReport,
} from '../../../src/evidence/nvidia/index.js';
import type { VerifyContext } from '../../../src/evidence/plugin.js';
import { expectRefused } from '../refusal.js';
import { CHAIN_NOT_BEFORE, derAt, fixture, fixtureText, flipped, HOPPER, HOPPER_COCO, LAYOUT, pemBlocksOf, toPemText, VECTORS } from './fixtures.js';

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const ctx = (extra: Partial<VerifyContext> = {}): VerifyContext => ({ now: HOPPER.now, ...extra });

beforeEach(() => verifiedChains.clear());

describe('nvidiaGpuPlugin', () => {
  it('declares its class and media type', () => {
    expect(nvidiaGpuPlugin.teeClass).toBe('nvidia-gpu');
    expect(nvidiaGpuPlugin.mediaTypes).toEqual(['application/vnd.nvidia.gpu-attestation+json']);
  });

  it('ships the NVIDIA Device Identity CA with the published SHA-256, the root of both sample chains', () => {
    const root = new X509Certificate(NVIDIA_DEVICE_IDENTITY_CA_PEM);
    expect(createHash('sha256').update(root.raw).digest('hex')).toBe('102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48');
    expect(NVIDIA_DEVICE_IDENTITY_CA_SHA256).toBe('102bf659d5419614c9d8e6aecebc80454eb26b1df6a769ac720b9a690b167b48');
    expect(root.subject).toBe('CN=NVIDIA Device Identity CA\nO=NVIDIA');
    expect(Buffer.from(root.raw).equals(new X509Certificate(fixture('verifier_device_root.pem')).raw)).toBe(true);
    for (const v of VECTORS) expect(Buffer.from(derAt(v.chainPem(), 4)).equals(root.raw)).toBe(true);
  });
});

describe('nvtrust Hopper sample', () => {
  it('is valid with the documented claims and nonce, using the shipped root', async () => {
    const claims = await nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx({ expectedNonce: HOPPER.nonce }));
    const report = parseSpdmReport(HOPPER.report());
    expect(claims).toMatchObject({
      teeClass: 'nvidia-gpu',
      measurements: [{ alg: 'sha384', hex: createHash('sha384').update(report.response.record).digest('hex') }],
      debug: false,
      reportData: '931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb',
    });
    expect(claims.details).toMatchObject({
      arch: 'HOPPER',
      spdmVersion: '1.1',
      nonce: '931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb',
      responderNonce: 'b4b8a06aaaa35542839388e159d447a5d6f6194998fd86513e2d591ccf640985',
      measurementOperation: 0xff,
      measurementBlocks: 64,
      driverVersion: '550.90.07',
      vbiosVersion: '96.00.9f.00.01',
      boardId: 'b1030000',
      chipSku: '882',
      chipSkuMod: '0',
      project: '1010',
      projectSku: '0200',
      projectSkuMod: '0000',
      certificate: {
        subject: 'serialNumber=53C22BA15E5D68088282DA074ED9FB37AA585771, C=US, O=NVIDIA Corporation, CN=GH100 A01 GSP FMC LF',
        serial: '53c22ba15e5d68088282da074ed9fb37aa585771',
        fwids: [{ alg: 'sha384', hex: 'f5c384aebb579217a2c66b17ed0f28e6a9b8d639041acd7b4721cec004f7275494ba94bb5cdfdb3055ee051762b1f75d' }],
      },
      root: 'CN=NVIDIA Device Identity CA, O=NVIDIA',
      chainLength: 5,
      fwidChecked: true,
      rimChecked: false,
      ocspChecked: false,
      crlsChecked: false,
      trailingBytes: 0,
    });
    expect(Object.keys(claims.config)).toHaveLength(64);
    expect(claims.signer).toBeUndefined();
    expect(JSON.parse(JSON.stringify(claims))).toEqual(claims);
  });

  it("agrees with Trustee's claims file: every measurement and opaque field", async () => {
    const claims = await nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx());
    const trustee = JSON.parse(fixtureText('trustee_hopperAttestationReport-claims.json')) as {
      measurements: Record<string, string>;
      config: Record<string, unknown>;
    };
    const measurements = Object.fromEntries(Object.entries(claims.config).map(([name, d]) => [name.replace('measurement', ''), d.hex]));
    expect(measurements).toEqual(trustee.measurements);
    for (const digest of Object.values(claims.config)) expect(digest.alg).toBe('sha384');

    const opaque = (claims.details as { opaque: Record<string, unknown> }).opaque;
    const { nvdec0_status: nvdec, protected_pcie_status: pcie, ...same } = trustee.config;
    expect(opaque).toMatchObject(same);
    // Trustee's file predates its own decoding of these one-byte fields: 0x55 read as text.
    expect([nvdec, pcie]).toEqual(['U', 'U']);
    expect(Buffer.from('U').toString('hex')).toBe('55');
    expect(opaque.protected_pcie_status).toBe('55');
    expect(opaque.nvdec0_status).toBe('disabled');
  });

  it('is valid from the Provisioner ICA notBefore on and expired just before', async () => {
    await expect(nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx({ now: CHAIN_NOT_BEFORE }))).resolves.toBeDefined();
    await expect(nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx({ now: new Date('9999-12-31T23:59:59Z') }))).resolves.toBeDefined();
    await expectRefused(
      nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx({ now: new Date(CHAIN_NOT_BEFORE.getTime() - 1000) })),
      'expired',
      /Provisioner ICA 1.*2022-03-01/,
    );
  });

  it('refuses another nonce, and a nonce of the wrong length, as nonce', async () => {
    await expectRefused(nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx({ expectedNonce: flipped(HOPPER.nonce, 31) })), 'nonce');
    await expectRefused(nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx({ expectedNonce: HOPPER.nonce.subarray(0, 16) })), 'nonce', /32/);
    await expectRefused(nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx({ expectedNonce: HOPPER_COCO.nonce })), 'nonce');
  });

  it('refuses a wrong root as chain, and accepts the root given explicitly as anchor', async () => {
    // AMD's Milan ARK: a real root, of another vendor.
    const azureArk = pemBlocksOf(fixtureText('../azure-snp-vtpm/ask_ark_milan.pem'))[1] ?? '';
    await expectRefused(nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx({ trustAnchors: [utf8(azureArk)] })), 'chain', /does not chain to a trust anchor/);
    await expectRefused(nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx({ trustAnchors: [] })), 'chain', /no trust anchor/);
    await expect(nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx({ trustAnchors: [fixture('verifier_device_root.pem')] }))).resolves.toBeDefined();
    // An intermediate may anchor too: the anchor set replaces the shipped root.
    await expect(nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx({ trustAnchors: [derAt(HOPPER.chainPem(), 3)] }))).resolves.toBeDefined();
  });
});

describe('Trustee CoCo Hopper report (one trailing byte)', () => {
  it('is valid with its documented claims, the trailing byte tolerated and counted', async () => {
    const claims = await nvidiaGpuPlugin.verify(HOPPER_COCO.evidence(), ctx({ expectedNonce: HOPPER_COCO.nonce }));
    expect(claims.reportData).toBe('87d8e24ab336adafe228d49e83d745f6dba4ae505372b6a5704820856b343fec');
    expect(claims.details).toMatchObject({
      driverVersion: '580.95.05',
      vbiosVersion: '96.00.74.00.1a',
      trailingBytes: 1,
      fwidChecked: true,
      opaque: { opaque_data_version: 1, feature_flag: 'SPT', nvdec0_status: 'disabled' },
    });
  });

  it('is the same whatever the trailing byte, since it is not signed', async () => {
    const report = HOPPER_COCO.report();
    report[report.length - 1] = 0xaa;
    const evidence = utf8(JSON.stringify({ report: Buffer.from(report).toString('hex'), certChain: HOPPER_COCO.chainPem() }));
    await expect(nvidiaGpuPlugin.verify(evidence, ctx())).resolves.toMatchObject({ details: { trailingBytes: 1 } });
  });
});

describe('evidence shapes', () => {
  it('the bare report as hex text or binary, with the chain as collateral (PEM or DER items)', async () => {
    const hexText = utf8(`${fixtureText('hopperAttestationReport.txt')}\n`);
    const chain = fixture('hopperCertChain.txt');
    const ders = [0, 1, 2, 3].map((i) => derAt(HOPPER.chainPem(), i));
    for (const [evidence, collateral] of [
      [hexText, [chain]],
      [HOPPER.report(), [chain]],
      [HOPPER.report(), ders],
    ] as const) {
      const claims = await nvidiaGpuPlugin.verify(evidence, ctx({ collateral, expectedNonce: HOPPER.nonce }));
      expect(claims.details).toMatchObject({ driverVersion: '550.90.07', chainLength: 5 });
    }
  });

  it('stops parsing collateral once it offers more certificates than a path may draw on', async () => {
    const chain = fixture('hopperCertChain.txt');
    await expectRefused(nvidiaGpuPlugin.verify(HOPPER.report(), ctx({ collateral: Array.from({ length: 7 }, () => chain) })), 'chain', /more than 32 certificates/);
  });

  it('the bare report without any chain is missing-collateral', async () => {
    await expectRefused(nvidiaGpuPlugin.verify(HOPPER.report(), ctx()), 'missing-collateral');
    await expectRefused(nvidiaGpuPlugin.verify(HOPPER.report(), ctx({ collateral: [utf8('not a certificate')] })), 'missing-collateral');
  });

  it("Trustee's device object, with hex or base64 evidence and the base64 PEM chain", async () => {
    const base = { arch: 'HOPPER', uuid: '1111-2222-33333-444444-555555', certificate: Buffer.from(HOPPER.chainPem()).toString('base64') };
    for (const evidence of [Buffer.from(HOPPER.report()).toString('hex'), Buffer.from(HOPPER.report()).toString('base64')]) {
      const claims = await nvidiaGpuPlugin.verify(utf8(JSON.stringify({ ...base, evidence })), ctx({ expectedNonce: HOPPER.nonce }));
      expect(claims.details).toMatchObject({ vbiosVersion: '96.00.9f.00.01' });
    }
  });

  it('refuses another architecture as unsupported and unknown members as malformed', async () => {
    const doc = { report: Buffer.from(HOPPER.report()).toString('hex'), certChain: HOPPER.chainPem() };
    await expectRefused(nvidiaGpuPlugin.verify(utf8(JSON.stringify({ ...doc, arch: 'BLACKWELL' })), ctx()), 'unsupported', /BLACKWELL/);
    await expect(nvidiaGpuPlugin.verify(utf8(JSON.stringify({ ...doc, arch: 'Hopper' })), ctx())).resolves.toBeDefined();
    await expectRefused(nvidiaGpuPlugin.verify(utf8(JSON.stringify({ ...doc, nonce: '00' })), ctx()), 'malformed', /nonce/);
    await expectRefused(nvidiaGpuPlugin.verify(utf8('{"report":"11e0","certChain":"x","__proto__":{}}'), ctx()), 'malformed', /__proto__/);
    await expectRefused(nvidiaGpuPlugin.verify(utf8(JSON.stringify({ ...doc, certChain: 'no PEM here' })), ctx()), 'malformed', /certificate chain/);
    await expectRefused(nvidiaGpuPlugin.verify(utf8('hello'), ctx()), 'malformed');
    await expectRefused(nvidiaGpuPlugin.verify(new Uint8Array(256 * 1024 + 1), ctx()), 'malformed', /above/);
  });

  it('refuses an invalid time as a bad request, not as evidence', async () => {
    await expect(nvidiaGpuPlugin.verify(HOPPER.evidence(), { now: new Date(Number.NaN) })).rejects.toMatchObject({ type: 'bad-request' });
  });
});

describe('every signed region is protected', () => {
  const withReport = (report: Uint8Array): Uint8Array => utf8(JSON.stringify({ report: Buffer.from(report).toString('hex'), certChain: HOPPER.chainPem() }));

  it.each([
    ['the request nonce', LAYOUT.requestNonce + 7],
    ['the request measurement operation', 3],
    ['measurement block 1 (its digest)', LAYOUT.firstDigest + 5],
    ['measurement block 64 (its digest)', LAYOUT.responderNonce - 1],
    ['the responder nonce', LAYOUT.responderNonce + 3],
    ['the opaque data (the driver version text)', LAYOUT.opaque + 72],
    ['the opaque data (the fwid)', LAYOUT.opaque + LAYOUT.opaqueLength - 10],
    ['the signature r', LAYOUT.opaque + LAYOUT.opaqueLength + 5],
    ['the signature s', LAYOUT.opaque + LAYOUT.opaqueLength + 95],
  ])('a byte of %s flipped is refused as signature', async (_label, at) => {
    expect(parseSpdmReport(flipped(HOPPER.report(), at))).toBeDefined();
    await expectRefused(nvidiaGpuPlugin.verify(withReport(flipped(HOPPER.report(), at)), ctx({ expectedNonce: HOPPER.nonce })), 'signature');
  });

  it('a changed declared length is refused as malformed', async () => {
    await expectRefused(nvidiaGpuPlugin.verify(withReport(flipped(HOPPER.report(), 37 + 5, 0x02)), ctx()), 'malformed');
    await expectRefused(nvidiaGpuPlugin.verify(withReport(flipped(HOPPER.report(), LAYOUT.opaque - 2, 0x80)), ctx()), 'malformed');
  });

  it.each([0, 1, 2, 3])('a byte of certificate %i of the chain flipped (in its signature) is refused as chain', async (i) => {
    const ders = [0, 1, 2, 3, 4].map((k) => derAt(HOPPER.chainPem(), k));
    const target = ders[i] ?? new Uint8Array();
    ders[i] = flipped(target, target.length - 3);
    const chain = ders.map(toPemText).join('');
    await expectRefused(nvidiaGpuPlugin.verify(utf8(JSON.stringify({ report: Buffer.from(HOPPER.report()).toString('hex'), certChain: chain })), ctx()), 'chain');
  });

  it('a byte of the leaf certificate key flipped is refused (chain, or the certificate does not parse)', async () => {
    const ders = [0, 1, 2, 3, 4].map((k) => derAt(HOPPER.chainPem(), k));
    const leafKeyAt = Buffer.from(ders[0] ?? []).indexOf(Buffer.from('2b81040022', 'hex')) + 12;
    ders[0] = flipped(ders[0] ?? new Uint8Array(), leafKeyAt);
    const evidence = utf8(JSON.stringify({ report: Buffer.from(HOPPER.report()).toString('hex'), certChain: ders.map(toPemText).join('') }));
    const error = await nvidiaGpuPlugin.verify(evidence, ctx()).catch((e: unknown) => e);
    expect(['chain', 'malformed']).toContain((error as { reason?: string }).reason);
  });

  it('the other GPU chain does not vouch for this report: its leaf key does not verify it', async () => {
    const evidence = utf8(JSON.stringify({ report: Buffer.from(HOPPER.report()).toString('hex'), certChain: HOPPER_COCO.chainPem() }));
    await expectRefused(nvidiaGpuPlugin.verify(evidence, ctx()), 'signature');
  });
});
