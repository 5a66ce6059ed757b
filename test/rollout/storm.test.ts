/**
 * Acceptance 5: completing a rollout with 10,000 outstanding A tokens and 10,000 B
 * instances causes no attestation storm. Virtual time, real routes, real SQLite (see
 * bench/storm.ts); `npm run bench` runs the same scenario and prints its ratio.
 */
import { describe, expect, it } from 'vitest';
import { histogramLines, runStorm, stormLine } from '../../bench/storm.js';

describe('attestation storm at rollout completion', () => {
  it('10,000 A + 10,000 B: admitted sessions never exceed the limit, nothing fails but 429, B re-attests spread over the jitter window', async () => {
    const f = await runStorm({ instances: 10_000, rate: 500, lifetimeSeconds: 600, jitter: 0.2, bucketSeconds: 30 });
    console.log([stormLine(f), 'B re-attestations, seconds after the first B token was issued:', ...histogramLines(f)].join('\n'));

    expect(f.peak).toBeGreaterThan(0);
    expect(f.peak).toBeLessThanOrEqual(f.limit);
    expect(Object.keys(f.statuses).sort()).toEqual(['200', '201', '429']);
    expect(f.statuses['200']).toBe(20_000);
    expect(f.aTokensRefused).toBe(10_000);
    expect(f.verdicts).toEqual({ '1.0.0 contraindicated': 10_000, '1.1.0 affirming': 10_000 });
    // 10,000 A instances at the limit take 20 s; the Retry-After spreading keeps it near that.
    expect(f.aDrainSeconds).toBeGreaterThanOrEqual(19);
    expect(f.aDrainSeconds).toBeLessThan(60);
    // Lifetimes of 600 s ± 20 %, tokens issued over 20 s: B comes back between 480 s and 740 s, not at once.
    expect(f.bSpread[0]).toBeGreaterThanOrEqual(480);
    expect(f.bSpread[1]).toBeLessThanOrEqual(740);
    expect(f.bSpread[1] - f.bSpread[0]).toBeGreaterThan(200);
    const busiest = Math.max(...f.histogram.map((b) => b.count));
    expect(busiest / 10_000).toBeLessThan(0.2);
  }, 600_000);
});
