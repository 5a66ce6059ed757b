/**
 * Long-running fuzz of the TPM evidence plugin, outside vitest:
 *
 *   node --import tsx test/fuzz/tpm.fuzz.ts [iterations=100000] [seed]
 *
 * Exits 1 at the first error that is not an EvidenceError, printing the seed and
 * iteration to replay it; prints the distribution of refusal reasons at the end.
 */
import { EvidenceError } from '../../src/evidence/plugin.js';
import { verifyTpmEvidence } from '../../src/evidence/tpm/index.js';
import { parsePublic, parseQuoteAttest, parseSignature } from '../../src/evidence/tpm/structures.js';
import { Tally } from './support.js';
import { mulberry32, mutateBytes, mutateEvidence, randomBytes, structureSeeds } from './tpm-mutators.js';

const iterations = Number(process.argv[2] ?? 100_000);
const baseSeed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
if (!Number.isSafeInteger(iterations) || iterations <= 0 || !Number.isSafeInteger(baseSeed)) {
  console.error('usage: node --import tsx test/fuzz/tpm.fuzz.ts [iterations] [seed]');
  process.exit(2);
}

const counts = new Tally();
const started = Date.now();

for (let iteration = 0; iteration < iterations; iteration++) {
  const seed = (baseSeed + iteration) | 0;
  const rng = mulberry32(seed);
  const target = Math.floor(rng() * 4);
  try {
    if (target === 3) {
      const { evidence, context } = mutateEvidence(rng);
      await verifyTpmEvidence(evidence, context);
      counts.add('evidence:valid');
    } else {
      const name = (['attest', 'signature', 'public'] as const)[target] as 'attest' | 'signature' | 'public';
      const parse = { attest: parseQuoteAttest, signature: parseSignature, public: parsePublic }[name];
      const seeds = structureSeeds[name];
      const input = rng() < 0.2 ? randomBytes(rng) : mutateBytes(seeds[Math.floor(rng() * seeds.length)] as Uint8Array, rng);
      parse(input);
      counts.add(`${name}:parsed`);
    }
  } catch (error) {
    if (!(error instanceof EvidenceError)) {
      console.error(`non-EvidenceError at iteration ${iteration} (replay: seed ${seed}, target ${target}):`);
      console.error(error);
      process.exit(1);
    }
    counts.add(`${['attest', 'signature', 'public', 'evidence'][target]}:${error.reason}`);
  }
  if ((iteration + 1) % 10_000 === 0) console.log(`${iteration + 1}/${iterations} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
}

console.log(`OK: ${iterations} iterations from seed ${baseSeed} in ${((Date.now() - started) / 1000).toFixed(1)} s, only EvidenceError`);
for (const [key, value] of counts.entries().sort()) console.log(`  ${key}: ${value}`);
