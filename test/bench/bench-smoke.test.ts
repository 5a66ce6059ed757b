/**
 * Runs every benchmark with tiny sizes: the figures must be sane (positive, finite,
 * internally consistent), never fast. No timing thresholds here, by design.
 */
import { describe, expect, it } from 'vitest';
import { benchPostgresAppends, benchSqliteAppends, type AppendFigures, type AppendOptions } from '../../bench/ledger.js';
import { benchProofs, type ProofComparison } from '../../bench/proof.js';
import { benchPgUrl, interleave, median, percentile } from '../../bench/support.js';

const PG_URL = process.env['COVENANT_TEST_PG_URL'] ?? benchPgUrl();
const TINY: AppendOptions = { appends: 40, inFlight: 8, rawRows: 15, rawMaxMs: 2_000, rounds: 2 };

function expectPositive(...values: number[]): void {
  for (const value of values) {
    expect(Number.isFinite(value)).toBe(true);
    expect(value).toBeGreaterThan(0);
  }
}

function expectSaneAppends(f: AppendFigures, store: string): void {
  expect(f.store).toBe(store);
  expect(f.rounds.subject).toHaveLength(TINY.rounds);
  expect(f.rounds.baseline).toHaveLength(TINY.rounds);
  expectPositive(f.appendsPerSec, f.rawInsertsPerSec, f.ratio, f.goalPerSec, f.meanBatch, ...f.rounds.subject, ...f.rounds.baseline);
  expect(f.ratio).toBeCloseTo(f.appendsPerSec / f.rawInsertsPerSec, 9);
  expect(f.met).toBe(f.appendsPerSec >= f.goalPerSec);
  // 8 in flight: a transaction carries at least one append and at most all of them.
  expect(f.meanBatch).toBeGreaterThanOrEqual(1);
  expect(f.meanBatch).toBeLessThanOrEqual(TINY.inFlight);
}

function expectSaneProof(c: ProofComparison, samples: number): void {
  expect(c.proof.samples).toBe(samples);
  expect(c.pointSelect.samples).toBe(samples);
  expectPositive(c.proof.medianMs, c.proof.p99Ms, c.pointSelect.medianMs, c.pointSelect.p99Ms, c.ratio, c.verified);
  expect(c.proof.p99Ms).toBeGreaterThanOrEqual(c.proof.medianMs);
}

describe('bench helpers', () => {
  it('computes medians and nearest-rank percentiles', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(percentile([5, 1, 4, 2, 3], 99)).toBe(5);
    expect(percentile(Array.from({ length: 100 }, (_, i) => i + 1), 99)).toBe(99);
  });

  it('interleaves baseline and subject, baseline first', async () => {
    const order: string[] = [];
    const result = await interleave(
      2,
      () => (order.push('b'), Promise.resolve(1)),
      () => (order.push('s'), Promise.resolve(2)),
    );
    expect(order).toEqual(['b', 's', 'b', 's']);
    expect(result).toEqual({ baseline: [1, 1], subject: [2, 2] });
  });
});

describe('bench smoke', () => {
  it('measures SQLite appends beside raw inserts', async () => {
    expectSaneAppends(await benchSqliteAppends(TINY), 'sqlite');
  });

  it('measures PostgreSQL appends beside raw inserts', async () => {
    expectSaneAppends(await benchPostgresAppends(PG_URL, TINY), 'postgres');
  });

  it('measures verified proofs beside point selects', async () => {
    const options = { entries: 300, fillChunk: 100, samples: 25, verifyEvery: 5 };
    const f = await benchProofs(options);
    expect(f.entries).toBe(300);
    expect(f.fill.transactions).toBe(3);
    expectPositive(f.fill.ms, f.fill.dbBytes);
    expectSaneProof(f.inclusion, options.samples);
    expectSaneProof(f.consistency, options.samples);
    expect(f.inclusion.verified).toBe(options.samples / options.verifyEvery);
    expect(f.inclusion.met).toBe(f.inclusion.proof.medianMs < f.inclusion.goalMs);
  });
});
