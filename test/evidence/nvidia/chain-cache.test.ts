import fc from 'fast-check';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { chainCacheKey, NVIDIA_CHAIN_CACHE_CAPACITY, verifiedChains } from '../../../src/evidence/nvidia/chain.js';
import { nvidiaGpuPlugin } from '../../../src/evidence/nvidia/index.js';
import { EvidenceError, type Claims, type VerifyContext } from '../../../src/evidence/plugin.js';
import { document, field, DEFAULT_OPAQUE, gpuPki, signed, unsignedReport, type GpuPki } from './builders.js';
import { derAt, flipped, HOPPER, HOPPER_COCO, LAYOUT, toPemText } from './fixtures.js';

/**
 * A cache hit must decide exactly as a cold verification: same claims, same refusal
 * (reason and message), whatever the time, the anchors, the chain or the report.
 */

type Verdict = { ok: Claims } | { reason: string; message: string };

async function verdict(evidence: Uint8Array, context: VerifyContext): Promise<Verdict> {
  try {
    return { ok: await nvidiaGpuPlugin.verify(evidence, context) };
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
    return { reason: error.reason, message: error.message };
  }
}

async function cold(evidence: Uint8Array, context: VerifyContext): Promise<Verdict> {
  verifiedChains.clear();
  const result = await verdict(evidence, context);
  verifiedChains.clear();
  return result;
}

const ctx = (now = HOPPER.now, extra: Partial<VerifyContext> = {}): VerifyContext => ({ now, ...extra });

beforeEach(() => verifiedChains.clear());

describe('chainCacheKey', () => {
  const a = new Uint8Array([0x30, 1, 2]);
  const b = new Uint8Array([0x30, 3]);

  it('is stable for equal bytes in fresh arrays', () => {
    expect(chainCacheKey([a], b, [a])).toBe(chainCacheKey([new Uint8Array(a)], new Uint8Array(b), [new Uint8Array(a)]));
  });

  it('separates anchors, the carried chain, collateral, order and item boundaries', () => {
    const keys = [
      chainCacheKey(undefined, a, [b]),
      chainCacheKey([], a, [b]),
      chainCacheKey(undefined, undefined, [a, b]),
      chainCacheKey(undefined, b, [a]),
      chainCacheKey([a], undefined, [b]),
      chainCacheKey(undefined, a, [b, b]),
      chainCacheKey(undefined, new Uint8Array([...a, ...b]), []),
      chainCacheKey(undefined, undefined, [new Uint8Array([...a, ...b])]),
      chainCacheKey(undefined, new Uint8Array(), []),
      chainCacheKey(undefined, undefined, []),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('a hit and a miss decide alike', () => {
  it.each([HOPPER, HOPPER_COCO])('$name: identical claims, one miss then hits', async (v) => {
    const first = await nvidiaGpuPlugin.verify(v.evidence(), ctx());
    expect(verifiedChains.stats).toEqual({ hits: 0, misses: 1 });
    const second = await nvidiaGpuPlugin.verify(v.evidence(), ctx());
    expect(verifiedChains.stats).toEqual({ hits: 1, misses: 1 });
    expect(second).toEqual(first);
  });

  it.each([
    ['the request nonce', LAYOUT.requestNonce],
    ['a measurement digest', LAYOUT.firstDigest],
    ['the opaque data', LAYOUT.opaque + 72],
    ['the signature', LAYOUT.opaque + LAYOUT.opaqueLength + 1],
  ])('identical refusal of a report tampered in %s', async (_label, at) => {
    const tampered = (): Uint8Array => new TextEncoder().encode(JSON.stringify({ report: Buffer.from(flipped(HOPPER.report(), at)).toString('hex'), certChain: HOPPER.chainPem() }));
    const expected = await cold(tampered(), ctx());
    await nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx());
    const hot = await verdict(tampered(), ctx());
    expect(verifiedChains.stats.hits).toBe(1);
    expect(hot).toEqual(expected);
    expect(hot).toMatchObject({ reason: 'signature' });
  });

  it('identical refusal of another nonce', async () => {
    const context = ctx(HOPPER.now, { expectedNonce: HOPPER_COCO.nonce });
    const expected = await cold(HOPPER.evidence(), context);
    await nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx());
    expect(await verdict(HOPPER.evidence(), context)).toEqual(expected);
  });
});

describe('a cached chain is not reused for other anchors or other certificates', () => {
  it('refuses a wrong root after the chain was cached with the shipped root', async () => {
    await nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx());
    const wrongRoot = (await gpuPki()).root.der;
    expect(await verdict(HOPPER.evidence(), ctx(HOPPER.now, { trustAnchors: [wrongRoot] }))).toMatchObject({ reason: 'chain' });
  });

  it('refuses a chain whose intermediate signature was altered after the genuine one was cached', async () => {
    await nvidiaGpuPlugin.verify(HOPPER.evidence(), ctx());
    const ders = [0, 1, 2, 3, 4].map((i) => derAt(HOPPER.chainPem(), i));
    ders[2] = flipped(ders[2] ?? new Uint8Array(), (ders[2]?.length ?? 1) - 2);
    const evidence = new TextEncoder().encode(JSON.stringify({ report: Buffer.from(HOPPER.report()).toString('hex'), certChain: ders.map(toPemText).join('') }));
    expect(await verdict(evidence, ctx())).toMatchObject({ reason: 'chain' });
  });

  it('does not cache refusals, so refused chains cannot evict verified ones', async () => {
    const wrongRoot = (await gpuPki()).root.der;
    await verdict(HOPPER.evidence(), ctx(HOPPER.now, { trustAnchors: [wrongRoot] }));
    await verdict(HOPPER.evidence(), ctx(new Date('2021-01-01T00:00:00Z')));
    expect(verifiedChains.size).toBe(0);
  });
});

describe('validity is checked at every call', () => {
  const window = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2025-12-31T23:59:59Z') };
  let pki: GpuPki;
  let evidence: Uint8Array;
  const at = (now: Date): VerifyContext => ({ now, trustAnchors: [pki.root.der] });

  beforeAll(async () => {
    pki = await gpuPki({ fwid: new Uint8Array(48).fill(0xf1), leafValidity: window });
    evidence = document(await signed(unsignedReport({ opaque: [...DEFAULT_OPAQUE, field(20, new Uint8Array(48).fill(0xf1))] }), pki.leaf.keys.privateKey), pki.chainPem);
  });

  it.each([
    ['after the leaf expires', new Date('2026-01-01T00:00:00Z')],
    ['before the leaf exists', new Date('2024-12-31T23:59:59Z')],
  ])('refuses %s after a cached success, as a cold verification does', async (_label, when) => {
    const expected = await cold(evidence, at(when));
    await nvidiaGpuPlugin.verify(evidence, at(new Date('2025-06-01T00:00:00Z')));
    const hot = await verdict(evidence, at(when));
    expect(hot).toMatchObject({ reason: 'expired' });
    expect(hot).toEqual(expected);
    // The entry still serves a valid time afterwards, bounds included.
    await expect(nvidiaGpuPlugin.verify(evidence, at(window.notAfter))).resolves.toBeDefined();
    expect(verifiedChains.size).toBe(1);
  });

  it('a hit never accepts what a cold check refuses, at any time, anchor set or chain (property)', async () => {
    const wrongRoot = (await gpuPki()).root.der;
    const variants: ((c: VerifyContext) => [Uint8Array, VerifyContext])[] = [
      (c) => [evidence, c],
      (c) => [evidence, { ...c, trustAnchors: [wrongRoot] }],
      (c) => [evidence, { ...c, trustAnchors: [pki.root.der, wrongRoot] }],
      (c) => [evidence, { ...c, trustAnchors: [pki.ica.der] }],
      (c) => [HOPPER.evidence(), { now: c.now }],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2035-01-01T00:00:00Z'), noInvalidDate: true }),
        fc.nat({ max: variants.length - 1 }),
        fc.nat({ max: variants.length - 1 }),
        async (now, primeWith, check) => {
          const [checkEvidence, checkContext] = (variants[check] ?? variants[0]!)(at(now));
          const expected = await cold(checkEvidence, checkContext);
          // Prime the cache with a success (or a refusal) of any variant, at a valid time.
          const [primeEvidence, primeContext] = (variants[primeWith] ?? variants[0]!)(at(new Date('2025-06-01T00:00:00Z')));
          await verdict(primeEvidence, primeContext);
          expect(await verdict(checkEvidence, checkContext)).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('the module cache is bounded', () => {
  it(`holds at most ${NVIDIA_CHAIN_CACHE_CAPACITY} verified chains, evicting the least recently used`, async () => {
    expect(verifiedChains.capacity).toBe(NVIDIA_CHAIN_CACHE_CAPACITY);
    const evidence = HOPPER.evidence();
    // A text item that is neither certificate nor CRL changes the key but not the verdict.
    const note = (i: number): Uint8Array => new TextEncoder().encode(`note ${i}`);
    await nvidiaGpuPlugin.verify(evidence, ctx(HOPPER.now, { collateral: [note(0)] }));
    const entry = verifiedChains.get(chainCacheKey(undefined, new TextEncoder().encode(HOPPER.chainPem()), [note(0)]));
    expect(entry).toBeDefined();
    // Cold checks cost a certificate parse each (tens of ms): fill the rest directly.
    for (let i = 1; i < NVIDIA_CHAIN_CACHE_CAPACITY; i++) verifiedChains.set(`filler ${i}`, entry!);
    await nvidiaGpuPlugin.verify(evidence, ctx(HOPPER.now, { collateral: [note(1)] }));
    expect(verifiedChains.size).toBe(NVIDIA_CHAIN_CACHE_CAPACITY);
    // The first real entry was evicted (a miss again), the newest kept (a hit).
    const before = verifiedChains.stats;
    await nvidiaGpuPlugin.verify(evidence, ctx(HOPPER.now, { collateral: [note(0)] }));
    await nvidiaGpuPlugin.verify(evidence, ctx(HOPPER.now, { collateral: [note(1)] }));
    expect(verifiedChains.stats).toEqual({ hits: before.hits + 1, misses: before.misses + 1 });
  });
});
