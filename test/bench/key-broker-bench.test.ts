/**
 * The key-broker benchmark with tiny sizes: a real server, a client thread, sane
 * figures — never fast. No timing thresholds.
 */
import { describe, expect, it } from 'vitest';
import { benchKeyBroker, KEY_RELEASE_GOAL_P99_MS, KEY_RELEASE_GOAL_PER_SEC, keyBrokerLine, type KeyBrokerBenchOptions } from '../../bench/key-broker.js';

const TINY: KeyBrokerBenchOptions = { clients: 4, releases: 40, encrypts: 20, rounds: 2 };

describe('key-broker bench smoke', () => {
  it('measures key releases over HTTP beside JWE encryption alone', { timeout: 120_000 }, async () => {
    const f = await benchKeyBroker(TINY);
    for (const value of [f.releasesPerSec, f.jweEncryptsPerSec, f.p99SaturatedMs, f.p99AtGoalMs, f.pacedPerSec, f.ratio, ...f.rounds.subject, ...f.rounds.baseline, ...f.p99SaturatedPerRound, ...f.p99AtGoalPerRound]) {
      expect(Number.isFinite(value)).toBe(true);
      expect(value).toBeGreaterThan(0);
    }
    expect(f.rounds.subject).toHaveLength(TINY.rounds);
    expect(f.p99SaturatedPerRound).toHaveLength(TINY.rounds);
    expect(f.p99AtGoalPerRound).toHaveLength(TINY.rounds);
    expect(f.ratio).toBeCloseTo(f.releasesPerSec / f.jweEncryptsPerSec, 9);
    expect([f.goalPerSec, f.goalP99Ms]).toEqual([KEY_RELEASE_GOAL_PER_SEC, KEY_RELEASE_GOAL_P99_MS]);
    expect(f.met).toEqual({ rate: f.releasesPerSec >= f.goalPerSec, p99: f.p99AtGoalMs < f.goalP99Ms });
    // Group commit: a transaction carries at least one release and at most a whole round's.
    expect(f.meanBatch).toBeGreaterThanOrEqual(1);
    expect(f.meanBatch).toBeLessThanOrEqual(TINY.releases);
    expect(keyBrokerLine(f)).toMatch(/^key releases {7}HTTP .*closed loop: p99 .*offering 1,500\/s: .* done, p99 .*JWE encrypt only .*goals ≥ 1,500\/s (met|NOT MET), p99 < 50 ms (met|NOT MET)$/);
  });
});
