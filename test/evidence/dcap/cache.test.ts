import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import fc from 'fast-check';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sgxPlugin, tdxPlugin, TRUST_CACHE_CAPACITY, trustCacheKey, trustedPlatforms } from '../../../src/evidence/dcap/index.js';
import { EvidenceError, type Claims, type EvidencePlugin, type VerifyContext } from '../../../src/evidence/plugin.js';
import { asyncRejection } from '../../support/errors.js';
import { rootCa } from '../x509/pki.js';
import { contextOf, flipped, layout, SGX_V3, TDX_V4, type Vector } from './fixtures.js';
import { NOW, VALIDITY, world } from './synthetic.js';

/**
 * A cache hit must decide exactly as a cold verification: same claims, same refusal
 * (reason and message), whatever the time, the anchors or the quote.
 */

type Outcome = { ok: Claims } | { reason: string; message: string };

async function outcome(plugin: EvidencePlugin, evidence: Uint8Array, context: VerifyContext): Promise<Outcome> {
  try {
    return { ok: await plugin.verify(evidence, context) };
  } catch (err) {
    if (!(err instanceof EvidenceError)) throw err;
    return { reason: err.reason, message: err.message };
  }
}

async function cold(plugin: EvidencePlugin, evidence: Uint8Array, context: VerifyContext): Promise<Outcome> {
  trustedPlatforms.clear();
  const result = await outcome(plugin, evidence, context);
  trustedPlatforms.clear();
  return result;
}

const VECTORS: readonly (readonly [string, Vector, EvidencePlugin])[] = [
  [SGX_V3.name, SGX_V3, sgxPlugin],
  [TDX_V4.name, TDX_V4, tdxPlugin],
];

beforeEach(() => trustedPlatforms.clear());

describe('trustCacheKey', () => {
  const a = new Uint8Array([1, 2, 3]);
  const b = new Uint8Array([4]);

  it('is stable for equal bytes in fresh arrays', () => {
    expect(trustCacheKey('sgx', [a], [b], a)).toBe(trustCacheKey('sgx', [new Uint8Array(a)], [new Uint8Array(b)], new Uint8Array(a)));
  });

  it('separates TEE, anchors, collateral, order, item boundaries and the PCK chain', () => {
    const keys = [
      trustCacheKey('sgx', undefined, [a, b], a),
      trustCacheKey('tdx', undefined, [a, b], a),
      trustCacheKey('sgx', [], [a, b], a),
      trustCacheKey('sgx', [a], [b], a),
      trustCacheKey('sgx', undefined, [b, a], a),
      trustCacheKey('sgx', undefined, [new Uint8Array([1, 2, 3, 4])], a),
      trustCacheKey('sgx', undefined, [a, b], b),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe.each(VECTORS)('%s: a hit and a miss decide alike', (_name, v, plugin) => {
  it('identical claims, one miss then one hit', async () => {
    const first = await plugin.verify(v.quote(), contextOf(v));
    expect(trustedPlatforms.stats).toEqual({ hits: 0, misses: 1 });
    const second = await plugin.verify(v.quote(), contextOf(v));
    expect(trustedPlatforms.stats).toEqual({ hits: 1, misses: 1 });
    expect(second).toEqual(first);
  });

  it('identical refusals of quotes damaged where the cache does not look', async () => {
    const at = layout(v.quote());
    for (const offset of [at.userData, at.reportData, at.signature, at.key, at.qeReport, at.qeSignature, at.authData] as number[]) {
      const damaged = flipped(v.quote(), offset);
      const expected = await cold(plugin, damaged, contextOf(v));
      await plugin.verify(v.quote(), contextOf(v));
      const hits = trustedPlatforms.stats.hits;
      expect(await outcome(plugin, damaged, contextOf(v))).toEqual(expected);
      expect(trustedPlatforms.stats.hits).toBe(hits + 1);
      expect('reason' in expected).toBe(true);
    }
  });

  it('never accepts at a time a cold verification refuses, nor refuses what it accepts', async () => {
    const span = 40 * 86_400_000;
    const times = fc.oneof(
      fc.integer({ min: v.from.getTime() - span, max: v.until.getTime() + span }),
      fc.constantFrom(v.from.getTime() - 1, v.from.getTime(), v.until.getTime(), v.until.getTime() + 1),
    );
    await plugin.verify(v.quote(), contextOf(v));
    await fc.assert(
      fc.asyncProperty(times, async (t) => {
        const now = new Date(t);
        const expected = await cold(plugin, v.quote(), contextOf(v, now));
        // Warm again at the vector's time, then ask at `now`: a hit that must hold at `now`.
        await plugin.verify(v.quote(), contextOf(v));
        expect(await outcome(plugin, v.quote(), contextOf(v, now))).toEqual(expected);
      }),
      { numRuns: 40 },
    );
  });

  it('a cached chain is not reused for another root', async () => {
    await plugin.verify(v.quote(), contextOf(v));
    const impostor = await rootCa('CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US', VALIDITY);
    const err = await asyncRejection(plugin.verify(v.quote(), { ...contextOf(v), trustAnchors: [impostor.der] }), EvidenceError);
    expect(err.reason).toBe('chain');
  });
});

describe('what is cached', () => {
  it('refusals are not: a refused chain or collateral leaves no entry', async () => {
    await asyncRejection(sgxPlugin.verify(SGX_V3.quote(), contextOf(SGX_V3, new Date('2030-01-01T00:00:00Z'))), EvidenceError);
    const impostor = await rootCa('CN=Intel SGX Root CA', VALIDITY);
    await asyncRejection(sgxPlugin.verify(SGX_V3.quote(), { ...contextOf(SGX_V3), trustAnchors: [impostor.der] }), EvidenceError);
    expect(trustedPlatforms.size).toBe(0);
  });

  it("a quote refused after its platform verified leaves only the platform's verdict, which the next quote reuses", async () => {
    await asyncRejection(sgxPlugin.verify(flipped(SGX_V3.quote(), layout(SGX_V3.quote()).mrEnclave as number), contextOf(SGX_V3)), EvidenceError);
    expect(trustedPlatforms.size).toBe(1);
    await sgxPlugin.verify(SGX_V3.quote(), contextOf(SGX_V3));
    expect(trustedPlatforms.stats).toEqual({ hits: 1, misses: 1 });
  });

  it('a refusal at another time leaves the entry usable', async () => {
    await sgxPlugin.verify(SGX_V3.quote(), contextOf(SGX_V3));
    await asyncRejection(sgxPlugin.verify(SGX_V3.quote(), contextOf(SGX_V3, new Date('2030-01-01T00:00:00Z'))), EvidenceError);
    const before = trustedPlatforms.stats;
    await sgxPlugin.verify(SGX_V3.quote(), contextOf(SGX_V3, SGX_V3.until));
    expect(trustedPlatforms.stats.hits).toBe(before.hits + 1);
  });

  it(`is bounded (${TRUST_CACHE_CAPACITY} entries, least recently used evicted)`, async () => {
    expect(trustedPlatforms.capacity).toBe(TRUST_CACHE_CAPACITY);
    // A text item that is no collateral changes the key, not the verdict: one entry each.
    const note = (i: number): Uint8Array => new TextEncoder().encode(`note ${i}`);
    for (let i = 0; i < 3; i++) await tdxPlugin.verify(TDX_V4.quote(), { now: TDX_V4.now, collateral: [TDX_V4.collateral(), note(i)] });
    expect(trustedPlatforms.size).toBe(3);
  });

  describe('with two certification paths (the root re-issued with the same key and a shorter life)', () => {
    let w: Awaited<ReturnType<typeof world>>;
    let shortRoot: Uint8Array;

    beforeAll(async () => {
      w = await world('sgx');
      const { root } = w.pki;
      const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: '7f01',
        name: root.name,
        notBefore: VALIDITY.notBefore,
        notAfter: new Date('2025-06-01T12:00:00Z'),
        signingAlgorithm: { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
        keys: root.keys,
        extensions: [new x509.BasicConstraintsExtension(true, undefined, true)],
      });
      shortRoot = new Uint8Array(cert.rawData);
    });

    it('the verdict is not cached, and a later time still finds the path that holds', async () => {
      const context = (now: Date): VerifyContext => ({ now, collateral: [w.collateral()], trustAnchors: [shortRoot, w.pki.root.der] });
      await expect(sgxPlugin.verify(w.quote(), context(NOW))).resolves.toBeDefined();
      expect(trustedPlatforms.size).toBe(0);
      await expect(sgxPlugin.verify(w.quote(), context(new Date('2025-06-10T00:00:00Z')))).resolves.toBeDefined();
    });
  });
});
