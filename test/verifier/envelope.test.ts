import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseEnvelope } from '../../src/verifier/envelope.js';
import { rejection } from '../support/errors.js';
import { ENVELOPES, VALID_ENVELOPE } from './attestation-inputs.js';

describe('parseEnvelope', () => {
  it('reads evidence, instance key and collateral back as bytes', () => {
    const envelope = parseEnvelope(VALID_ENVELOPE);
    expect(envelope.evidenceType).toBe('application/vnd.covenant.sim-evidence+json');
    expect(envelope.evidence).toEqual(new Uint8Array(100).fill(7));
    expect(envelope.collateral).toEqual([new Uint8Array(3)]);
    expect(envelope.instanceKey.length).toBeGreaterThan(60);
  });

  it('names the offending fields', () => {
    const error = rejection(() => parseEnvelope(new TextEncoder().encode(JSON.stringify({ evidence: { type: 'x', value: 'a b' }, extra: 1 }))));
    expect(error.type).toBe('bad-request');
    expect(error.issues.map((issue) => issue.field).sort()).toEqual(['(body)', 'evidence.value', 'instanceKey'].sort());
  });

  it('turns any input into a document or a bad-request, nothing else', () => {
    fc.assert(
      fc.property(ENVELOPES, (bytes) => {
        try {
          parseEnvelope(bytes);
        } catch (error) {
          expect(rejection(() => {
            throw error;
          }).type).toBe('bad-request');
        }
      }),
      { numRuns: 2_000 },
    );
  });
});
