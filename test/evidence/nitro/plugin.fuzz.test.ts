import { encode } from 'cbor2';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { nitroPlugin } from '../../../src/evidence/nitro/index.js';
import type { VerifyContext } from '../../../src/evidence/plugin.js';
import { onlyEvidenceErrorsAsync, refused } from '../only-evidence-errors.js';
import { document, envelope, makePki, SYNTH_NOW, type Pki } from './builder.js';
import { MARLIN, REAL } from './fixtures.js';
import { changedPayload, coseParts, mutatedBytes, payloadChange, payloadOf } from './mutators.js';

/**
 * The short property pass (about 1,000 inputs); test/fuzz/nitro.fuzz.ts is the long one.
 * Untrusted bytes may only ever produce an EvidenceError, and a mutation that still
 * verifies must have left the protected header, payload and signature as they were.
 */

/** Whether verification succeeded; anything thrown but an EvidenceError fails the property. */
async function verifies(evidence: Uint8Array, context: VerifyContext): Promise<boolean> {
  return !refused(await onlyEvidenceErrorsAsync(() => nitroPlugin.verify(evidence, context)));
}

let pki: Pki;
let vectors: { readonly bytes: Uint8Array; readonly context: VerifyContext }[];

beforeAll(async () => {
  pki = await makePki();
  const mockRoot = payloadOf(MARLIN.document()).get('cabundle') as Uint8Array[];
  vectors = [
    { bytes: REAL.document(), context: { now: REAL.now } },
    { bytes: MARLIN.document(), context: { now: MARLIN.now, trustAnchors: [mockRoot[0]!] } },
    { bytes: document(pki, { nonce: new Uint8Array([1, 2, 3]), user_data: new Uint8Array(64).fill(5) }), context: { now: SYNTH_NOW, trustAnchors: [pki.root.der], expectedNonce: new Uint8Array([1, 2, 3]) } },
    { bytes: document(pki, {}, { tagged: true }), context: { now: SYNTH_NOW, trustAnchors: [pki.root.der] } },
  ];
});

describe('fuzz: the Nitro plugin', () => {
  it('every vector verifies unmutated (the baseline the mutations depart from)', async () => {
    for (const v of vectors) expect(await verifies(v.bytes, v.context)).toBe(true);
  });

  it('random bytes give only EvidenceError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 6000 }), async (bytes) => {
        expect(await verifies(bytes, { now: REAL.now })).toBe(false);
      }),
      { numRuns: 250 },
    );
  });

  it('random CBOR values give only EvidenceError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (value) => {
        expect(await verifies(encode(value), { now: REAL.now })).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('mutated documents give only EvidenceError, or verify with their COSE parts intact', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(3), mutatedBytes(), async (which, mutate) => {
        const v = vectors[which]!;
        const evidence = mutate(v.bytes);
        if (await verifies(evidence, v.context)) expect(coseParts(evidence)).toBe(coseParts(v.bytes));
      }),
      { numRuns: 450 },
    );
  });

  it('validly signed documents with any field changed give only EvidenceError', async () => {
    // Re-signed, so the schema, chain and claim code all see them; acceptance is allowed.
    await fc.assert(
      fc.asyncProperty(payloadChange(), fc.boolean(), async (change, tagged) => {
        const payload = changedPayload(vectors[2]!.bytes, change);
        if (payload === undefined) return;
        await verifies(envelope(pki, payload, { tagged }), vectors[2]!.context);
      }),
      { numRuns: 200 },
    );
  });
});
