/**
 * The DCAP benchmark with tiny sizes: sane figures, never fast. No timing thresholds.
 */
import { describe, expect, it } from 'vitest';
import { benchDcap, dcapLine, type DcapOptions } from '../../bench/dcap.js';
import { expectSaneRates } from './verification-figures.js';

const TINY: DcapOptions = { rounds: 2, verifications: 5, uncached: 2 };

describe('DCAP bench smoke', () => {
  it('measures cached SGX and TDX verification beside raw P-256 checks of the same quotes', async () => {
    const f = await benchDcap(TINY);
    for (const t of [f.sgx, f.tdx]) {
      expectSaneRates(t, t.rawPairsPerSec, TINY.rounds);
    }
    expect(f.timedCacheMisses).toBe(0);
    expect(f.vectors).toEqual(['sgx_quote (v3)', 'tdx_quote (v4)']);
    const [sgx, tdx] = dcapLine(f).split('\n');
    expect(sgx).toMatch(/^dcap sgx verify .*raw P-256 quote \+ QE report .*ratio .*\(no goal\)$/);
    expect(tdx).toMatch(/^dcap tdx verify .*raw P-256 quote \+ QE report .*ratio .*\(no goal\)$/);
  });
});
