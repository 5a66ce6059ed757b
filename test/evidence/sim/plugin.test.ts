import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { CovenantError } from '../../../src/core/errors.js';
import { EvidenceError, type VerifyContext } from '../../../src/evidence/plugin.js';
import {
  decodeEvidence,
  encodeEvidence,
  encodeReport,
  SIM_MEDIA_TYPE,
  simPlugin,
  toPem,
  type SimReport,
} from '../../../src/evidence/sim/index.js';
import { SimulatedTee } from '../../../src/sim/tee.js';
import { checkBinding } from '../../../src/verifier/binding.js';
import { createVendorRoot, issuePlatformIdentity } from '../../../src/sim/vendor.js';
import { sign } from 'node:crypto';

const T0 = new Date('2025-01-01T00:00:00Z');
const INSIDE = new Date('2025-06-01T12:00:00Z');
const root = createVendorRoot({ now: T0 });
const platform = issuePlatformIdentity(root, { now: T0, platformId: 'rack1.node-7', validForDays: 365 });
const MEASUREMENT = `sha384:${'AB'.repeat(48)}`;
const tee = new SimulatedTee(platform, {
  measurement: MEASUREMENT,
  signer: 'C0FFEE',
  product: 'payments-ingest',
  svn: 7,
  debug: false,
  configDigests: { 'trust-roots': `sha256:${'11'.repeat(32)}`, crypto: `sha512:${'22'.repeat(64)}` },
});
const instance = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const SPKI = new Uint8Array(instance.publicKey.export({ type: 'spki', format: 'der' }));
const NONCE = new Uint8Array(32).fill(9);
const EVIDENCE = tee.report(NONCE, SPKI);

const context = (overrides: Partial<VerifyContext> = {}): VerifyContext => ({ now: INSIDE, trustAnchors: [root.certificate], ...overrides });

async function refusal(evidence: Uint8Array, ctx: VerifyContext = context()): Promise<string> {
  try {
    await simPlugin.verify(evidence, ctx);
  } catch (error) {
    expect(error).toBeInstanceOf(EvidenceError);
    return (error as EvidenceError).reason;
  }
  return 'accepted';
}

function flip(bytes: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const copy = new Uint8Array(bytes);
  copy[at] = (copy[at] as number) ^ mask;
  return copy;
}

describe('simPlugin', () => {
  it('declares its TEE class and media type', () => {
    expect(simPlugin.teeClass).toBe('sim');
    expect(simPlugin.mediaTypes).toEqual([SIM_MEDIA_TYPE]);
    expect(SIM_MEDIA_TYPE).toBe('application/vnd.covenant.sim-evidence+json');
  });

  it('verifies a report from a SimulatedTee with the right root inside validity', async () => {
    const claims = await simPlugin.verify(EVIDENCE, context());
    expect(claims.teeClass).toBe('sim');
    expect(claims.measurements).toEqual([{ alg: 'sha384', hex: 'ab'.repeat(48) }]);
    expect(claims.signer).toBe('c0ffee');
    expect(claims.product).toBe('payments-ingest');
    expect(claims.securityVersion).toBe(7);
    expect(claims.debug).toBe(false);
    expect(claims.config).toEqual({
      crypto: { alg: 'sha512', hex: '22'.repeat(64) },
      'trust-roots': { alg: 'sha256', hex: '11'.repeat(32) },
    });
    expect(claims.details).toMatchObject({
      platform: 'CN=rack1.node-7, OU=sim platform, O=Covenant simulated TEE (offers no security)',
      platformId: 'rack1.node-7',
      version: 1,
    });
    expect(String(claims.details.warning)).toMatch(/no security/);
    expect(claims.reportData).toMatch(/^[0-9a-f]{128}$/);
    expect(() => checkBinding(claims, NONCE, SPKI)).not.toThrow();
  });

  it('accepts the root as PEM text, and among other anchors', async () => {
    const other = createVendorRoot({ now: T0, name: 'Other Vendor' });
    await expect(simPlugin.verify(EVIDENCE, context({ trustAnchors: [Buffer.from(toPem(root.certificate))] }))).resolves.toBeTruthy();
    const bundle = Buffer.from(toPem(other.certificate) + toPem(root.certificate));
    await expect(simPlugin.verify(EVIDENCE, context({ trustAnchors: [bundle] }))).resolves.toBeTruthy();
    await expect(simPlugin.verify(EVIDENCE, context({ trustAnchors: [other.certificate, root.certificate] }))).resolves.toBeTruthy();
  });

  it('omits signer and product when the launch has none', async () => {
    const plain = new SimulatedTee(platform, { measurement: `sha256:${'00'.repeat(32)}`, svn: 0, debug: true, configDigests: {} });
    const claims = await simPlugin.verify(plain.report(NONCE, SPKI), context());
    expect(claims).not.toHaveProperty('signer');
    expect(claims).not.toHaveProperty('product');
    expect(claims.debug).toBe(true);
    expect(claims.config).toEqual({});
  });

  it("has no default anchors: none given is 'missing-collateral'", async () => {
    expect(await refusal(EVIDENCE, { now: INSIDE })).toBe('missing-collateral');
    expect(await refusal(EVIDENCE, { now: INSIDE, trustAnchors: [] })).toBe('missing-collateral');
  });

  it("refuses an unreadable trust anchor as 'missing-collateral'", async () => {
    expect(await refusal(EVIDENCE, context({ trustAnchors: [new Uint8Array([1, 2, 3])] }))).toBe('missing-collateral');
    expect(await refusal(EVIDENCE, context({ trustAnchors: [Buffer.from('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n')] }))).toBe(
      'missing-collateral',
    );
  });

  it("refuses another vendor's root as 'chain'", async () => {
    const other = createVendorRoot({ now: T0 });
    expect(await refusal(EVIDENCE, context({ trustAnchors: [other.certificate] }))).toBe('chain');
  });

  it("refuses a platform certificate given as the anchor itself as 'chain'", async () => {
    expect(await refusal(EVIDENCE, context({ trustAnchors: [platform.certificate] }))).toBe('chain');
  });

  it("is 'expired' after the platform certificate's notAfter and before its notBefore", async () => {
    expect(platform.notAfter.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    await expect(simPlugin.verify(EVIDENCE, context({ now: new Date('2026-01-01T00:00:00Z') }))).resolves.toBeTruthy();
    expect(await refusal(EVIDENCE, context({ now: new Date('2026-01-01T00:00:01Z') }))).toBe('expired');
    expect(await refusal(EVIDENCE, context({ now: new Date('2024-12-31T23:59:59Z') }))).toBe('expired');
  });

  it("is 'expired' when the vendor root has expired, even if the platform certificate has not", async () => {
    const shortRoot = createVendorRoot({ now: T0, validForDays: 30 });
    const longPlatform = issuePlatformIdentity(shortRoot, { now: T0, platformId: 'p', validForDays: 30 });
    const evidence = new SimulatedTee(longPlatform, tee.workload).report(NONCE, SPKI);
    expect(await refusal(evidence, context({ now: new Date('2025-01-15T00:00:00Z'), trustAnchors: [shortRoot.certificate] }))).toBe('accepted');
    expect(await refusal(evidence, context({ now: new Date('2025-03-01T00:00:00Z'), trustAnchors: [shortRoot.certificate] }))).toBe('expired');
  });

  it("refuses a flipped bit anywhere in the signed report as 'signature'", async () => {
    const decoded = decodeEvidence(EVIDENCE);
    for (let at = 0; at < decoded.report.length; at += 1) {
      const evidence = encodeEvidence({ ...decoded, report: flip(decoded.report, at) });
      expect(await refusal(evidence)).toBe('signature');
    }
  });

  it("refuses a flipped bit anywhere in the signature as 'signature'", async () => {
    const decoded = decodeEvidence(EVIDENCE);
    for (let at = 0; at < decoded.signature.length; at += 1) {
      for (const mask of [0x01, 0x80]) {
        const evidence = encodeEvidence({ ...decoded, signature: flip(decoded.signature, at, mask) });
        expect(await refusal(evidence)).toBe('signature');
      }
    }
  });

  it('refuses a flipped bit anywhere in the platform certificate with a typed reason', async () => {
    const decoded = decodeEvidence(EVIDENCE);
    const seen = new Set<string>();
    for (let at = 0; at < decoded.platformCertificate.length; at += 1) {
      const evidence = encodeEvidence({ ...decoded, platformCertificate: flip(decoded.platformCertificate, at) });
      const reason = await refusal(evidence);
      expect(['malformed', 'chain', 'unsupported']).toContain(reason);
      seen.add(reason);
    }
    expect(seen).toContain('malformed');
    expect(seen).toContain('chain');
  });

  it("refuses a report that another platform's key signed as 'signature'", async () => {
    const impostor = issuePlatformIdentity(root, { now: T0, platformId: 'impostor' });
    const decoded = decodeEvidence(EVIDENCE);
    const signature = new Uint8Array(sign(null, decoded.report, impostor.privateKey));
    expect(await refusal(encodeEvidence({ ...decoded, signature }))).toBe('signature');
  });

  it("refuses a correctly signed but invalid report as 'malformed', another version as 'unsupported'", async () => {
    const decoded = decodeEvidence(EVIDENCE);
    const base = JSON.parse(Buffer.from(decoded.report).toString('utf8')) as SimReport;
    const signed = (report: Uint8Array) => encodeEvidence({ ...decoded, report, signature: new Uint8Array(sign(null, report, platform.privateKey)) });
    const variants: [unknown, string][] = [
      [{ ...base, measurement: 'md5:00' }, 'malformed'],
      [{ ...base, svn: -1 }, 'malformed'],
      [{ ...base, reportData: 'zz' }, 'malformed'],
      [{ ...base, extra: true }, 'malformed'],
      [{ ...base, configDigests: { 'Bad Name': `sha256:${'00'.repeat(32)}` } }, 'malformed'],
      [{ ...base, version: 2 }, 'unsupported'],
    ];
    for (const [report, expected] of variants) {
      expect(await refusal(signed(encodeReport(report as SimReport)))).toBe(expected);
    }
    // Valid content, but not the canonical encoding the signature is defined over.
    const pretty = new TextEncoder().encode(JSON.stringify(base, null, 2));
    expect(await refusal(signed(pretty))).toBe('malformed');
    expect(await refusal(signed(encodeReport(base)))).toBe('accepted');
  });

  it("refuses envelopes that are not the format as 'malformed' or 'unsupported'", async () => {
    const envelope = JSON.parse(Buffer.from(EVIDENCE).toString('utf8')) as Record<string, unknown>;
    const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));
    expect(await refusal(new Uint8Array())).toBe('malformed');
    expect(await refusal(encode([]))).toBe('malformed');
    expect(await refusal(encode({ ...envelope, version: 2 }))).toBe('unsupported');
    expect(await refusal(encode({ ...envelope, extra: 1 }))).toBe('malformed');
    expect(await refusal(encode({ ...envelope, signature: 'AAAA' }))).toBe('malformed');
    expect(await refusal(encode({ ...envelope, report: '!!!!' }))).toBe('malformed');
    expect(await refusal(new Uint8Array([0xff, 0xfe, 0x7b, 0x7d]))).toBe('malformed');
    const huge = encode({ ...envelope, padding: 'x'.repeat(40_000) });
    expect(await refusal(huge)).toBe('malformed');
  });

  it('rejects an invalid `now` as a caller error, not an evidence verdict', async () => {
    await expect(simPlugin.verify(EVIDENCE, context({ now: new Date(Number.NaN) }))).rejects.toBeInstanceOf(CovenantError);
  });
});

describe('simPlugin verified-chain cache', () => {
  it('a cached chain gives the claims a cold one gives, and never outlives validity or its anchors', async () => {
    const first = await simPlugin.verify(EVIDENCE, context());
    // Same platform, same anchors: served from the cache, same claims.
    expect(await simPlugin.verify(EVIDENCE, context())).toEqual(first);
    // Validity is judged at each call's time, after a cached success.
    expect(await refusal(EVIDENCE, context({ now: new Date('2030-01-01T00:00:00Z') }))).toBe('expired');
    expect(await refusal(EVIDENCE, context({ now: new Date('2024-01-01T00:00:00Z') }))).toBe('expired');
    // Another anchor set is another cache entry: it must verify on its own, and fails.
    const other = createVendorRoot({ now: T0, name: 'Other Vendor' });
    expect(await refusal(EVIDENCE, context({ trustAnchors: [other.certificate] }))).toBe('chain');
    // And the report signature is still checked on a hit.
    const decoded = decodeEvidence(EVIDENCE);
    const forged = encodeEvidence({ ...decoded, signature: flip(decoded.signature, 3) });
    expect(await refusal(forged, context())).toBe('signature');
  });
});
