import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EvidenceError } from '../../../src/evidence/plugin.js';
import { verifyTpmEvidence } from '../../../src/evidence/tpm/index.js';
import { parseTpmEvidence } from '../../../src/evidence/tpm/evidence.js';
import { parsePublic, parseQuoteAttest, parseSignature } from '../../../src/evidence/tpm/structures.js';
import { mulberry32, mutateBytes, mutateEvidence, structureSeeds } from '../../fuzz/tpm-mutators.js';

/** Runs `fn`; anything thrown that is not an EvidenceError fails the property. */
function onlyEvidenceErrors(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
  }
}

const parsers = { attest: parseQuoteAttest, signature: parseSignature, public: parsePublic } as const;

describe('TPM parsers under fuzzing: only EvidenceError escapes', () => {
  for (const [name, parse] of Object.entries(parsers)) {
    it(`${name}: random bytes`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => onlyEvidenceErrors(() => parse(bytes))),
        { numRuns: 250 },
      );
    });

    it(`${name}: mutations of valid structures`, () => {
      const seeds = structureSeeds[name as keyof typeof structureSeeds];
      fc.assert(
        fc.property(fc.integer(), fc.nat(seeds.length - 1), (seed, which) =>
          onlyEvidenceErrors(() => parse(mutateBytes(seeds[which] as Uint8Array, mulberry32(seed)))),
        ),
        { numRuns: 300 },
      );
    });
  }

  it('evidence JSON: arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => onlyEvidenceErrors(() => parseTpmEvidence(new TextEncoder().encode(JSON.stringify(value) ?? '')))),
      { numRuns: 200 },
    );
  });

  it('whole verification: mutated evidence documents', async () => {
    const reasons = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(fc.integer(), async (seed) => {
        const { evidence, context } = mutateEvidence(mulberry32(seed));
        try {
          await verifyTpmEvidence(evidence, context);
          reasons.set('valid', (reasons.get('valid') ?? 0) + 1);
        } catch (error) {
          if (!(error instanceof EvidenceError)) throw error;
          reasons.set(error.reason, (reasons.get(error.reason) ?? 0) + 1);
        }
      }),
      { numRuns: 350 },
    );
    // The mutators must reach past the JSON layer, or this fuzz proves little.
    expect(reasons.get('signature') ?? 0).toBeGreaterThan(0);
    expect(reasons.get('malformed') ?? 0).toBeGreaterThan(0);
  });
});
