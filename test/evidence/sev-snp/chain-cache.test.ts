import { beforeEach, describe, expect, it } from 'vitest';
import { EvidenceError } from '../../../src/evidence/plugin.js';
import type { VerifyContext } from '../../../src/evidence/plugin.js';
import { CHAIN_CACHE_CAPACITY, chainCacheKey, verifiedChains } from '../../../src/evidence/sev-snp/chain-cache.js';
import { sevSnpPlugin } from '../../../src/evidence/sev-snp/index.js';
import { asyncRejection } from '../../support/errors.js';
import { AZURE_V3, fixture, MILAN_V2, VLEK_V3, xorAt } from './fixtures.js';

/**
 * A cache hit must decide exactly as a cold verification would: same claims, same refusal
 * (reason and message), whatever the time, the anchors or the report.
 */

const refusal = (evidence: Uint8Array, context: VerifyContext): Promise<EvidenceError> =>
  asyncRejection(sevSnpPlugin.verify(evidence, context), EvidenceError);

const milanCtx = (now = MILAN_V2.now): VerifyContext => ({ now, collateral: [MILAN_V2.vcek()] });
const vlekCtx = (now = VLEK_V3.now): VerifyContext => ({ now, collateral: [VLEK_V3.vlek()] });

function flipped(bytes: Uint8Array, at: number): Uint8Array {
  const copy = new Uint8Array(bytes);
  xorAt(copy, at, 0x01);
  return copy;
}

/** The refusal with an empty cache, for comparison with one decided by a hit. */
async function coldRefusal(evidence: Uint8Array, context: VerifyContext): Promise<EvidenceError> {
  verifiedChains.clear();
  const err = await refusal(evidence, context);
  verifiedChains.clear();
  return err;
}

beforeEach(() => {
  verifiedChains.clear();
});

describe('chainCacheKey', () => {
  const a = new Uint8Array([0x30, 1, 2]);
  const b = new Uint8Array([0x30, 3]);

  it('is stable for equal bytes in fresh arrays', () => {
    expect(chainCacheKey('vcek', [a], [b])).toBe(chainCacheKey('vcek', [new Uint8Array(a)], [new Uint8Array(b)]));
  });

  it('separates kind, anchors, collateral, order and item boundaries', () => {
    const keys = [
      chainCacheKey('vcek', undefined, [a, b]),
      chainCacheKey('vlek', undefined, [a, b]),
      chainCacheKey('vcek', [], [a, b]),
      chainCacheKey('vcek', [a], [b]),
      chainCacheKey('vcek', [a, b], []),
      chainCacheKey('vcek', undefined, [b, a]),
      chainCacheKey('vcek', undefined, [new Uint8Array([...a, ...b])]),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('a hit and a miss decide alike', () => {
  it.each([
    ['Milan v2 (VCEK)', MILAN_V2.report, () => milanCtx()],
    ['Milan v3 (VLEK)', VLEK_V3.report, () => vlekCtx()],
    ['Azure v3 (VCEK)', AZURE_V3.report, (): VerifyContext => ({ now: AZURE_V3.now, collateral: [AZURE_V3.vcek()] })],
  ] as const)('%s: identical claims', async (_label, report, context) => {
    const cold = await sevSnpPlugin.verify(report(), context());
    expect(verifiedChains.stats).toEqual({ hits: 0, misses: 1 });
    const hot = await sevSnpPlugin.verify(report(), context());
    expect(verifiedChains.stats).toEqual({ hits: 1, misses: 1 });
    expect(hot).toEqual(cold);
  });

  it.each([
    ['image id (signature)', 42],
    ['reported tcb (endorsement-mismatch)', 384],
    ['chip id (endorsement-mismatch)', 0x1a0],
    ['signature r', 0x2a0],
  ])('identical refusal of a report tampered at %s', async (_label, at) => {
    const cold = await coldRefusal(flipped(MILAN_V2.report(), at), milanCtx());
    await sevSnpPlugin.verify(MILAN_V2.report(), milanCtx());
    const hot = await refusal(flipped(MILAN_V2.report(), at), milanCtx());
    expect(verifiedChains.stats.hits).toBe(1);
    expect([hot.reason, hot.message]).toEqual([cold.reason, cold.message]);
  });

  it('the right VCEK among several, by hit as by miss', async () => {
    const context: VerifyContext = { now: AZURE_V3.now, collateral: [MILAN_V2.vcek(), AZURE_V3.vcek()] };
    const cold = await sevSnpPlugin.verify(AZURE_V3.report(), context);
    expect(await sevSnpPlugin.verify(AZURE_V3.report(), context)).toEqual(cold);
    const wrongChip = await coldRefusal(MILAN_V2.report(), { now: AZURE_V3.now, collateral: [AZURE_V3.vcek()] });
    await sevSnpPlugin.verify(AZURE_V3.report(), { now: AZURE_V3.now, collateral: [AZURE_V3.vcek()] });
    const hot = await refusal(MILAN_V2.report(), { now: AZURE_V3.now, collateral: [AZURE_V3.vcek()] });
    expect([hot.reason, hot.message]).toEqual([wrongChip.reason, wrongChip.message]);
  });
});

describe('a cached chain is not reused for other anchors', () => {
  const milanBundle = (): Uint8Array => fixture('milan-ask-ark.pem');
  const genoaBundle = (): Uint8Array => fixture('genoa-ask-ark.pem');

  it('refuses Genoa roots after the chain was cached with the shipped roots', async () => {
    await sevSnpPlugin.verify(MILAN_V2.report(), milanCtx());
    const err = await refusal(MILAN_V2.report(), { ...milanCtx(), trustAnchors: [genoaBundle()] });
    expect(err.reason).toBe('chain');
  });

  it('refuses Genoa roots after caching Milan anchors, with the Milan ASK/ARK still in the collateral', async () => {
    const collateral = [MILAN_V2.vcek(), milanBundle()];
    const cold = await coldRefusal(MILAN_V2.report(), { now: MILAN_V2.now, trustAnchors: [genoaBundle()], collateral });
    await sevSnpPlugin.verify(MILAN_V2.report(), { now: MILAN_V2.now, trustAnchors: [milanBundle()], collateral });
    const hot = await refusal(MILAN_V2.report(), { now: MILAN_V2.now, trustAnchors: [genoaBundle()], collateral });
    expect(hot.reason).toBe('chain');
    expect(hot.message).toBe(cold.message);
  });

  it('refuses ASK-only anchors for a VLEK cached with the ASVK bundle', async () => {
    await sevSnpPlugin.verify(VLEK_V3.report(), { ...vlekCtx(), trustAnchors: [fixture('milan-ask-ark-asvk.pem')] });
    expect((await refusal(VLEK_V3.report(), { ...vlekCtx(), trustAnchors: [milanBundle()] })).reason).toBe('chain');
  });

  it('refuses a VCEK whose signature was altered after the genuine one was cached', async () => {
    await sevSnpPlugin.verify(MILAN_V2.report(), milanCtx());
    const forged = MILAN_V2.vcek();
    xorAt(forged, forged.length - 10, 0x01);
    expect((await refusal(MILAN_V2.report(), { now: MILAN_V2.now, collateral: [forged] })).reason).toBe('chain');
  });

  it('does not cache refusals, so refused collateral cannot evict verified chains', async () => {
    await refusal(MILAN_V2.report(), { ...milanCtx(), trustAnchors: [genoaBundle()] });
    await refusal(MILAN_V2.report(), { ...milanCtx(), trustAnchors: [genoaBundle()] });
    expect(verifiedChains.size).toBe(0);
    expect(verifiedChains.stats.hits).toBe(0);
  });
});

describe('validity is checked at every call', () => {
  it.each([
    ['after the VCEK expires', '2029-09-24T00:55:29Z'],
    ['before the VCEK exists', '2022-09-24T00:55:27Z'],
    ['after the ARK expires', '2046-01-01T00:00:00Z'],
  ])('refuses %s after a cached success, as a cold verification does', async (_label, when) => {
    const cold = await coldRefusal(MILAN_V2.report(), milanCtx(new Date(when)));
    await sevSnpPlugin.verify(MILAN_V2.report(), milanCtx());
    const hot = await refusal(MILAN_V2.report(), milanCtx(new Date(when)));
    expect(verifiedChains.stats).toEqual({ hits: 1, misses: 1 });
    expect(hot.reason).toBe('expired');
    expect(hot.message).toBe(cold.message);
    // And the entry still serves a valid time afterwards, bounds included.
    await expect(sevSnpPlugin.verify(MILAN_V2.report(), milanCtx(new Date('2029-09-24T00:55:28Z')))).resolves.toBeDefined();
  });

  it('refuses the VLEK today (expired 2025-12-10) after a cached success on 2025-06-01', async () => {
    await sevSnpPlugin.verify(VLEK_V3.report(), vlekCtx());
    const err = await refusal(VLEK_V3.report(), vlekCtx(VLEK_V3.today));
    expect(err.reason).toBe('expired');
    expect(err.message).toMatch(/SEV-VLEK.*2025-12-10/);
  });
});

describe('the module cache is bounded', () => {
  it(`holds at most ${CHAIN_CACHE_CAPACITY} verified chains`, async () => {
    expect(verifiedChains.capacity).toBe(CHAIN_CACHE_CAPACITY);
    const vcek = MILAN_V2.vcek();
    const report = MILAN_V2.report();
    // A text item that is no certificate changes the key but not the verdict: a distinct entry each.
    const note = (i: number): Uint8Array => new TextEncoder().encode(`note ${i}`);
    for (let i = 0; i < CHAIN_CACHE_CAPACITY + 5; i++) {
      await sevSnpPlugin.verify(report, { now: MILAN_V2.now, collateral: [vcek, note(i)] });
    }
    expect(verifiedChains.size).toBe(CHAIN_CACHE_CAPACITY);
    // The first entries were evicted (a miss), the latest kept (a hit).
    const before = verifiedChains.stats;
    await sevSnpPlugin.verify(report, { now: MILAN_V2.now, collateral: [vcek, note(0)] });
    await sevSnpPlugin.verify(report, { now: MILAN_V2.now, collateral: [vcek, note(CHAIN_CACHE_CAPACITY + 4)] });
    expect(verifiedChains.stats).toEqual({ hits: before.hits + 1, misses: before.misses + 1 });
  });
});
