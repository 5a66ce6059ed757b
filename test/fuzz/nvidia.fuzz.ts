/**
 * Long-running fuzz of the NVIDIA GPU plugin, outside vitest:
 *
 *   node --import tsx test/fuzz/nvidia.fuzz.ts [runs=100000] [seed]
 *
 * Feeds random bytes, random documents and mutated real Hopper evidence (report bytes,
 * declared lengths, certificate chains, the JSON text) to the whole plugin. Exits 1 on
 * anything thrown that is not an EvidenceError, on a verification that succeeds over
 * altered signed bytes or an altered leaf certificate, or on a single run slower than 2 s;
 * prints the fast-check seed and counterexample so the failure can be replayed.
 */
import fc from 'fast-check';
import { nvidiaGpuPlugin } from '../../src/evidence/nvidia/index.js';
import { assertUnchangedWhereSigned, fuzzInput } from '../evidence/nvidia/mutators.js';
import { refused } from '../evidence/only-evidence-errors.js';
import { checkOrExit, fuzzArguments, Verifications } from './support.js';

const args = fuzzArguments('nvidia');
const verifications = new Verifications();

const property = fc.asyncProperty(fuzzInput(), async (input) => {
  const outcome = await verifications.run(() => nvidiaGpuPlugin.verify(input.evidence, { now: input.vector.now }));
  if (!refused(outcome) && input.derived) assertUnchangedWhereSigned(input.evidence, input.vector);
});

const seconds = await checkOrExit(property, args);
console.log(
  `ok: ${args.runs} runs in ${seconds} s (seed ${args.seed}); verified ${verifications.accepted}; slowest ${verifications.slowest.toFixed(0)} ms; refusals by reason:`,
  verifications.reasons.toObject(),
);
