import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { CONTEXT, outcome, properties, VALID } from '../../fuzz/sim.fuzz.js';

// ~2,000 runs in all; the long run is `node --import tsx test/fuzz/sim.fuzz.ts 100000`.
const RUNS_EACH = Math.ceil(2000 / properties().length);

describe('sim evidence fuzzing: only EvidenceError escapes', () => {
  it('the unmutated evidence is accepted (the generators start from valid input)', async () => {
    expect(await outcome(VALID, CONTEXT)).toBe('accepted');
  });

  for (const [name, property] of properties()) {
    it(name, async () => {
      await fc.assert(property, { numRuns: RUNS_EACH });
    });
  }
});
