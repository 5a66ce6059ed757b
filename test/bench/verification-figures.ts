import { expect } from 'vitest';
import type { Interleaved } from '../../bench/support.js';

/** What every evidence bench reports, whatever it names its raw baseline. */
interface Rates {
  readonly verificationsPerSec: number;
  readonly ratio: number;
  readonly uncachedPerSec: number;
  readonly rounds: Interleaved;
}

/**
 * The sanity the evidence-bench smoke tests share: every rate finite and positive, one
 * sample per round on each side, and the ratio the verification rate over `rawPerSec`.
 */
export function expectSaneRates(f: Rates, rawPerSec: number, rounds: number): void {
  for (const value of [f.verificationsPerSec, rawPerSec, f.ratio, f.uncachedPerSec, ...f.rounds.subject, ...f.rounds.baseline]) {
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeGreaterThan(0);
  }
  expect(f.rounds.subject).toHaveLength(rounds);
  expect(f.rounds.baseline).toHaveLength(rounds);
  expect(f.ratio).toBeCloseTo(f.verificationsPerSec / rawPerSec, 9);
}
