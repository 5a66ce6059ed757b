/**
 * Long-running fuzz of the SEV-SNP plugin, outside vitest:
 *
 *   node --import tsx test/fuzz/sev-snp.fuzz.ts [runs=100000] [seed]
 *
 * Feeds random bytes and mutated real reports/certificates to the parser and the whole
 * plugin. Exits 1 on anything thrown that is not an EvidenceError, on a verification that
 * succeeds over altered signed bytes, or on a single run slower than 2 s; prints the
 * fast-check seed and counterexample so the failure can be replayed.
 */
import fc from 'fast-check';
import { EvidenceError } from '../../src/evidence/plugin.js';
import { sevSnpPlugin } from '../../src/evidence/sev-snp/index.js';
import { parseReport, REPORT_SIZE } from '../../src/evidence/sev-snp/report.js';
import { MILAN_V2, VLEK_V3 } from '../evidence/sev-snp/fixtures.js';
import { mutatedCertificate, mutatedReport } from '../evidence/sev-snp/mutators.js';

const runs = Number(process.argv[2] ?? 100_000);
const seed = process.argv[3] === undefined ? Date.now() ^ (Math.random() * 0x7fffffff) : Number(process.argv[3]);
if (!Number.isSafeInteger(runs) || runs <= 0) {
  console.error('usage: node --import tsx test/fuzz/sev-snp.fuzz.ts [runs] [seed]');
  process.exit(2);
}

const vectors = [
  { report: MILAN_V2.report(), cert: MILAN_V2.vcek(), now: MILAN_V2.now },
  { report: VLEK_V3.report(), cert: VLEK_V3.vlek(), now: VLEK_V3.now },
];

let accepted = 0;
const reasons = new Map<string, number>();

function note(err: unknown): void {
  if (!(err instanceof EvidenceError)) throw err;
  reasons.set(err.reason, (reasons.get(err.reason) ?? 0) + 1);
}

const property = fc.asyncProperty(
  fc.oneof(
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('random' as const), bytes: fc.uint8Array({ maxLength: 2 * REPORT_SIZE }) }) },
    {
      weight: 4,
      arbitrary: fc.record({
        kind: fc.constant('mutated' as const),
        which: fc.constantFrom(0, 1),
        report: mutatedReport(),
        cert: fc.option(mutatedCertificate(), { nil: undefined, freq: 3 }),
      }),
    },
  ),
  async (input) => {
    if (input.kind === 'random') {
      try {
        parseReport(input.bytes);
      } catch (err) {
        note(err);
      }
      return;
    }
    const v = vectors[input.which];
    if (!v) return;
    const evidence = input.report(v.report);
    const collateral = [input.cert ? input.cert(v.cert) : v.cert];
    const started = performance.now();
    try {
      await sevSnpPlugin.verify(evidence, { now: v.now, collateral });
      accepted++;
      if (!Buffer.from(evidence.subarray(0, 0x2a0)).equals(Buffer.from(v.report.subarray(0, 0x2a0)))) {
        throw new Error('verification succeeded over altered signed bytes');
      }
    } catch (err) {
      note(err);
    }
    const elapsed = performance.now() - started;
    if (elapsed > 2000) throw new Error(`one verification took ${elapsed.toFixed(0)} ms`);
  },
);

const started = Date.now();
const result = await fc.check(property, { numRuns: runs, seed });
const seconds = ((Date.now() - started) / 1000).toFixed(1);
if (result.failed) {
  console.error(fc.defaultReportMessage(result));
  console.error(`FAILED after ${result.numRuns} runs (seed ${seed}, ${seconds} s)`);
  process.exit(1);
}
console.log(`ok: ${runs} runs in ${seconds} s (seed ${seed}); verified ${accepted}; refusals by reason:`, Object.fromEntries(reasons));
