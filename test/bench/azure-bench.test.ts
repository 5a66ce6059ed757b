/**
 * The Azure CVM benchmark with tiny sizes: sane figures, never fast. No timing thresholds.
 */
import { describe, expect, it } from 'vitest';
import { azureLine, benchAzure, type AzureOptions } from '../../bench/azure-snp-vtpm.js';
import { expectSaneRates } from './verification-figures.js';

const TINY: AzureOptions = { rounds: 2, verifications: 6, uncached: 2 };

describe('Azure CVM bench smoke', () => {
  it('measures cached verification beside the raw report and quote signature checks of the same evidence', async () => {
    const f = await benchAzure(TINY);
    expectSaneRates(f, f.rawSignaturesPerSec, TINY.rounds);
    expect(f.timedCacheMisses).toBe(0);
    expect(azureLine(f)).toMatch(/^azure-snp-vtpm verify .*raw P-384 report \+ RSA quote verify .*ratio .*uncached .*\(no goal\)$/);
  });
});
