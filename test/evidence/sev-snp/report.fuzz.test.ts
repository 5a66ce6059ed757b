import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseReport, REPORT_SIZE } from '../../../src/evidence/sev-snp/report.js';
import { sevSnpPlugin } from '../../../src/evidence/sev-snp/index.js';
import { onlyEvidenceErrors, onlyEvidenceErrorsAsync, refused } from '../only-evidence-errors.js';
import { MILAN_V2, VLEK_V3 } from './fixtures.js';
import { mutatedReport, mutatedCertificate } from './mutators.js';

const reports = [MILAN_V2.report(), VLEK_V3.report()];

describe('fuzz: parseReport', () => {
  it('throws only EvidenceError on random bytes of any length', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2 * REPORT_SIZE }), (bytes) => {
        onlyEvidenceErrors(() => parseReport(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('throws only EvidenceError on random 1184-byte reports with a plausible version', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: REPORT_SIZE, maxLength: REPORT_SIZE }), fc.integer({ min: 0, max: 7 }), (bytes, version) => {
        bytes[0] = version;
        bytes[1] = bytes[2] = bytes[3] = 0;
        onlyEvidenceErrors(() => parseReport(bytes));
      }),
      { numRuns: 500 },
    );
  });
});

describe('fuzz: the whole plugin', () => {
  it('mutated real reports and certificates give only EvidenceError, quickly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(0, 1),
        mutatedReport(),
        fc.option(mutatedCertificate(), { nil: undefined }),
        async (which, mutateReport, mutateCert) => {
          const base = reports[which] ?? new Uint8Array();
          const cert = which === 0 ? MILAN_V2.vcek() : VLEK_V3.vlek();
          const now = which === 0 ? MILAN_V2.now : VLEK_V3.now;
          const evidence = mutateReport(base);
          const collateral = [mutateCert ? mutateCert(cert) : cert];
          const started = performance.now();
          const ok = !refused(await onlyEvidenceErrorsAsync(() => sevSnpPlugin.verify(evidence, { now, collateral })));
          expect(performance.now() - started).toBeLessThan(2000);
          // A mutation that still verifies must have left the signed bytes alone.
          if (ok) expect(Buffer.from(evidence.subarray(0, 0x2a0)).equals(Buffer.from(base.subarray(0, 0x2a0)))).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });
});
