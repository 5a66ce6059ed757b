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
import { sevSnpPlugin } from '../../src/evidence/sev-snp/index.js';
import { parseReport, REPORT_SIZE } from '../../src/evidence/sev-snp/report.js';
import { MILAN_V2, VLEK_V3 } from '../evidence/sev-snp/fixtures.js';
import { onlyEvidenceErrors, refused } from '../evidence/only-evidence-errors.js';
import { mutatedCertificate, mutatedReport } from '../evidence/sev-snp/mutators.js';
import { checkOrExit, fuzzArguments, Verifications } from './support.js';

const args = fuzzArguments('sev-snp');

const vectors = [
  { report: MILAN_V2.report(), cert: MILAN_V2.vcek(), now: MILAN_V2.now },
  { report: VLEK_V3.report(), cert: VLEK_V3.vlek(), now: VLEK_V3.now },
];

const verifications = new Verifications();

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
      const outcome = onlyEvidenceErrors(() => parseReport(input.bytes));
      if (refused(outcome)) verifications.reasons.add(outcome.reason);
      return;
    }
    const v = vectors[input.which];
    if (!v) return;
    const evidence = input.report(v.report);
    const collateral = [input.cert ? input.cert(v.cert) : v.cert];
    // The signed bytes are judged inside the timed call, so that a success over altered
    // bytes is reported as such even when it was also slow.
    await verifications.run(async () => {
      await sevSnpPlugin.verify(evidence, { now: v.now, collateral });
      if (!Buffer.from(evidence.subarray(0, 0x2a0)).equals(Buffer.from(v.report.subarray(0, 0x2a0)))) {
        throw new Error('verification succeeded over altered signed bytes');
      }
    });
  },
);

const seconds = await checkOrExit(property, args);
console.log(`ok: ${args.runs} runs in ${seconds} s (seed ${args.seed}); verified ${verifications.accepted}; refusals by reason:`, verifications.reasons.toObject());
