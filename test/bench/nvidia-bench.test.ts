/**
 * The NVIDIA GPU benchmark with tiny sizes: sane figures, never fast. No timing thresholds.
 */
import { describe, expect, it } from 'vitest';
import { benchNvidia, nvidiaLine, type NvidiaOptions } from '../../bench/nvidia.js';
import { expectSaneRates } from './verification-figures.js';

const TINY: NvidiaOptions = { rounds: 2, verifications: 6, uncached: 2 };

describe('NVIDIA bench smoke', () => {
  it('measures cached verification beside raw P-384 checks of the same reports', async () => {
    const f = await benchNvidia(TINY);
    expectSaneRates(f, f.rawP384PerSec, TINY.rounds);
    expect(f.timedCacheMisses).toBe(0);
    expect(f.vectors).toHaveLength(2);
    expect(nvidiaLine(f)).toMatch(/^nvidia-gpu verify .*raw P-384 verify .*ratio .*uncached .*\(no goal\)$/);
  });
});
