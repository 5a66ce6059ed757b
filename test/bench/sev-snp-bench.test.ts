/**
 * The SEV-SNP benchmark with tiny sizes: sane figures, never fast. No timing thresholds.
 */
import { describe, expect, it } from 'vitest';
import { benchSevSnp, sevSnpLine, SEV_SNP_GOAL_RATIO, type SevSnpOptions } from '../../bench/sev-snp.js';
import { expectSaneRates } from './verification-figures.js';

const TINY: SevSnpOptions = { rounds: 2, verifications: 6, uncached: 3 };

describe('SEV-SNP bench smoke', () => {
  it('measures cached verification beside raw P-384 checks of the same reports', async () => {
    const f = await benchSevSnp(TINY);
    expectSaneRates(f, f.rawP384PerSec, TINY.rounds);
    expect(f.goalRatio).toBe(SEV_SNP_GOAL_RATIO);
    expect(typeof f.met).toBe('boolean');
    expect(f.met).toBe(f.ratio >= f.goalRatio);
    expect(f.timedCacheMisses).toBe(0);
    expect(f.vectors).toHaveLength(3);
    expect(sevSnpLine(f)).toMatch(/^sev-snp verify .*raw P-384 .*goal ≥ 80% of raw P-384 {2}(met|NOT MET)$/);
  });
});
