import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseQuote, verifyDcapQuote, type TeeKind } from '../../../src/evidence/dcap/index.js';
import type { Claims } from '../../../src/evidence/plugin.js';
import { onlyEvidenceErrorsAsync, refused } from '../only-evidence-errors.js';
import { SGX_V3, TDX_V4, type Vector } from './fixtures.js';
import { mutatedCollateral, mutatedQuote, signedDocuments, signedParts } from './mutators.js';

/**
 * Short property pass (about 1,000 inputs; `npm run fuzz` runs the long one): random bytes,
 * mutated real quotes and mutated real collateral give claims or an EvidenceError, never
 * anything else, and nothing verifies once signed bytes changed. The inner verifier is
 * called, not the plugin, so that no catch-all could hide an untyped escape.
 */

const VECTORS: readonly { v: Vector; tee: TeeKind }[] = [
  { v: SGX_V3, tee: 'sgx' },
  { v: TDX_V4, tee: 'tdx' },
];

async function attempt(evidence: Uint8Array, collateral: Uint8Array[], v: Vector, tee: TeeKind): Promise<Claims | undefined> {
  const outcome = await onlyEvidenceErrorsAsync(() => verifyDcapQuote(evidence, { now: v.now, collateral }, tee));
  return refused(outcome) ? undefined : outcome;
}

describe('fuzz: DCAP quotes and collateral', () => {
  it('random bytes give only EvidenceError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 6_000 }), fc.constantFrom(0, 1), async (bytes, which) => {
        const { v, tee } = VECTORS[which]!;
        expect(await attempt(bytes, [v.collateral()], v, tee)).toBeUndefined();
      }),
      { numRuns: 300 },
    );
  });

  it('random bytes behind a valid header give only EvidenceError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 6_000 }), fc.constantFrom(0, 1), async (tail, which) => {
        const { v, tee } = VECTORS[which]!;
        const evidence = new Uint8Array(Buffer.concat([v.quote().subarray(0, 48), tail]));
        expect(await attempt(evidence, [v.collateral()], v, tee)).toBeUndefined();
      }),
      { numRuns: 200 },
    );
  });

  it('mutated real quotes: only EvidenceError, and a success has the original signed bytes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), mutatedQuote(), async (which, mutate) => {
        const { v, tee } = VECTORS[which]!;
        const evidence = mutate(v.quote());
        const claims = await attempt(evidence, [v.collateral()], v, tee);
        if (claims !== undefined) expect(signedParts(parseQuote(evidence))).toEqual(signedParts(parseQuote(v.quote())));
      }),
      { numRuns: 350 },
    );
  });

  it('mutated real collateral: only EvidenceError, and a success has the original signed documents', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(0, 1), mutatedCollateral(), async (which, mutate) => {
        const { v, tee } = VECTORS[which]!;
        const collateral = mutate(v.collateral());
        const claims = await attempt(v.quote(), collateral, v, tee);
        if (claims !== undefined) expect(signedDocuments(collateral)).toEqual(signedDocuments([v.collateral()]));
      }),
      { numRuns: 150 },
    );
  });
});
