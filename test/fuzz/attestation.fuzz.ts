/**
 * Long-running fuzz of the attestation edge, outside vitest:
 *
 *   node --import tsx test/fuzz/attestation.fuzz.ts [runs=100000] [seed]
 *
 * Feeds random and mutated documents to the envelope parser and random and mutated ids
 * to the session codec. Exits 1 on anything thrown that is not a typed refusal, on a
 * mutated session id that opens, or on a single input slower than 2 s; prints the
 * fast-check seed and counterexample so the failure can be replayed.
 */
import fc from 'fast-check';
import { CovenantError } from '../../src/core/errors.js';
import { parseEnvelope } from '../../src/verifier/envelope.js';
import { codec, ENVELOPES, SESSION_IDS, SESSION_TIME } from '../verifier/attestation-inputs.js';
import { fuzzArguments, Tally } from './support.js';

const { runs, seed } = fuzzArguments('attestation');
const outcomes = new Tally();

function typed(fn: () => unknown, allowed: readonly string[]): string {
  const started = Date.now();
  let outcome = 'accepted';
  try {
    fn();
  } catch (error) {
    if (!(error instanceof CovenantError) || !allowed.includes(error.type)) throw error;
    outcome = error.type;
  }
  if (Date.now() - started > 2_000) throw new Error('a single input took longer than 2 s');
  return outcome;
}

const property = fc.property(fc.oneof(ENVELOPES.map((bytes) => ({ bytes })), SESSION_IDS.map((id) => ({ id }))), (input) => {
  if ('bytes' in input) {
    outcomes.add(`envelope ${typed(() => parseEnvelope(input.bytes), ['bad-request'])}`);
    return;
  }
  const outcome = typed(() => codec.open(input.id, SESSION_TIME), ['not-found', 'session-expired']);
  if (outcome === 'accepted') throw new Error('a random or mutated session id opened');
  outcomes.add(`session ${outcome}`);
});

const result = fc.check(property, { numRuns: runs, seed });
if (result.failed) {
  console.error(fc.defaultReportMessage(result));
  process.exit(1);
}
console.log(`attestation fuzz: ${runs} inputs, seed ${seed}: ${outcomes.entries().map(([k, v]) => `${k} ${v}`).join(', ')}`);
