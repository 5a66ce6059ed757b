import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { azureSnpVtpmPlugin } from '../../../src/evidence/azure-snp-vtpm/index.js';
import type { VerifyContext } from '../../../src/evidence/plugin.js';
import { expectRefused } from '../refusal.js';
import { AZURE, fixture, flipped, genoaRoots, HCL, QUOTE, withParts, writeU32 } from './fixtures.js';

const ctx = (extra: Partial<VerifyContext> = {}): VerifyContext => ({ now: AZURE.now, expectedNonce: AZURE.nonce, ...extra });

const PCR0 = 'e15c44796beabf46abcec7c57e590942041e47497e4ec27571c8b7664f48dced';
const MEASUREMENT = '6a063be9dd79f6371c842e480f8dc3b5c725961344e57130e88c5adf49e8f7f6c79b75a5eb77fc769959f4aeb2f9401e';
const PCR_DIGEST = 'cfa3a9112493e8c8741c1d895ced6d05a9ea19a24a02a44a8b02eaf22a1b143f';

describe('azureSnpVtpmPlugin', () => {
  it('declares its class and media type', () => {
    expect(azureSnpVtpmPlugin.teeClass).toBe('azure-snp-vtpm');
    expect(azureSnpVtpmPlugin.mediaTypes).toEqual(['application/vnd.azure.snp-vtpm-evidence+json']);
  });
});

describe("Trustee's evidence-v1.json", () => {
  it('is valid at 2026-01-01 with the nonce "challenge" and the documented claims, using the shipped AMD roots', async () => {
    const claims = await azureSnpVtpmPlugin.verify(AZURE.evidence(), ctx());
    expect(claims).toMatchObject({
      teeClass: 'azure-snp-vtpm',
      measurements: [
        { alg: 'sha384', hex: MEASUREMENT },
        { alg: 'sha256', hex: PCR_DIGEST },
      ],
      debug: false,
      securityVersion: 10,
      tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 },
      reportData: '6368616c6c656e6765',
    });
    expect(claims.config.pcr0).toEqual({ alg: 'sha256', hex: PCR0 });
    expect(Object.keys(claims.config).sort()).toEqual(Array.from({ length: 24 }, (_, i) => `pcr${i}`).sort());
    const pcrs = Array.from({ length: 24 }, (_, i) => Buffer.from(claims.config[`pcr${i}`]?.hex ?? '', 'hex'));
    expect(createHash('sha256').update(Buffer.concat(pcrs)).digest('hex')).toBe(PCR_DIGEST);
    expect(claims.details).toMatchObject({
      vmConfiguration: { 'console-enabled': true, 'secure-boot': true, 'tpm-enabled': true, vmUniqueId: '26F8BC30-774E-4290-8E7A-535F3B672AEE' },
      userData: '0'.repeat(128),
      ak: { kid: 'HCLAkPub', modulusBits: 2048 },
      runtimeDataSha256: 'af2910341dd8108360e485f1b72494255190b9cdd5ccb44b73b883037cf99f21',
      hcl: { headerVersion: 1, requestType: 2, igvmVersion: 1, reportType: 'snp', runtimeDataHash: 'sha256' },
      quote: { pcrSelection: [{ alg: 'sha256', pcrs: Array.from({ length: 24 }, (_, i) => i) }], signatureScheme: 'rsassa-sha256', clockInfo: { safe: true } },
      snp: {
        version: 3,
        vmpl: 0,
        policy: '0x3001f',
        signingKey: 'vcek',
        productName: 'Milan-B0',
        root: 'ARK-Milan',
        reportData: 'af2910341dd8108360e485f1b72494255190b9cdd5ccb44b73b883037cf99f21' + '00'.repeat(32),
      },
    });
    expect((claims.details as { ak: { jwkThumbprint: string } }).ak.jwkThumbprint).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(JSON.parse(JSON.stringify(claims))).toEqual(claims);
  });

  it('without an expected nonce, exposes the qualifying data for the caller to compare', async () => {
    const claims = await azureSnpVtpmPlugin.verify(AZURE.evidence(), { now: AZURE.now });
    expect(Buffer.from(claims.reportData ?? '', 'hex').toString()).toBe('challenge');
  });

  it('accepts the AMD Milan ASK and ARK given as anchors, and the re-encoded (unpadded) document', async () => {
    await expect(azureSnpVtpmPlugin.verify(AZURE.evidence(), ctx({ trustAnchors: [fixture('ask_ark_milan.pem')] }))).resolves.toBeDefined();
    await expect(azureSnpVtpmPlugin.verify(withParts((p) => p), ctx())).resolves.toBeDefined();
  });

  it('refuses another nonce as nonce', async () => {
    await expectRefused(azureSnpVtpmPlugin.verify(AZURE.evidence(), ctx({ expectedNonce: new TextEncoder().encode('challengf') })), 'nonce');
    await expectRefused(azureSnpVtpmPlugin.verify(AZURE.evidence(), ctx({ expectedNonce: new Uint8Array(32) })), 'nonce');
  });

  it('refuses the Genoa roots (a real root of the wrong product) as chain', async () => {
    await expectRefused(azureSnpVtpmPlugin.verify(AZURE.evidence(), ctx({ trustAnchors: [genoaRoots()] })), 'chain');
  });

  it('is valid across the VCEK window, bounds included, and expired outside it', async () => {
    await expect(azureSnpVtpmPlugin.verify(AZURE.evidence(), ctx({ now: AZURE.vcekNotBefore }))).resolves.toBeDefined();
    await expect(azureSnpVtpmPlugin.verify(AZURE.evidence(), ctx({ now: AZURE.vcekNotAfter }))).resolves.toBeDefined();
    await expectRefused(azureSnpVtpmPlugin.verify(AZURE.evidence(), ctx({ now: new Date(AZURE.vcekNotAfter.getTime() + 1000) })), 'expired', /SEV-VCEK.*2032-01-28/);
    await expectRefused(azureSnpVtpmPlugin.verify(AZURE.evidence(), ctx({ now: new Date('2024-06-01T00:00:00Z') })), 'expired');
  });

  it('refuses an invalid time as a bad request, not as evidence', async () => {
    await expect(azureSnpVtpmPlugin.verify(AZURE.evidence(), { now: new Date(Number.NaN) })).rejects.toMatchObject({ type: 'bad-request' });
  });
});

describe('every signed region is protected', () => {
  const hcl = (at: number, mask = 0x01) => withParts((p) => ({ ...p, hclReport: flipped(p.hclReport, at, mask) }));

  it.each([
    ['the SNP launch measurement', HCL.snpMeasurement + 5],
    ['the SNP REPORT_DATA (the runtime-data digest)', HCL.snpReportData + 3],
    ['the SNP REPORT_DATA zero half', HCL.snpReportData + 40],
    ['the SNP VMPL', HCL.snpVmpl],
    ['the SNP policy (debug bit)', HCL.snpPolicy + 2],
    ['the SNP signature r', HCL.snpSignature + 7],
    ['the SNP signature s', HCL.snpSignature + 72 + 7],
  ])('a byte of %s flipped is refused as signature', async (_label, at) => {
    await expectRefused(azureSnpVtpmPlugin.verify(hcl(at, at === HCL.snpPolicy + 2 ? 0x08 : 0x01), ctx()), 'signature');
  });

  it.each([
    ['the AK modulus', HCL.runtime + 100],
    ['the secure-boot flag', HCL.runtime + 891],
    ['the vmUniqueId', HCL.runtime + 935],
    ['the user-data', HCL.runtime + 1000],
    ['the last byte', HCL.runtime + HCL.runtimeLength - 1],
  ])('a byte of the runtime data (%s) changed is refused as measurement-mismatch', async (_label, at) => {
    await expectRefused(azureSnpVtpmPlugin.verify(hcl(at, 0x02), ctx()), 'measurement-mismatch', /runtime data/);
  });

  it.each([
    ['the qualifying data (nonce)', QUOTE.extraData + 2],
    ['the qualified signer', QUOTE.qualifiedSigner + 4],
    ['the clock', QUOTE.clock + 6],
    ['the PCR digest', QUOTE.pcrDigest + 1],
  ])('a byte of the TPM quote message (%s) flipped is refused as signature', async (_label, at) => {
    const evidence = withParts((p) => ({ ...p, quote: { ...p.quote, message: flipped(p.quote.message, at) } }));
    await expectRefused(azureSnpVtpmPlugin.verify(evidence, ctx()), 'signature');
    await expectRefused(azureSnpVtpmPlugin.verify(evidence, { now: AZURE.now }), 'signature');
  });

  it.each([0, 100, 255])('byte %i of the quote signature flipped is refused as signature', async (at) => {
    const evidence = withParts((p) => ({ ...p, quote: { ...p.quote, signature: flipped(p.quote.signature, at) } }));
    await expectRefused(azureSnpVtpmPlugin.verify(evidence, ctx()), 'signature');
  });

  it.each([0, 7, 17, 23])('a byte of PCR %i flipped is refused as measurement-mismatch', async (index) => {
    const evidence = withParts((p) => ({ ...p, quote: { ...p.quote, pcrs: p.quote.pcrs.map((v, i) => (i === index ? flipped(v, 31) : v)) } }));
    await expectRefused(azureSnpVtpmPlugin.verify(evidence, ctx()), 'measurement-mismatch', /pcrDigest/);
  });

  it('the VCEK with a flipped signature byte is refused as chain; another certificate in its place as missing-collateral', async () => {
    const forged = withParts((p) => ({ ...p, vcek: flipped(p.vcek, p.vcek.length - 10) }));
    await expectRefused(azureSnpVtpmPlugin.verify(forged, ctx()), 'chain');
    const ask = new Uint8Array(Buffer.from((new TextDecoder().decode(fixture('ask_ark_milan.pem')).split('-----')[2] ?? '').replace(/\s/g, ''), 'base64'));
    await expectRefused(azureSnpVtpmPlugin.verify(withParts((p) => ({ ...p, vcek: ask })), ctx()), 'missing-collateral');
  });
});

describe('the unsigned HCL header only steers parsing', () => {
  const report = (change: (bytes: Uint8Array) => Uint8Array) => withParts((p) => ({ ...p, hclReport: change(p.hclReport) }));

  it('ignores the header fields parsing does not need, but reports them', async () => {
    const claims = await azureSnpVtpmPlugin.verify(report((b) => writeU32(writeU32(b, 4, 7), 0x4c0 + 4, 9)), ctx());
    expect(claims.details).toMatchObject({ hcl: { headerVersion: 7, igvmVersion: 9 } });
  });

  it('refuses a missing HCLA signature as malformed, a TDX or SHA-384 request as unsupported', async () => {
    await expectRefused(azureSnpVtpmPlugin.verify(report((b) => flipped(b, 0)), ctx()), 'malformed', /HCLA/);
    await expectRefused(azureSnpVtpmPlugin.verify(report((b) => writeU32(b, HCL.reportType, 4)), ctx()), 'unsupported', /tdx/);
    await expectRefused(azureSnpVtpmPlugin.verify(report((b) => writeU32(b, HCL.hashType, 2)), ctx()), 'unsupported', /sha384/);
  });

  it('a runtime-data size beyond the report is malformed; any other size breaks the binding', async () => {
    await expectRefused(azureSnpVtpmPlugin.verify(report((b) => writeU32(b, HCL.runtimeSize, 0xffffffff)), ctx()), 'malformed', /runtime data/);
    await expectRefused(azureSnpVtpmPlugin.verify(report((b) => writeU32(b, HCL.runtimeSize, HCL.runtimeLength - 1)), ctx()), 'measurement-mismatch');
    await expectRefused(azureSnpVtpmPlugin.verify(report((b) => writeU32(b, HCL.runtimeSize, HCL.runtimeLength + 1)), ctx()), 'measurement-mismatch');
  });

  it('refuses a truncated HCL report as malformed', async () => {
    await expectRefused(azureSnpVtpmPlugin.verify(report((b) => b.slice(0, 0x4d0)), ctx()), 'malformed');
    await expectRefused(azureSnpVtpmPlugin.verify(report((b) => b.slice(0, HCL.runtime + 100)), ctx()), 'malformed', /runtime data/);
  });

  it('changes nothing when the zero padding after the runtime data changes', async () => {
    await expect(azureSnpVtpmPlugin.verify(report((b) => flipped(b, b.length - 1)), ctx())).resolves.toBeDefined();
  });
});
