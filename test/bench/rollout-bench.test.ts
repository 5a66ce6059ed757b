/**
 * The rollout and storm benchmarks with tiny sizes: sane figures, never fast. No timing thresholds.
 */
import { describe, expect, it } from 'vitest';
import { benchRolloutTransitions, rolloutLine } from '../../bench/rollout.js';
import { histogramLines, runStorm, stormLine } from '../../bench/storm.js';

describe('rollout bench smoke', () => {
  it('measures transitions beside plain policy updates on the same store', async () => {
    const f = await benchRolloutTransitions({ workloads: 3, cycles: 1, rounds: 2 });
    for (const value of [f.transitionsPerSec, f.policyUpdatesPerSec, ...f.rounds.subject, ...f.rounds.baseline]) expect(value).toBeGreaterThan(0);
    expect(f.rounds.subject).toHaveLength(2);
    expect(f.ratio).toBeCloseTo(f.transitionsPerSec / f.policyUpdatesPerSec, 9);
    expect(rolloutLine(f)).toMatch(/^rollout transitions sqlite .*plain policy updates .*ratio .*\(no goal\)$/);
  });

  it('runs the storm scenario small: the same shape of figures, the peak held to the limit', async () => {
    const f = await runStorm({ instances: 40, rate: 10, lifetimeSeconds: 60, jitter: 0.2, bucketSeconds: 10 });
    expect(f.peak).toBeGreaterThan(0);
    expect(f.peak).toBeLessThanOrEqual(10);
    expect(f.met).toBe(true);
    expect(f.verdicts).toEqual({ '1.0.0 contraindicated': 40, '1.1.0 affirming': 40 });
    expect(f.histogram.reduce((sum, b) => sum + b.count, 0)).toBe(40);
    expect(stormLine(f)).toMatch(/peak-to-limit \d+\.\d\dx.*goal peak ≤ limit {2}met$/);
    expect(histogramLines(f)).toHaveLength(f.histogram.length);
  });
});
