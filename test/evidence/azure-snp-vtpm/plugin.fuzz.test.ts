import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { azureSnpVtpmPlugin, parseAzureEvidence, parseHclReport, parseRuntimeData } from '../../../src/evidence/azure-snp-vtpm/index.js';
import { onlyEvidenceErrors, onlyEvidenceErrorsAsync, refused } from '../only-evidence-errors.js';
import { AZURE } from './fixtures.js';
import { assertUnchangedWhereSigned, fuzzInput } from './mutators.js';

/** Short property passes; test/fuzz/azure-snp-vtpm.fuzz.ts is the long run. */

describe('fuzz: the Azure parsers', () => {
  it('parseAzureEvidence, parseHclReport and parseRuntimeData throw only EvidenceError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (bytes) => {
        for (const parse of [parseAzureEvidence, parseHclReport, parseRuntimeData]) onlyEvidenceErrors(() => parse(bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it('parseRuntimeData throws only EvidenceError on random JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        onlyEvidenceErrors(() => parseRuntimeData(new TextEncoder().encode(JSON.stringify(value))));
        onlyEvidenceErrors(() => parseRuntimeData(new TextEncoder().encode(JSON.stringify({ keys: [value], 'vm-configuration': value }))));
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
        const outcome = await onlyEvidenceErrorsAsync(() => azureSnpVtpmPlugin.verify(input.evidence, { now: AZURE.now }));
        expect(performance.now() - started).toBeLessThan(2000);
        if (!refused(outcome) && input.derived) assertUnchangedWhereSigned(input.evidence);
      }),
      { numRuns: 1000 },
    );
  });
});
