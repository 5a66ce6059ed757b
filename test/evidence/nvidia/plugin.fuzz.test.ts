import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nvidiaGpuPlugin, parseNvidiaEvidence, parseOpaqueData, parseSpdmReport } from '../../../src/evidence/nvidia/index.js';
import { onlyEvidenceErrors, onlyEvidenceErrorsAsync, refused } from '../only-evidence-errors.js';
import { assertUnchangedWhereSigned, fuzzInput, mutatedReport } from './mutators.js';
import { HOPPER } from './fixtures.js';

/** Short property passes; test/fuzz/nvidia.fuzz.ts is the long run. */

describe('fuzz: the NVIDIA parsers', () => {
  it('parseNvidiaEvidence, parseSpdmReport and parseOpaqueData throw only EvidenceError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
        for (const parse of [parseNvidiaEvidence, parseSpdmReport, parseOpaqueData]) onlyEvidenceErrors(() => parse(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('parseSpdmReport throws only EvidenceError on mutated real reports, and reads no further than the input', () => {
    fc.assert(
      fc.property(mutatedReport(), (mutate) => {
        const bytes = mutate(HOPPER.report());
        const parsed = onlyEvidenceErrors(() => parseSpdmReport(bytes));
        if (refused(parsed)) return;
        expect(parsed.signed.length + parsed.signature.length + parsed.trailingBytes).toBe(bytes.length);
        onlyEvidenceErrors(() => parseOpaqueData(parsed.response.opaqueData));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('fuzz: the whole plugin', () => {
  it('random and mutated evidence give only EvidenceError, quickly, and accept nothing altered where signed', async () => {
    await fc.assert(
      fc.asyncProperty(fuzzInput(), async (input) => {
        const started = performance.now();
        const outcome = await onlyEvidenceErrorsAsync(() => nvidiaGpuPlugin.verify(input.evidence, { now: input.vector.now }));
        expect(performance.now() - started).toBeLessThan(2000);
        if (!refused(outcome) && input.derived) assertUnchangedWhereSigned(input.evidence, input.vector);
      }),
      { numRuns: 1000 },
    );
  });
});
