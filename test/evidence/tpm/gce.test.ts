import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tpmPlugin } from '../../../src/evidence/tpm/index.js';
import { sha256 } from './builders.js';
import { gce, gceContext, gceEvidence } from './gce-fixture.js';
import { expectRefused, refusal } from '../refusal.js';

const impostorRoot = new Uint8Array(readFileSync(fileURLToPath(new URL('../../fixtures/tpm-gce/impostor-root.pem', import.meta.url))));
const PCR_DIGEST = '048937cbaaf28af85a5b0c0997e725097a0d94e05fcda104a82ee3fb6b2e1808';

describe('TPM plugin: GCE vTPM vector (go-tpm-tools gce-cos-85-nonce9009)', () => {
  it('verifies with nonce 0x9009 at 2025-01-01 against the shipped intermediate + root', async () => {
    const claims = await tpmPlugin.verify(gceEvidence(), gceContext);
    expect(claims.teeClass).toBe('tpm');
    expect(claims.debug).toBe(false);
    expect(claims.measurements).toEqual([{ alg: 'sha256', hex: PCR_DIGEST }]);
    expect(claims.reportData).toBe('9009');
    expect(Object.keys(claims.config)).toHaveLength(24);
    expect(claims.config.pcr0).toEqual({ alg: 'sha256', hex: '0f35c214608d93c7a6e68ae7359b4a8be5a0e99eea9107ece427c4dea4e439cf' });
    expect(claims.details).toMatchObject({
      firmwareVersion: '0x2016051100162800',
      pcrSelection: [{ alg: 'sha256', pcrs: Array.from({ length: 24 }, (_, i) => i) }],
      signatureScheme: 'rsassa-sha256',
      clockInfo: { safe: true, clock: expect.stringMatching(/^\d+$/) },
      qualifiedSigner: expect.stringMatching(/^000b[0-9a-f]{64}$/),
      ak: {
        trust: 'certificate',
        chainLength: 2,
        tpmtPublicSha256: sha256(gce.akPublic).toString('hex'),
        certificate: {
          subject: '',
          subjectAltName: expect.stringContaining('2.23.133.2.1'),
          notBefore: '2021-08-31T23:11:05.000Z',
          notAfter: '2051-08-24T23:16:05.000Z',
        },
      },
    });
    // Claims are documented as JSON-compatible.
    expect(JSON.parse(JSON.stringify(claims))).toEqual(claims);
  });

  it('builds the path through the 79-character-CN intermediate from the root alone, via akChain or collateral', async () => {
    await expectRefused(tpmPlugin.verify(gceEvidence(), { ...gceContext, trustAnchors: [gce.root] }), 'chain');
    const viaChain = await tpmPlugin.verify(gceEvidence({ akChain: [gce.intermediate] }), { ...gceContext, trustAnchors: [gce.root] });
    expect(viaChain.details).toMatchObject({ ak: { chainLength: 3 } });
    await expect(tpmPlugin.verify(gceEvidence(), { ...gceContext, trustAnchors: [gce.root], collateral: [gce.intermediate, new Uint8Array([1, 2])] })).resolves.toBeDefined();
    await expect(tpmPlugin.verify(gceEvidence(), { ...gceContext, trustAnchors: [gce.intermediate] })).resolves.toBeDefined();
  });

  it('verifies with the AK certificate alone (no akPublic)', async () => {
    const claims = await tpmPlugin.verify(gceEvidence({ akPublic: undefined }), gceContext);
    expect(claims.details).toMatchObject({ ak: { trust: 'certificate' } });
    expect(claims.details).not.toHaveProperty('ak.tpmtPublicSha256');
  });

  it('accepts any nonce when none is expected, surfacing it as reportData', async () => {
    const claims = await tpmPlugin.verify(gceEvidence(), { now: gce.now, trustAnchors: gceContext.trustAnchors });
    expect(claims.reportData).toBe('9009');
  });

  it("refuses another nonce with 'nonce'", async () => {
    await expectRefused(tpmPlugin.verify(gceEvidence(), { ...gceContext, expectedNonce: new Uint8Array([0x90, 0x0a]) }), 'nonce');
    await expectRefused(tpmPlugin.verify(gceEvidence(), { ...gceContext, expectedNonce: new Uint8Array([0x90, 0x09, 0x00]) }), 'nonce');
    await expectRefused(tpmPlugin.verify(gceEvidence(), { ...gceContext, expectedNonce: new Uint8Array() }), 'nonce');
  });

  it("refuses a changed PCR value with 'measurement-mismatch'", async () => {
    for (const index of [0, 7, 23]) {
      const pcrs = { ...gce.pcrs, [index]: Uint8Array.from(gce.pcrs[index] as Uint8Array, (b, i) => (i === 0 ? b ^ 1 : b)) };
      await expectRefused(tpmPlugin.verify(gceEvidence({ pcrs }), gceContext), 'measurement-mismatch');
    }
  });

  it("refuses a missing quoted PCR with 'missing-collateral' and unquoted extras as 'malformed'", async () => {
    const pcrs: Record<number, Uint8Array> = { ...gce.pcrs };
    delete pcrs[5];
    await expectRefused(tpmPlugin.verify(gceEvidence({ pcrs }), gceContext), 'missing-collateral', /sha256:5/);
    const withSha384 = new TextEncoder().encode(
      JSON.stringify({ ...JSON.parse(new TextDecoder().decode(gceEvidence())), pcrs: { ...JSON.parse(new TextDecoder().decode(gceEvidence())).pcrs, sha384: { '0': '00'.repeat(48) } } }),
    );
    await expectRefused(tpmPlugin.verify(withSha384, gceContext), 'malformed', /not covered/);
  });

  it("refuses every single-bit flip in the TPMS_ATTEST with 'signature'", async () => {
    for (let offset = 0; offset < gce.quote.length; offset++) {
      const quote = Uint8Array.from(gce.quote);
      quote[offset] = (quote[offset] as number) ^ (1 << offset % 8);
      await expectRefused(tpmPlugin.verify(gceEvidence({ quote }), gceContext), 'signature');
    }
  });

  it('refuses every byte flip in the TPMT_SIGNATURE with a typed reason', async () => {
    const seen = new Set<string>();
    for (let offset = 0; offset < gce.signature.length; offset++) {
      const signature = Uint8Array.from(gce.signature);
      signature[offset] = (signature[offset] as number) ^ 0xff;
      const error = await refusal(tpmPlugin.verify(gceEvidence({ signature }), gceContext));
      // Header bytes change the algorithm or the length; only the payload is a pure signature failure.
      expect(offset < 6 ? ['unsupported', 'malformed', 'signature'] : ['signature']).toContain(error.reason);
      seen.add(error.reason);
    }
    expect(seen).toEqual(new Set(['unsupported', 'malformed', 'signature']));
  });

  it("refuses times outside the AK certificate's validity with 'expired'", async () => {
    await expectRefused(tpmPlugin.verify(gceEvidence(), { ...gceContext, now: new Date('2021-08-31T23:11:04Z') }), 'expired');
    await expectRefused(tpmPlugin.verify(gceEvidence(), { ...gceContext, now: new Date('2021-01-01T00:00:00Z') }), 'expired');
    await expectRefused(tpmPlugin.verify(gceEvidence(), { ...gceContext, now: new Date('2051-08-24T23:16:06Z') }), 'expired');
    await expect(tpmPlugin.verify(gceEvidence(), { ...gceContext, now: new Date('2021-08-31T23:11:05Z') })).resolves.toBeDefined();
  });

  it("refuses evidence with no AK with 'missing-collateral'", async () => {
    await expectRefused(tpmPlugin.verify(gceEvidence({ akPublic: undefined, akCertificate: undefined }), gceContext), 'missing-collateral');
  });

  it("refuses a wrong root with 'chain', including one with the real root's name", async () => {
    await expectRefused(tpmPlugin.verify(gceEvidence(), { ...gceContext, trustAnchors: [impostorRoot] }), 'chain');
    await expectRefused(
      tpmPlugin.verify(gceEvidence({ akChain: [gce.intermediate] }), { ...gceContext, trustAnchors: [impostorRoot] }),
      'chain',
    );
    await expectRefused(tpmPlugin.verify(gceEvidence(), { ...gceContext, trustAnchors: [] }), 'chain');
    await expectRefused(tpmPlugin.verify(gceEvidence(), { now: gce.now, expectedNonce: gce.nonce }), 'chain');
  });

  it("refuses an akPublic that is not the certified key with 'endorsement-mismatch'", async () => {
    const akPublic = Uint8Array.from(gce.akPublic);
    akPublic[akPublic.length - 1] = (akPublic[akPublic.length - 1] as number) ^ 2;
    await expectRefused(tpmPlugin.verify(gceEvidence({ akPublic }), gceContext), 'endorsement-mismatch');
  });

  it('trusts the AK by a SHA-256 pin of its TPMT_PUBLIC when no certificate is sent', async () => {
    const pin = sha256(gce.akPublic);
    const evidence = gceEvidence({ akCertificate: undefined });
    const claims = await tpmPlugin.verify(evidence, { now: gce.now, expectedNonce: gce.nonce, trustAnchors: [pin] });
    expect(claims.details).toMatchObject({ ak: { trust: 'pinned', tpmtPublicSha256: pin.toString('hex') } });
    const hexPin = new TextEncoder().encode(pin.toString('hex').toUpperCase());
    await expect(tpmPlugin.verify(evidence, { now: gce.now, trustAnchors: [hexPin] })).resolves.toBeDefined();
    await expectRefused(tpmPlugin.verify(evidence, { now: gce.now, trustAnchors: [sha256(gce.akCertificate)] }), 'chain');
    await expectRefused(tpmPlugin.verify(evidence, { now: gce.now, trustAnchors: gceContext.trustAnchors }), 'chain');
    // With a certificate present the pin is no fallback.
    await expectRefused(tpmPlugin.verify(gceEvidence(), { now: gce.now, trustAnchors: [pin] }), 'chain');
  });

  it("refuses a trust anchor it cannot read with 'malformed'", async () => {
    await expectRefused(tpmPlugin.verify(gceEvidence(), { ...gceContext, trustAnchors: [new Uint8Array([1, 2, 3])] }), 'malformed');
    await expectRefused(tpmPlugin.verify(gceEvidence(), { ...gceContext, trustAnchors: [new Uint8Array([0x30, 3, 1, 1, 1])] }), 'malformed');
  });

  it("declares teeClass 'tpm' and its media type", () => {
    expect(tpmPlugin.teeClass).toBe('tpm');
    expect(tpmPlugin.mediaTypes).toEqual(['application/vnd.covenant.tpm-quote+json']);
  });
});
