import { createHash, X509Certificate } from 'node:crypto';
import { decode } from 'cbor2';
import { beforeEach, describe, expect, it } from 'vitest';
import { CovenantError } from '../../../src/core/errors.js';
import { AWS_NITRO_ROOT_G1_PEM, NITRO_MEDIA_TYPES, nitroPlugin, verifiedChains } from '../../../src/evidence/nitro/index.js';
import type { EvidenceFailure, VerifyContext } from '../../../src/evidence/plugin.js';
import { asyncRejection } from '../../support/errors.js';
import { expectRefused, refusal } from '../refusal.js';
import { makePki } from './builder.js';
import { awsRootPem, flipped, MARLIN, offsetOf, REAL } from './fixtures.js';

const realCtx = (now = REAL.now): VerifyContext => ({ now });

beforeEach(() => {
  verifiedChains.clear();
});

describe('nitroPlugin', () => {
  it('declares its class and its one media type', () => {
    expect(nitroPlugin.teeClass).toBe('nitro');
    expect(nitroPlugin.mediaTypes).toEqual(['application/vnd.aws.nitro-enclaves.attestation-document']);
    expect(NITRO_MEDIA_TYPES).not.toContain('application/cbor');
  });

  it('refuses an invalid verification time as a bad request, not as evidence', async () => {
    const err = await asyncRejection(nitroPlugin.verify(REAL.document(), { now: new Date(Number.NaN) }), CovenantError);
    expect(err.type).toBe('bad-request');
  });
});

describe('the shipped trust anchor', () => {
  it('is the AWS Nitro Enclaves Root G1, by its published SHA-256 fingerprint', () => {
    const root = new X509Certificate(AWS_NITRO_ROOT_G1_PEM);
    expect(root.fingerprint256.replace(/:/g, '')).toBe('641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B');
    expect(createHash('sha256').update(root.raw).digest('hex').toUpperCase()).toBe('641A0321A3E244EFE456463195D606317ED7CDCC3C1756E09893F3C68F79BB5B');
    expect(root.subject.split('\n')).toEqual(['C=US', 'O=Amazon', 'OU=AWS', 'CN=aws.nitro-enclaves']);
    expect(new Date(root.validFrom).toISOString()).toBe('2019-10-28T13:28:05.000Z');
    expect(new Date(root.validTo).toISOString()).toBe('2049-10-28T14:28:05.000Z');
  });

  it('is the certificate of the fixture file copied from AWS_NitroEnclaves_Root-G1.zip', () => {
    expect(new X509Certificate(awsRootPem()).raw.equals(new X509Certificate(AWS_NITRO_ROOT_G1_PEM).raw)).toBe(true);
  });
});

describe('the real eu-central-1 document (yawn/nitro-attest)', () => {
  it('verifies at 2025-01-06T16:07:05Z with exactly the documented values', async () => {
    const claims = await nitroPlugin.verify(REAL.document(), realCtx());
    expect(claims.teeClass).toBe('nitro');
    expect(claims.measurements).toEqual([0, 1, 2].map((i) => ({ alg: 'sha384', hex: REAL.pcrs[i as 0 | 1 | 2] })));
    expect(claims.config).toEqual({ pcr3: { alg: 'sha384', hex: REAL.pcrs[3] }, pcr4: { alg: 'sha384', hex: REAL.pcrs[4] } });
    expect(claims.debug).toBe(false);
    // PCR8 is zero (an unsigned enclave image), so there is no signer; no user_data, so no report data.
    expect(claims.signer).toBeUndefined();
    expect(claims.reportData).toBeUndefined();
    expect(claims.publicKey).toMatchObject({ kty: 'RSA', e: 'AQAB' });
    expect(Buffer.from(claims.publicKey?.n ?? '', 'base64url')).toHaveLength(256);

    const details = claims.details as Record<string, unknown>;
    expect(details).toMatchObject({
      moduleId: REAL.moduleId,
      timestamp: '2025-01-06T16:07:05.472Z',
      digest: 'SHA384',
      nonce: null,
      userData: null,
      certificate: {
        notBefore: REAL.signerNotBefore.toISOString(),
        notAfter: REAL.signerNotAfter.toISOString(),
      },
    });
    expect(new Date(details.timestamp as string).getTime()).toBe(REAL.timestamp);
    expect((details.certificate as { subject: string }).subject).toMatch(/CN=i-0bee92034f3d60691-enc01943c5eaab3ad6a\.eu-central-1\.aws$/);
    expect(details.chain).toHaveLength(5);
    expect((details.chain as string[]).at(-1)).toBe('C=US, O=Amazon, OU=AWS, CN=aws.nitro-enclaves');
    const pcrs = details.pcrs as Record<string, string>;
    expect(Object.keys(pcrs)).toEqual(Array.from({ length: 16 }, (_, i) => String(i)));
    for (const i of [0, 1, 2, 3, 4] as const) expect(pcrs[String(i)]).toBe(REAL.pcrs[i]);
    for (let i = 5; i < 16; i++) expect(pcrs[String(i)]).toBe('00'.repeat(48));
    // The RSA-2048 SubjectPublicKeyInfo, raw, 294 bytes.
    expect(details.publicKey).toMatch(/^30820122300d06092a864886f70d0101010500/);
    expect((details.publicKey as string).length).toBe(294 * 2);
  });

  it('verifies at both ends of the signing certificate validity, bounds included', async () => {
    await expect(nitroPlugin.verify(REAL.document(), realCtx(REAL.signerNotBefore))).resolves.toBeDefined();
    await expect(nitroPlugin.verify(REAL.document(), realCtx(REAL.signerNotAfter))).resolves.toBeDefined();
  });

  it.each([
    ['today (2026-12-01)', REAL.today],
    ['a second after the signing certificate expired', new Date(REAL.signerNotAfter.getTime() + 1000)],
    ['a second before the signing certificate existed', new Date(REAL.signerNotBefore.getTime() - 1000)],
  ])('is refused as expired %s', async (_label, when) => {
    await expectRefused(nitroPlugin.verify(REAL.document(), realCtx(when)), 'expired', /i-0bee92034f3d60691-enc01943c5eaab3ad6a/);
  });

  it('verifies with the AWS root given explicitly, as PEM and as DER', async () => {
    const der = new Uint8Array(new X509Certificate(awsRootPem()).raw);
    await expect(nitroPlugin.verify(REAL.document(), { now: REAL.now, trustAnchors: [awsRootPem()] })).resolves.toBeDefined();
    await expect(nitroPlugin.verify(REAL.document(), { now: REAL.now, trustAnchors: [der] })).resolves.toBeDefined();
  });

  it('is refused as chain under another root, which replaces the AWS one', async () => {
    const other = await makePki();
    await expectRefused(nitroPlugin.verify(REAL.document(), { now: REAL.now, trustAnchors: [other.root.der] }), 'chain', /does not chain to a trust anchor/);
  });

  it('is refused as chain with an empty anchor list, and as malformed with an anchor that is no certificate', async () => {
    await expectRefused(nitroPlugin.verify(REAL.document(), { now: REAL.now, trustAnchors: [] }), 'chain', /no trust anchor/);
    await expectRefused(nitroPlugin.verify(REAL.document(), { now: REAL.now, trustAnchors: [new TextEncoder().encode('not a certificate')] }), 'malformed', /trust anchor 0/);
  });

  it('is refused as nonce when a nonce is expected: it carries none', async () => {
    await expectRefused(nitroPlugin.verify(REAL.document(), { now: REAL.now, expectedNonce: new Uint8Array(0) }), 'nonce', /carries no nonce/);
  });
});

/** The real document's regions, located by content so an offset cannot drift. */
function regions(): Record<string, number> {
  const doc = REAL.document();
  const top = decode(doc) as [Uint8Array, unknown, Uint8Array, Uint8Array];
  const payload = decode(top[2], { preferMap: true }) as Map<string, unknown>;
  const certificate = payload.get('certificate') as Uint8Array;
  const cabundle = payload.get('cabundle') as Uint8Array[];
  const spki = new Uint8Array(new X509Certificate(certificate).publicKey.export({ type: 'spki', format: 'der' }));
  return {
    protectedAlg: offsetOf(doc, '44a1013822') + 4,
    moduleId: offsetOf(doc, new TextEncoder().encode(REAL.moduleId)) + 3,
    timestamp: offsetOf(doc, new TextEncoder().encode('timestamp')) + 12,
    pcr0: offsetOf(doc, REAL.pcrs[0]) + 10,
    pcr2: offsetOf(doc, REAL.pcrs[2]) + 47,
    publicKey: offsetOf(doc, payload.get('public_key') as Uint8Array) + 100,
    nonceNull: offsetOf(doc, new TextEncoder().encode('nonce')) + 5,
    userDataNull: offsetOf(doc, new TextEncoder().encode('user_data')) + 9,
    certificateKey: offsetOf(doc, spki) + spki.length - 20,
    certificateSignature: offsetOf(doc, certificate) + certificate.length - 5,
    intermediateSignature: offsetOf(doc, cabundle[3]!) + cabundle[3]!.length - 5,
    chainStart: offsetOf(doc, certificate),
    chainEnd: offsetOf(doc, cabundle.at(-1)!) + cabundle.at(-1)!.length,
    signatureR: doc.length - 90,
    signatureS: doc.length - 1,
  };
}

describe('a flipped byte in each signed region of the real document is refused, typed', () => {
  const at = regions();
  // Both masks where either flip lands alike; 0x80 on a CBOR head or a UTF-8 byte breaks the
  // encoding instead, which the 0x01 case of the same region already covers.
  const both = [0x01, 0x80];
  it.each<[string, keyof ReturnType<typeof regions>, number[], EvidenceFailure, RegExp]>([
    ['protected header: alg -35 becomes -36', 'protectedAlg', [0x01], 'unsupported', /COSE algorithm -36 is not ES384/],
    ['payload: module_id', 'moduleId', [0x01], 'signature', /signature does not verify/],
    ['payload: timestamp', 'timestamp', both, 'signature', /signature does not verify/],
    ['payload: PCR0', 'pcr0', both, 'signature', /signature does not verify/],
    ['payload: PCR2', 'pcr2', both, 'signature', /signature does not verify/],
    ['payload: public_key', 'publicKey', both, 'signature', /signature does not verify/],
    // null (0xf6) becomes undefined (0xf7), which is no value the schema allows.
    ['payload: the nonce (null)', 'nonceNull', [0x01], 'malformed', /undefined/i],
    ['payload: the user_data (null)', 'userDataNull', [0x01], 'malformed', /undefined/i],
    ['payload: the signing certificate key', 'certificateKey', both, 'chain', /does not chain/],
    ['payload: the signing certificate signature', 'certificateSignature', both, 'chain', /does not chain/],
    ['payload: an intermediate certificate signature', 'intermediateSignature', both, 'chain', /does not chain/],
    ['signature: r', 'signatureR', both, 'signature', /signature does not verify/],
    ['signature: s', 'signatureS', both, 'signature', /signature does not verify/],
  ])('%s', async (_label, region, masks, reason, message) => {
    for (const mask of masks) {
      await expectRefused(nitroPlugin.verify(flipped(REAL.document(), at[region]!, mask), realCtx()), reason, message);
    }
  });

  it('other encodings of the flipped header, module_id and nulls are refused too', async () => {
    await expectRefused(nitroPlugin.verify(flipped(REAL.document(), at.protectedAlg!, 0x80), realCtx()), 'unsupported', /COSE algorithm -163/);
    await expectRefused(nitroPlugin.verify(flipped(REAL.document(), at.moduleId!, 0x80), realCtx()), 'malformed', /utf-8/i);
    await expectRefused(nitroPlugin.verify(flipped(REAL.document(), at.nonceNull!, 0x80), realCtx()), 'malformed');
  });

  it('a single-bit flip anywhere in the document is refused with an EvidenceError', async () => {
    // Every byte outside the certificates, every 64th inside them (each of those is a cold
    // chain verification), one bit per byte, rotating.
    const doc = REAL.document();
    for (let i = 0; i < doc.length; i += i >= at.chainStart! && i < at.chainEnd! ? 64 : 1) {
      const err = await refusal(nitroPlugin.verify(flipped(doc, i, 1 << i % 8), realCtx()));
      expect(err.reason).toMatch(/^(malformed|unsupported|signature|chain)$/);
    }
  });
});

describe('the marlin mock-root document (synthetic, validly signed under CN=root)', () => {
  it('is refused as chain with the AWS root pinned, and by default', async () => {
    await expectRefused(nitroPlugin.verify(MARLIN.document(), { now: MARLIN.now, trustAnchors: [awsRootPem()] }), 'chain', /CN=leaf.*does not chain/);
    await expectRefused(nitroPlugin.verify(MARLIN.document(), { now: MARLIN.now }), 'chain');
  });

  it('verifies only when its own root is made the anchor, and reports debug (PCR0 is zero)', async () => {
    const top = decode(MARLIN.document()) as [Uint8Array, unknown, Uint8Array, Uint8Array];
    const mockRoot = (decode(top[2], { preferMap: true }) as Map<string, Uint8Array[]>).get('cabundle')![0]!;
    const claims = await nitroPlugin.verify(MARLIN.document(), { now: MARLIN.now, trustAnchors: [mockRoot] });
    expect(claims.debug).toBe(true);
    expect(claims.measurements[1]).toEqual({ alg: 'sha384', hex: '01'.repeat(48) });
    expect(claims.reportData).toBe('abcdef');
    expect(claims.details).toMatchObject({ publicKey: '12345678', userData: 'abcdef', nonce: null });
    // public_key 0x12345678 is no SubjectPublicKeyInfo: no JWK, only the raw hex above.
    expect(claims.publicKey).toBeUndefined();
    expect(claims.signer).toBe('08'.repeat(48));
    expect(claims.config).toEqual({ pcr3: { alg: 'sha384', hex: '03'.repeat(48) }, pcr4: { alg: 'sha384', hex: '04'.repeat(48) }, pcr8: { alg: 'sha384', hex: '08'.repeat(48) } });
  });
});
