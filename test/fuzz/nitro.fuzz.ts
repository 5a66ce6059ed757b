/**
 * Long-running fuzz of the AWS Nitro Enclaves plugin, outside vitest:
 *
 *   node --import tsx test/fuzz/nitro.fuzz.ts [runs=100000] [seed]
 *
 * Feeds random bytes, random CBOR, byte-mutated real and synthetic attestation documents,
 * and validly re-signed documents with any payload field changed, to the whole plugin.
 * Exits 1 on anything thrown that is not an EvidenceError, on a byte-mutated document that
 * verifies with an altered protected header, payload or signature (only the envelope
 * around them, tag 18 or a length head, may change and still verify), or on a single run
 * slower than 2 s; prints the fast-check seed and counterexample so the failure can be
 * replayed.
 */
import { encode } from 'cbor2';
import fc from 'fast-check';
import { nitroPlugin } from '../../src/evidence/nitro/index.js';
import type { VerifyContext } from '../../src/evidence/plugin.js';
import { document, envelope, makePki, SYNTH_NOW } from '../evidence/nitro/builder.js';
import { MARLIN, REAL } from '../evidence/nitro/fixtures.js';
import { changedPayload, coseParts, mutatedBytes, payloadChange, payloadOf } from '../evidence/nitro/mutators.js';
import { refused } from '../evidence/only-evidence-errors.js';
import { checkOrExit, fuzzArguments, Verifications } from './support.js';

const args = fuzzArguments('nitro');

const pki = await makePki();
const mockRoot = (payloadOf(MARLIN.document()).get('cabundle') as Uint8Array[])[0]!;
const synthetic: VerifyContext = { now: SYNTH_NOW, trustAnchors: [pki.root.der], expectedNonce: new Uint8Array([1, 2, 3]) };
const vectors: { readonly bytes: Uint8Array; readonly context: VerifyContext }[] = [
  { bytes: REAL.document(), context: { now: REAL.now } },
  { bytes: MARLIN.document(), context: { now: MARLIN.now, trustAnchors: [mockRoot] } },
  { bytes: document(pki, { nonce: new Uint8Array([1, 2, 3]), user_data: new Uint8Array(64).fill(5) }), context: synthetic },
  { bytes: document(pki, { nonce: new Uint8Array([1, 2, 3]) }, { tagged: true }), context: synthetic },
];

const verifications = new Verifications();

/** Verifies; true when accepted. Anything but an EvidenceError escapes and fails the run. */
async function verify(evidence: Uint8Array, context: VerifyContext): Promise<boolean> {
  return !refused(await verifications.run(() => nitroPlugin.verify(evidence, context)));
}

const property = fc.asyncProperty(
  fc.oneof(
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 6000 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('cbor' as const), value: fc.jsonValue({ maxDepth: 4 }) }) },
    { weight: 6, arbitrary: fc.record({ kind: fc.constant('mutated' as const), which: fc.nat(vectors.length - 1), mutate: mutatedBytes() }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('resigned' as const), change: payloadChange(), tagged: fc.boolean() }) },
  ),
  async (input) => {
    switch (input.kind) {
      case 'random':
        await verify(input.bytes, { now: REAL.now });
        return;
      case 'cbor':
        await verify(encode(input.value), { now: REAL.now });
        return;
      case 'mutated': {
        const v = vectors[input.which]!;
        const evidence = input.mutate(v.bytes);
        if ((await verify(evidence, v.context)) && coseParts(evidence) !== coseParts(v.bytes)) {
          throw new Error('a mutated document verified with an altered protected header, payload or signature');
        }
        return;
      }
      case 'resigned': {
        const payload = changedPayload(vectors[2]!.bytes, input.change);
        if (payload !== undefined) await verify(envelope(pki, payload, { tagged: input.tagged }), synthetic);
        return;
      }
    }
  },
);

const seconds = await checkOrExit(property, args);
console.log(`ok: ${args.runs} runs in ${seconds} s (seed ${args.seed}); verified ${verifications.accepted}; refusals by reason:`, verifications.reasons.toObject());
