/**
 * The Nitro benchmark with tiny sizes: sane figures, never fast. No timing thresholds.
 */
import { describe, expect, it } from 'vitest';
import { benchNitro, nitroLine, type NitroOptions } from '../../bench/nitro.js';

const TINY: NitroOptions = { rounds: 2, verifications: 6, uncached: 3 };

describe('Nitro bench smoke', () => {
  it('measures cached verification beside raw P-384 checks of the same COSE signatures', async () => {
    const f = await benchNitro(TINY);
    for (const value of [f.verificationsPerSec, f.rawP384PerSec, f.ratio, f.uncachedPerSec, ...f.rounds.subject, ...f.rounds.baseline]) {
      expect(Number.isFinite(value)).toBe(true);
      expect(value).toBeGreaterThan(0);
    }
    expect(f.rounds.subject).toHaveLength(TINY.rounds);
    expect(f.rounds.baseline).toHaveLength(TINY.rounds);
    expect(f.ratio).toBeCloseTo(f.verificationsPerSec / f.rawP384PerSec, 9);
    expect(f.timedCacheMisses).toBe(0);
    expect(f.vectors).toHaveLength(1);
    expect(nitroLine(f)).toMatch(/^nitro verify .*raw P-384 verify .*ratio .*uncached .*\(no goal\)$/);
  });
});
