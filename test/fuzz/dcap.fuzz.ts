/**
 * Long-running fuzz of the Intel DCAP plugins (SGX and TDX), outside vitest:
 *
 *   node --import tsx test/fuzz/dcap.fuzz.ts [runs=100000] [seed]
 *
 * Feeds random bytes, mutated real quotes (sgx_quote v3, tdx_quote v4, tdx_quote_outdated
 * v5) and mutated real collateral (whole document, one field, or one PCS-style item) to the
 * verifier. Exits 1 on anything thrown that is not an EvidenceError, on a verification
 * that succeeds over altered signed bytes or signed collateral, or on a single run slower
 * than 2 s; prints the fast-check seed and counterexample so the failure can be replayed.
 */
import fc from 'fast-check';
import { parseQuote, verifyDcapQuote, type TeeKind } from '../../src/evidence/dcap/index.js';
import type { Claims } from '../../src/evidence/plugin.js';
import { SGX_V3, TDX_V4, TDX_V5_OUTDATED, type Vector } from '../evidence/dcap/fixtures.js';
import { mutatedCollateral, mutatedQuote, signedDocuments, signedParts } from '../evidence/dcap/mutators.js';
import { refused } from '../evidence/only-evidence-errors.js';
import { checkOrExit, fuzzArguments, Verifications } from './support.js';

const args = fuzzArguments('dcap');

const vectors: readonly { v: Vector; tee: TeeKind; quote: Uint8Array; collateral: Uint8Array }[] = [SGX_V3, TDX_V4, TDX_V5_OUTDATED].map((v) => ({
  v,
  tee: v === SGX_V3 ? 'sgx' : 'tdx',
  quote: v.quote(),
  collateral: v.collateral(),
}));

const verifications = new Verifications();

async function attempt(evidence: Uint8Array, collateral: Uint8Array[], v: Vector, tee: TeeKind): Promise<Claims | undefined> {
  const outcome = await verifications.run(() => verifyDcapQuote(evidence, { now: v.now, collateral }, tee));
  return refused(outcome) ? undefined : outcome;
}

const property = fc.asyncProperty(
  fc.oneof(
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('random' as const), which: fc.constantFrom(0, 1, 2), bytes: fc.uint8Array({ maxLength: 6_000 }) }) },
    { weight: 5, arbitrary: fc.record({ kind: fc.constant('quote' as const), which: fc.constantFrom(0, 1, 2), mutate: mutatedQuote() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('collateral' as const), which: fc.constantFrom(0, 1, 2), mutate: mutatedCollateral() }) },
  ),
  async (input) => {
    const x = vectors[input.which];
    if (x === undefined) return;
    if (input.kind === 'random') {
      await attempt(input.bytes, [x.collateral], x.v, x.tee);
      return;
    }
    if (input.kind === 'quote') {
      const evidence = input.mutate(x.quote);
      const claims = await attempt(evidence, [x.collateral], x.v, x.tee);
      if (claims !== undefined && JSON.stringify(signedParts(parseQuote(evidence))) !== JSON.stringify(signedParts(parseQuote(x.quote)))) {
        throw new Error('verification succeeded over altered signed quote bytes');
      }
      return;
    }
    const collateral = input.mutate(x.collateral);
    const claims = await attempt(x.quote, collateral, x.v, x.tee);
    if (claims !== undefined && JSON.stringify(signedDocuments(collateral)) !== JSON.stringify(signedDocuments([x.collateral]))) {
      throw new Error('verification succeeded over altered signed collateral');
    }
  },
);

const seconds = await checkOrExit(property, args);
console.log(`ok: ${args.runs} runs in ${seconds} s (seed ${args.seed}); verified ${verifications.accepted}; refusals by reason:`, verifications.reasons.toObject());
