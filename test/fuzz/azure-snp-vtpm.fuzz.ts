/**
 * Long-running fuzz of the Azure CVM (SEV-SNP + vTPM) plugin, outside vitest:
 *
 *   node --import tsx test/fuzz/azure-snp-vtpm.fuzz.ts [runs=100000] [seed]
 *
 * Feeds random bytes, random documents and mutated real evidence (the HCL report and its
 * header words, the quote, its signature, a PCR, the VCEK, the JSON text) to the whole
 * plugin. Exits 1 on anything thrown that is not an EvidenceError, on a verification that
 * succeeds over altered signed or bound bytes, or on a single run slower than 2 s; prints
 * the fast-check seed and counterexample so the failure can be replayed.
 */
import fc from 'fast-check';
import { azureSnpVtpmPlugin } from '../../src/evidence/azure-snp-vtpm/index.js';
import { AZURE } from '../evidence/azure-snp-vtpm/fixtures.js';
import { assertUnchangedWhereSigned, fuzzInput } from '../evidence/azure-snp-vtpm/mutators.js';
import { refused } from '../evidence/only-evidence-errors.js';
import { checkOrExit, fuzzArguments, Verifications } from './support.js';

const args = fuzzArguments('azure-snp-vtpm');
const verifications = new Verifications();

const property = fc.asyncProperty(fuzzInput(), async (input) => {
  const outcome = await verifications.run(() => azureSnpVtpmPlugin.verify(input.evidence, { now: AZURE.now }));
  if (!refused(outcome) && input.derived) assertUnchangedWhereSigned(input.evidence);
});

const seconds = await checkOrExit(property, args);
console.log(
  `ok: ${args.runs} runs in ${seconds} s (seed ${args.seed}); verified ${verifications.accepted}; slowest ${verifications.slowest.toFixed(0)} ms; refusals by reason:`,
  verifications.reasons.toObject(),
);
