/**
 * Generators of hostile attestation inputs — posted documents and session ids — shared
 * by the short property tests (CI) and the long fuzz run (`npm run fuzz`).
 */
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { encodeEnvelope } from '../../src/verifier/envelope.js';
import { newSessionKey, SessionCodec } from '../../src/verifier/session.js';

const encoder = new TextEncoder();
const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
export const VALID_ENVELOPE = encodeEnvelope({ evidenceType: 'application/vnd.covenant.sim-evidence+json', evidence: new Uint8Array(100).fill(7), instanceKey: spki, collateral: [new Uint8Array(3)] });

export const SESSION_TIME = new Date('2026-11-22T12:00:00Z');
export const codec = new SessionCodec(newSessionKey());
export const VALID_SESSION = codec.create('payments/ingest', SESSION_TIME).token;

function mutated(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  const at = fc.nat({ max: base.length - 1 });
  return fc.oneof(
    fc.tuple(at, fc.integer({ min: 1, max: 255 })).map(([i, mask]) => {
      const copy = new Uint8Array(base);
      copy[i] = (copy[i] as number) ^ mask;
      return copy;
    }),
    at.map((i) => base.slice(0, i)),
    fc.tuple(at, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([i, bytes]) => new Uint8Array([...base.subarray(0, i), ...bytes, ...base.subarray(i)])),
  );
}

export const ENVELOPES: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 2048 }),
  fc.jsonValue().map((value) => encoder.encode(JSON.stringify(value))),
  fc
    .record(
      {
        evidence: fc.oneof(fc.record({ type: fc.oneof(fc.string(), fc.jsonValue()), value: fc.oneof(fc.base64String(), fc.string(), fc.jsonValue()) }), fc.jsonValue()),
        instanceKey: fc.oneof(fc.base64String(), fc.constant(Buffer.from(spki).toString('base64')), fc.string(), fc.jsonValue()),
        collateral: fc.oneof(fc.array(fc.oneof(fc.base64String(), fc.jsonValue()), { maxLength: 20 }), fc.jsonValue()),
      },
      { requiredKeys: [] },
    )
    .map((value) => encoder.encode(JSON.stringify(value))),
  mutated(VALID_ENVELOPE),
);

export const SESSION_IDS: fc.Arbitrary<string> = fc.oneof(
  fc.string({ maxLength: 700 }),
  fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.'), maxLength: 700 }),
  mutated(encoder.encode(VALID_SESSION)).map((bytes) => Buffer.from(bytes).toString('latin1')).filter((text) => text !== VALID_SESSION),
);
