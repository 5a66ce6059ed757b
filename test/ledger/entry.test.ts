import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical.js';
import { encodeEntry, type LedgerEntry } from '../../src/ledger/entry.js';

const json: fc.Arbitrary<unknown> = fc.jsonValue();

describe('encodeEntry', () => {
  it('is exactly the RFC 8785 canonical JSON of the entry', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            seq: fc.nat(),
            tenant: fc.string(),
            type: fc.string(),
            actor: fc.string().map((name) => `member:${name}` as const),
            time: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            workload: fc.string({ unit: 'grapheme' }),
            payload: json,
          },
          { requiredKeys: ['seq', 'tenant', 'type', 'actor', 'time', 'payload'] },
        ),
        (entry) => {
          expect(encodeEntry(entry as LedgerEntry).toString('utf8')).toBe(canonicalJson(entry));
        },
      ),
      { numRuns: 500 },
    );
  });
});
