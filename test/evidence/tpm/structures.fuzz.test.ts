import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { verifyTpmEvidence } from '../../../src/evidence/tpm/index.js';
import { parseTpmEvidence } from '../../../src/evidence/tpm/evidence.js';
import { parsePublic, parseQuoteAttest, parseSignature } from '../../../src/evidence/tpm/structures.js';
import { mulberry32, mutateBytes, mutateEvidence, structureSeeds } from '../../fuzz/tpm-mutators.js';
import { onlyEvidenceErrors, onlyEvidenceErrorsAsync, refused } from '../only-evidence-errors.js';

// `void onlyEvidenceErrors(…)`: fast-check fails a property whose predicate returns anything
// but true or undefined, and onlyEvidenceErrors returns what the parser returned.

const parsers = { attest: parseQuoteAttest, signature: parseSignature, public: parsePublic } as const;

describe('TPM parsers under fuzzing: only EvidenceError escapes', () => {
  for (const [name, parse] of Object.entries(parsers)) {
    it(`${name}: random bytes`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => void onlyEvidenceErrors(() => parse(bytes))),
        { numRuns: 250 },
      );
    });

    it(`${name}: mutations of valid structures`, () => {
      const seeds = structureSeeds[name as keyof typeof structureSeeds];
      fc.assert(
        fc.property(fc.integer(), fc.nat(seeds.length - 1), (seed, which) =>
          void onlyEvidenceErrors(() => parse(mutateBytes(seeds[which] as Uint8Array, mulberry32(seed)))),
        ),
        { numRuns: 300 },
      );
    });
  }

  it('evidence JSON: arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => void onlyEvidenceErrors(() => parseTpmEvidence(new TextEncoder().encode(JSON.stringify(value) ?? '')))),
      { numRuns: 200 },
    );
  });

  it('whole verification: mutated evidence documents', async () => {
    const reasons = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.integer(), async (seed) => {
        const { evidence, context } = mutateEvidence(mulberry32(seed));
        const outcome = await onlyEvidenceErrorsAsync(() => verifyTpmEvidence(evidence, context));
        const key = refused(outcome) ? outcome.reason : 'valid';
        reasons.set(key, (reasons.get(key) ?? 0) + 1);
      }),
      { numRuns: 350 },
    );
    // The mutators must reach past the JSON layer, or this fuzz proves little.
    expect(reasons.get('signature') ?? 0).toBeGreaterThan(0);
    expect(reasons.get('malformed') ?? 0).toBeGreaterThan(0);
  });
});
