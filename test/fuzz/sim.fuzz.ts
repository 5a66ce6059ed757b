/**
 * Fuzzing for the sim evidence plugin: whatever bytes arrive, `verify` resolves with
 * claims or rejects with an EvidenceError — never anything else.
 *
 * Standalone long run (exits non-zero on the first other outcome):
 *   node --import tsx test/fuzz/sim.fuzz.ts 100000 [seed]
 * The vitest suite test/evidence/sim/evidence.fuzz.test.ts runs the same properties briefly.
 */
import fc from 'fast-check';
import { generateKeyPairSync, sign } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import type { VerifyContext } from '../../src/evidence/plugin.js';
import { decodeEvidence, encodeEvidence, simPlugin } from '../../src/evidence/sim/index.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity } from '../../src/sim/vendor.js';
import { onlyEvidenceErrorsAsync, refused } from '../evidence/only-evidence-errors.js';

const T0 = new Date('2025-01-01T00:00:00Z');
const root = createVendorRoot({ now: T0 });
const platform = issuePlatformIdentity(root, { now: T0, platformId: 'fuzz-node' });
const tee = new SimulatedTee(platform, {
  measurement: `sha384:${'ab'.repeat(48)}`,
  signer: 'c0ffee',
  product: 'fuzz',
  svn: 3,
  debug: false,
  configDigests: { roots: `sha256:${'11'.repeat(32)}` },
});
const spki = new Uint8Array(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }));
export const VALID = tee.report(new Uint8Array(32).fill(7), spki);
const DECODED = decodeEvidence(VALID);
export const CONTEXT: VerifyContext = { now: new Date('2025-06-01T00:00:00Z'), trustAnchors: [root.certificate] };

/** What verify did with one input: 'accepted', an EvidenceError reason, or a failure. */
export async function outcome(evidence: Uint8Array, context: VerifyContext = CONTEXT): Promise<string> {
  const result = await onlyEvidenceErrorsAsync(async () => {
    const claims = await simPlugin.verify(evidence, context);
    if (claims.teeClass !== 'sim' || claims.measurements.length !== 1) throw new Error('accepted evidence gave odd claims');
  });
  return refused(result) ? result.reason : 'accepted';
}

const encoder = new TextEncoder();
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** One edit of a byte string: flip bits, overwrite, insert, delete, truncate or duplicate a slice. */
export function mutated(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  const at = fc.nat({ max: Math.max(0, base.length - 1) });
  return fc.oneof(
    fc.tuple(at, fc.integer({ min: 1, max: 255 })).map(([i, mask]) => {
      const copy = new Uint8Array(base);
      copy[i] = (copy[i] as number) ^ mask;
      return copy;
    }),
    fc.tuple(at, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([i, bytes]) => {
      const copy = new Uint8Array(base);
      copy.set(bytes.subarray(0, Math.max(0, copy.length - i)), i);
      return copy;
    }),
    fc.tuple(at, fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([i, bytes]) => new Uint8Array([...base.subarray(0, i), ...bytes, ...base.subarray(i)])),
    fc.tuple(at, fc.integer({ min: 1, max: 16 })).map(([i, n]) => new Uint8Array([...base.subarray(0, i), ...base.subarray(i + n)])),
    at.map((i) => base.slice(0, i)),
    fc.tuple(at, at).map(([i, j]) => new Uint8Array([...base, ...base.subarray(Math.min(i, j), Math.max(i, j))])),
  );
}

/** Re-signs a (possibly mutated) report with the real platform key: reaches the report parser. */
const signedReport = (report: Uint8Array) =>
  encodeEvidence({ ...DECODED, report, signature: new Uint8Array(sign(null, report, platform.privateKey)) });

// The platform certificate is SEQUENCE(4-byte header){ TBS(4-byte header) … } and ends in
// the 64-byte Ed25519 signature; same-length edits of the TBS re-signed by the root reach
// the certificate field reader with a chain that still verifies.
const CERT = DECODED.platformCertificate;
const TBS_START = 4;
const TBS_END = TBS_START + 4 + (((CERT[TBS_START + 2] as number) << 8) | (CERT[TBS_START + 3] as number));
function resignedCertificate(tbs: Uint8Array): Uint8Array {
  const copy = new Uint8Array(CERT);
  copy.set(tbs, TBS_START);
  copy.set(sign(null, tbs, root.privateKey), copy.length - 64);
  return encodeEvidence({ ...DECODED, platformCertificate: copy });
}

const reportLike = fc.record(
  {
    version: fc.oneof(fc.constant(1), fc.jsonValue()),
    measurement: fc.oneof(fc.constant(`sha256:${'00'.repeat(32)}`), fc.string(), fc.jsonValue()),
    signer: fc.oneof(fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF') }), fc.jsonValue()),
    product: fc.oneof(fc.string(), fc.jsonValue()),
    svn: fc.oneof(fc.integer(), fc.double(), fc.jsonValue()),
    debug: fc.oneof(fc.boolean(), fc.jsonValue()),
    configDigests: fc.oneof(fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.constant(`sha512:${'0'.repeat(128)}`))), fc.jsonValue()),
    reportData: fc.oneof(fc.constant('a'.repeat(128)), fc.string(), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

/** Named input generators; the standalone run splits its budget across them. */
export const INPUTS: Readonly<Record<string, fc.Arbitrary<Uint8Array>>> = {
  'random bytes': fc.uint8Array({ maxLength: 4096 }),
  'random JSON': fc.jsonValue().map((value) => encoder.encode(JSON.stringify(value))),
  'envelope with random fields': fc
    .record({
      version: fc.oneof(fc.constant(1), fc.jsonValue()),
      report: fc.oneof(fc.uint8Array({ maxLength: 512 }).map(b64), fc.string(), fc.jsonValue()),
      signature: fc.oneof(fc.uint8Array({ minLength: 64, maxLength: 64 }).map(b64), fc.string(), fc.jsonValue()),
      platformCertificate: fc.oneof(fc.constant(b64(CERT)), fc.uint8Array({ maxLength: 512 }).map(b64), fc.string()),
    }, { requiredKeys: [] })
    .map((value) => encoder.encode(JSON.stringify(value))),
  'mutated evidence bytes': mutated(VALID),
  'mutated report, re-signed': mutated(DECODED.report).map(signedReport),
  'random report JSON, signed': reportLike.map((value) => signedReport(encoder.encode(JSON.stringify(value)))),
  'mutated signature': mutated(DECODED.signature).map((signature) => encodeEvidence({ ...DECODED, signature })),
  'mutated certificate': mutated(CERT).map((platformCertificate) => encodeEvidence({ ...DECODED, platformCertificate })),
  'mutated certificate TBS, re-signed by the root': mutated(CERT.slice(TBS_START, TBS_END))
    .filter((tbs) => tbs.length === TBS_END - TBS_START)
    .map(resignedCertificate),
};

/** One property per input kind: verify only ever resolves or throws EvidenceError. */
export function properties(): [string, fc.IAsyncPropertyWithHooks<[Uint8Array]>][] {
  return Object.entries(INPUTS).map(([name, input]) => [name, fc.asyncProperty(input, async (evidence) => void (await outcome(evidence)))]);
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? '100000');
  const seed = process.argv[3] === undefined ? Date.now() : Number(process.argv[3]);
  if (!Number.isSafeInteger(total) || total <= 0 || !Number.isSafeInteger(seed)) {
    console.error('usage: node --import tsx test/fuzz/sim.fuzz.ts <runs> [seed]');
    process.exit(2);
  }
  const list = properties();
  const each = Math.ceil(total / list.length);
  console.log(`sim fuzz: ${each} runs × ${list.length} input kinds, seed ${seed}`);
  for (const [name, property] of list) {
    const started = performance.now();
    const result = await fc.check(property, { numRuns: each, seed, endOnFailure: false });
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (result.failed) {
      console.error(`FAIL ${name} after ${result.numRuns} runs (${seconds}s)`);
      console.error(fc.defaultReportMessage(result));
      process.exitCode = 1;
      return;
    }
    console.log(`ok   ${name}: ${result.numRuns} runs in ${seconds}s`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
