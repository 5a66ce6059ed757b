/**
 * The Nitro benchmark with tiny sizes: sane figures, never fast. No timing thresholds.
 */
import { describe, expect, it } from 'vitest';
import { benchNitro, nitroLine, type NitroOptions } from '../../bench/nitro.js';
import { expectSaneRates } from './verification-figures.js';

const TINY: NitroOptions = { rounds: 2, verifications: 6, uncached: 3 };

describe('Nitro bench smoke', () => {
  it('measures cached verification beside raw P-384 checks of the same COSE signatures', async () => {
    const f = await benchNitro(TINY);
    expectSaneRates(f, f.rawP384PerSec, TINY.rounds);
    expect(f.timedCacheMisses).toBe(0);
    expect(f.vectors).toHaveLength(1);
    expect(nitroLine(f)).toMatch(/^nitro verify .*raw P-384 verify .*ratio .*uncached .*\(no goal\)$/);
  });
});
