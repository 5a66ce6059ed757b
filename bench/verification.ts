/**
 * The harness the evidence-plugin benches share: a plugin's verifications per second with
 * its cache warm, beside the raw signature checks of the same evidence (node's crypto, no
 * parsing), in interleaved rounds whose medians are the figures; the cache misses during
 * those rounds, to show every timed call was a hit; and the rate with the cache emptied
 * before each call, which is what the cache saves. Each bench brings only what is its own:
 * the vectors, the raw checks, the plugin call, the cache and the words of its line.
 */
import { verify, type KeyObject } from 'node:crypto';
import { collectGarbage, fmtRate, fmtRatio, interleave, median, msSince, now, type Interleaved } from './support.js';

export interface VerificationOptions {
  /** Baseline/subject pairs; the figures are their medians. */
  readonly rounds: number;
  /** Verifications (and raw checks) per side per round, cycling through the vectors. */
  readonly verifications: number;
  /** Verifications with the cache emptied before each, measured once after the rounds. */
  readonly uncached: number;
}

/** What one bench measures: call `i` of either side uses the same vector. */
export interface Verification {
  /** How many vectors the calls cycle through; the warm-up verifies each at least once. */
  readonly vectors: number;
  /** Names the baseline in the error a failed raw check raises, e.g. 'raw P-384'. */
  readonly baseline: string;
  /** The raw signature check(s) of call `i`; false would mean the baseline measures nothing real. */
  raw(i: number): boolean;
  /** The plugin's verification of call `i`. */
  verify(i: number): Promise<unknown>;
}

/** A Verification over `vectors`, call `i` taking vector `i` modulo their number. */
export function cycling<V>(vectors: readonly V[], baseline: string, raw: (v: V) => boolean, verify: (v: V) => Promise<unknown>): Verification {
  const at = (i: number): V => vectors[i % vectors.length] as V;
  return { vectors: vectors.length, baseline, raw: (i) => raw(at(i)), verify: (i) => verify(at(i)) };
}

/** The plugin's cache that a warm verification hits (an LruCache: clear() also resets the stats). */
export interface VerificationCache {
  readonly stats: { readonly misses: number };
  clear(): void;
}

// The raw loop stays synchronous: awaiting each check would time the microtask queue too.
function measureRaw(v: Verification, count: number): Promise<number> {
  collectGarbage();
  const start = now();
  for (let i = 0; i < count; i++) {
    if (!v.raw(i)) throw new Error(`${v.baseline} baseline: a vector signature does not verify`);
  }
  return Promise.resolve(count / (msSince(start) / 1000));
}

async function measureVerify(v: Verification, count: number, beforeEach?: () => void): Promise<number> {
  collectGarbage();
  const start = now();
  for (let i = 0; i < count; i++) {
    beforeEach?.();
    await v.verify(i);
  }
  return count / (msSince(start) / 1000);
}

/** JIT, and one cold verification per vector fills the cache; not reported. */
export async function warmUp(v: Verification, options: VerificationOptions): Promise<void> {
  const warm = Math.max(v.vectors, Math.min(200, options.verifications));
  await measureRaw(v, warm);
  await measureVerify(v, warm);
}

export interface TimedRates {
  /** Median plugin verifications per second, cache warm. */
  readonly verificationsPerSec: number;
  /** Median raw checks per second (one per verification: all the signatures of one vector). */
  readonly rawPerSec: number;
  readonly ratio: number;
  /** Every round: baseline = raw checks/s, subject = verifications/s. */
  readonly rounds: Interleaved;
}

/** The interleaved rounds, raw checks first in each. */
export async function timedRounds(v: Verification, options: VerificationOptions): Promise<TimedRates> {
  const rounds = await interleave(
    options.rounds,
    () => measureRaw(v, options.verifications),
    () => measureVerify(v, options.verifications),
  );
  const verificationsPerSec = median(rounds.subject);
  const rawPerSec = median(rounds.baseline);
  return { verificationsPerSec, rawPerSec, ratio: verificationsPerSec / rawPerSec, rounds };
}

/** Verifications per second with `cache` emptied before each: the cost the cache saves. */
export function measureUncached(v: Verification, count: number, cache: VerificationCache): Promise<number> {
  return measureVerify(v, count, () => cache.clear());
}

/** Runs `measure` and counts the misses of `cache` during it; 0 means every call was a hit. */
export async function cacheMissesDuring<T>(cache: VerificationCache, measure: () => Promise<T>): Promise<{ readonly result: T; readonly misses: number }> {
  const before = cache.stats.misses;
  const result = await measure();
  return { result, misses: cache.stats.misses - before };
}

export interface VerificationRates extends TimedRates {
  readonly uncachedPerSec: number;
  /** Cache misses during the timed rounds; 0 means every timed call was a hit. */
  readonly timedCacheMisses: number;
}

/** Warm-up, the timed rounds (their cache misses counted), then the uncached rate. */
export async function benchVerification(v: Verification, cache: VerificationCache, options: VerificationOptions): Promise<VerificationRates> {
  await warmUp(v, options);
  const timed = await cacheMissesDuring(cache, () => timedRounds(v, options));
  const uncachedPerSec = await measureUncached(v, options.uncached, cache);
  return { ...timed.result, uncachedPerSec, timedCacheMisses: timed.misses };
}

/** A vector whose raw baseline is one ECDSA P-384/SHA-384 check, read by the bench itself. */
export interface P384Vector {
  readonly signed: Uint8Array;
  /** r ‖ s, 48 bytes each, big-endian: IEEE P1363. */
  readonly signature: Uint8Array;
  readonly key: KeyObject;
}

/** The figures of a bench whose baseline is one raw P-384 check per verification. */
export interface P384Figures {
  /** Median plugin.verify calls per second, chains cached. */
  readonly verificationsPerSec: number;
  /** Median raw P-384 signature checks per second. */
  readonly rawP384PerSec: number;
  readonly ratio: number;
  /** Verifications per second with no cached chain: the cost the cache saves. */
  readonly uncachedPerSec: number;
  /** Chain-cache misses during the timed rounds; 0 means every timed call was a hit. */
  readonly timedCacheMisses: number;
  readonly vectors: readonly string[];
  /** Every round: baseline = raw P-384/s, subject = verifications/s. */
  readonly rounds: Interleaved;
  readonly options: VerificationOptions;
}

/** benchVerification for a plugin that rests on one P-384 signature per vector; `names` name the vectors. */
export async function benchP384<V extends P384Vector>(
  vectors: readonly V[],
  names: readonly string[],
  pluginVerify: (v: V) => Promise<unknown>,
  cache: VerificationCache,
  options: VerificationOptions,
): Promise<P384Figures> {
  const rawP384 = (v: V): boolean => verify('sha384', v.signed, { key: v.key, dsaEncoding: 'ieee-p1363' }, v.signature);
  const rates = await benchVerification(cycling(vectors, 'raw P-384', rawP384, pluginVerify), cache, options);
  return {
    verificationsPerSec: rates.verificationsPerSec,
    rawP384PerSec: rates.rawPerSec,
    ratio: rates.ratio,
    uncachedPerSec: rates.uncachedPerSec,
    timedCacheMisses: rates.timedCacheMisses,
    vectors: names,
    rounds: rates.rounds,
    options,
  };
}

/**
 * One line of the bench table:
 * `<name> verify  cached  <rate>  (<baseline> <rate>; ratio <x>; uncached <rate>)  <goal>`.
 */
export function verificationLine(
  name: string,
  rates: Pick<VerificationRates, 'verificationsPerSec' | 'ratio' | 'uncachedPerSec'>,
  baseline: { readonly label: string; readonly perSec: number },
  goal = '(no goal)',
): string {
  return [
    `${`${name} verify`.padEnd(18)} ${'cached'.padEnd(8)} ${fmtRate(rates.verificationsPerSec).padStart(9)}`,
    `(${baseline.label} ${fmtRate(baseline.perSec)}; ratio ${fmtRatio(rates.ratio)}; uncached ${fmtRate(rates.uncachedPerSec)})`,
    goal,
  ].join('  ');
}
