import fc from 'fast-check';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CHAIN_CACHE_CAPACITY, chainCacheKey, nitroPlugin, verifiedChains } from '../../../src/evidence/nitro/index.js';
import { EvidenceError, type Claims, type VerifyContext } from '../../../src/evidence/plugin.js';
import { issue } from '../x509/pki.js';
import { refusal } from '../refusal.js';
import { document, makePki, SYNTH_NOW, SYNTH_VALIDITY, type Pki } from './builder.js';
import { awsRootPem, flipped, REAL } from './fixtures.js';

/**
 * A cache hit must decide exactly as a cold verification: the same claims, the same
 * refusal, whatever the time, the anchors or the document.
 */

let pki: Pki;
let other: Pki;

beforeAll(async () => {
  pki = await makePki();
  other = await makePki();
});

beforeEach(() => {
  verifiedChains.clear();
});

type Outcome = { ok: true; claims: Claims } | { ok: false; reason: string; message: string };

async function outcome(evidence: Uint8Array, context: VerifyContext): Promise<Outcome> {
  try {
    return { ok: true, claims: await nitroPlugin.verify(evidence, context) };
  } catch (err) {
    if (!(err instanceof EvidenceError)) throw err;
    return { ok: false, reason: err.reason, message: err.message };
  }
}

async function cold(evidence: Uint8Array, context: VerifyContext): Promise<Outcome> {
  verifiedChains.clear();
  const result = await outcome(evidence, context);
  verifiedChains.clear();
  return result;
}

describe('chainCacheKey', () => {
  const a = new Uint8Array([0x30, 1, 2]);
  const b = new Uint8Array([0x30, 3]);

  it('is stable for equal bytes in fresh arrays', () => {
    expect(chainCacheKey([a], b, [a])).toBe(chainCacheKey([new Uint8Array(a)], new Uint8Array(b), [new Uint8Array(a)]));
  });

  it('separates the shipped root, given anchors, the certificate, the cabundle, order and item boundaries', () => {
    const keys = [
      chainCacheKey(undefined, a, [b]),
      chainCacheKey([], a, [b]),
      chainCacheKey([a], a, [b]),
      chainCacheKey(undefined, b, [a]),
      chainCacheKey(undefined, a, [b, a]),
      chainCacheKey(undefined, a, [a, b]),
      chainCacheKey(undefined, new Uint8Array([...a, ...b]), []),
      chainCacheKey([a, b], a, []),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('a hit and a miss decide alike', () => {
  it('the real document: identical claims, one miss then hits', async () => {
    const first = await nitroPlugin.verify(REAL.document(), { now: REAL.now });
    expect(verifiedChains.stats).toEqual({ hits: 0, misses: 1 });
    const second = await nitroPlugin.verify(REAL.document(), { now: REAL.now });
    expect(verifiedChains.stats).toEqual({ hits: 1, misses: 1 });
    expect(second).toEqual(first);
  });

  it('another document over a cached chain still has its own signature checked', async () => {
    await nitroPlugin.verify(document(pki), { now: SYNTH_NOW, trustAnchors: [pki.root.der] });
    const forged = document(pki, { module_id: 'forged' }, { signer: other.leaf });
    const hot = await refusal(nitroPlugin.verify(forged, { now: SYNTH_NOW, trustAnchors: [pki.root.der] }));
    expect(verifiedChains.stats.hits).toBe(1);
    expect(hot.reason).toBe('signature');
  });

  it('a cached chain is not reused for other anchors', async () => {
    await nitroPlugin.verify(REAL.document(), { now: REAL.now });
    const err = await refusal(nitroPlugin.verify(REAL.document(), { now: REAL.now, trustAnchors: [other.root.der] }));
    expect(err.reason).toBe('chain');
    expect(verifiedChains.stats.hits).toBe(0);
  });

  it('refusals are never cached', async () => {
    await refusal(nitroPlugin.verify(REAL.document(), { now: REAL.today }));
    await refusal(nitroPlugin.verify(REAL.document(), { now: REAL.now, trustAnchors: [other.root.der] }));
    await refusal(nitroPlugin.verify(flipped(REAL.document(), REAL.document().length - 1), { now: REAL.now, trustAnchors: [other.root.der] }));
    expect(verifiedChains.size).toBe(0);
  });

  it('a chain with two candidate issuers of one name is verified cold every time', async () => {
    // A second CA with the intermediate's name and another key: the builder must try both.
    const twin = await issue(pki.root, pki.intermediate.name, SYNTH_VALIDITY, { ca: true, curve: 'P-384' });
    const doc = document(pki, { cabundle: [pki.root.der, twin.der, pki.intermediate.der] });
    const context = { now: SYNTH_NOW, trustAnchors: [pki.root.der] };
    const first = await nitroPlugin.verify(doc, context);
    expect(await nitroPlugin.verify(doc, context)).toEqual(first);
    expect(verifiedChains.size).toBe(0);
  });

  it(`holds at most ${CHAIN_CACHE_CAPACITY} chains`, () => {
    expect(verifiedChains.capacity).toBe(CHAIN_CACHE_CAPACITY);
  });
});

describe('validity is checked at every call', () => {
  it.each([
    ['today', REAL.today],
    ['a millisecond after the signing certificate', new Date(REAL.signerNotAfter.getTime() + 1)],
    ['a millisecond before the signing certificate', new Date(REAL.signerNotBefore.getTime() - 1)],
  ])('refuses the real document %s after a cached success, as a cold verification does', async (_label, when) => {
    const coldly = await cold(REAL.document(), { now: when });
    await nitroPlugin.verify(REAL.document(), { now: REAL.now });
    const hot = await outcome(REAL.document(), { now: when });
    expect(verifiedChains.stats.hits).toBe(1);
    expect(hot).toEqual(coldly);
    expect(hot).toMatchObject({ ok: false, reason: 'expired' });
    // The entry still serves a valid time afterwards, bounds included.
    await expect(nitroPlugin.verify(REAL.document(), { now: REAL.signerNotAfter })).resolves.toBeDefined();
  });
});

describe('property: a cache hit never accepts what a cold check refuses', () => {
  it('over times, anchors and tampered documents, hit and cold agree exactly', async () => {
    const real = REAL.document();
    const synthetic = document(pki, { nonce: new Uint8Array([1, 2, 3]) });
    const documents = [
      { bytes: real, base: REAL.now },
      { bytes: synthetic, base: SYNTH_NOW },
    ];
    const anchorSets: (readonly Uint8Array[] | undefined)[] = [undefined, [awsRootPem()], [pki.root.der], [other.root.der], [pki.root.der, awsRootPem()]];
    const minute = 60_000;
    // Minutes around the document's time (the real chain is current for three hours), or days.
    const offset = fc.oneof(fc.integer({ min: -300, max: 300 }).map((m) => m * minute), fc.integer({ min: -400, max: 400 }).map((d) => d * 1440 * minute));
    const seen = { accepted: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(
        fc.nat(documents.length - 1),
        fc.nat(anchorSets.length - 1),
        fc.nat(anchorSets.length - 1),
        offset,
        fc.option(fc.nat(), { nil: undefined, freq: 3 }),
        async (which, warmAnchors, anchors, shift, flipAt) => {
          const doc = documents[which]!;
          const now = new Date(doc.base.getTime() + shift);
          const evidence = flipAt === undefined ? doc.bytes : flipped(doc.bytes, flipAt % doc.bytes.length);
          const context: VerifyContext = { now, ...(anchorSets[anchors] ? { trustAnchors: anchorSets[anchors] } : {}) };
          const coldly = await cold(evidence, context);
          // Warm the cache with the genuine document at its own time, under some anchors.
          await outcome(doc.bytes, { now: doc.base, ...(anchorSets[warmAnchors] ? { trustAnchors: anchorSets[warmAnchors] } : {}) });
          const hot = await outcome(evidence, context);
          expect(hot).toEqual(coldly);
          seen[hot.ok ? 'accepted' : 'refused']++;
        },
      ),
      { numRuns: 100 },
    );
    // Not vacuous: both verdicts occurred.
    expect(seen.accepted).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  });
});
