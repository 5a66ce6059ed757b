/**
 * SEV-SNP verification rate (chains cached) beside the raw ECDSA P-384/SHA-384 check of the
 * same reports with the same keys: the ratio says what parsing, the chain cache and the
 * endorsement checks add to the one signature a verification cannot avoid.
 */
import { X509Certificate, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VerifyContext } from '../src/evidence/plugin.js';
import { verifiedChains } from '../src/evidence/sev-snp/chain-cache.js';
import { sevSnpPlugin } from '../src/evidence/sev-snp/index.js';
import { collectGarbage, fmtRate, fmtRatio, goalWord, interleave, median, msSince, now, type Interleaved } from './support.js';

/** The goal: SEV-SNP verification at ≥ 80% of the raw P-384 rate. */
export const SEV_SNP_GOAL_RATIO = 0.8;

export interface SevSnpOptions {
  /** Baseline/subject pairs; the figures are their medians. */
  readonly rounds: number;
  /** Verifications per side per round, cycling through the vectors. */
  readonly verifications: number;
  /** Verifications with the chain cache emptied before each, measured once after the rounds. */
  readonly uncached: number;
}

export interface SevSnpFigures {
  /** Median sevSnpPlugin.verify calls per second, chains cached. */
  readonly verificationsPerSec: number;
  /** Median raw P-384 signature checks per second. */
  readonly rawP384PerSec: number;
  readonly ratio: number;
  readonly goalRatio: number;
  readonly met: boolean;
  /** Verifications per second with no cached chain: the cost the cache saves. */
  readonly uncachedPerSec: number;
  /** Chain-cache misses during the timed rounds; 0 means every timed call was a hit. */
  readonly timedCacheMisses: number;
  readonly vectors: readonly string[];
  /** Every round: baseline = raw P-384/s, subject = verifications/s. */
  readonly rounds: Interleaved;
  readonly options: SevSnpOptions;
}

// Compiled: <project>/dist/bench/sev-snp.js; run from source: <project>/bench/sev-snp.ts.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.dirname(path.dirname(HERE)) : path.dirname(HERE);
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'sev-snp');

/** The real vectors of test/fixtures/sev-snp, at the times their tests verify them. */
const VECTORS = [
  { name: 'milan-v2 (VCEK)', report: 'milan-v2-attestation.bin', cert: 'milan-v2-vcek.der', at: '2022-09-24T01:00:00Z' },
  { name: 'milan-vlek-v3 (VLEK)', report: 'milan-vlek-v3-report.bin', cert: 'milan-vlek-v3-vlek.der', at: '2025-06-01T00:00:00Z' },
  { name: 'azure-milan-v3 (VCEK)', report: 'azure-milan-v3-report.bin', cert: 'azure-milan-v3-vcek.der', at: '2026-01-01T00:00:00Z' },
] as const;

const SIGNED_LENGTH = 0x2a0;
const SCALAR_BYTES = 48;
/** r and s are 72-byte little-endian fields at these offsets. */
const R_OFFSET = 0x2a0;
const S_OFFSET = 0x2e8;

interface Vector {
  readonly report: Uint8Array;
  readonly context: VerifyContext;
  readonly signed: Uint8Array;
  /** r ‖ s, 48 bytes each, big-endian: IEEE P1363. */
  readonly signature: Uint8Array;
  readonly key: KeyObject;
}

/** The baseline reads the signature and key itself (node's X.509, not our parser). */
function p1363(report: Uint8Array): Uint8Array {
  const scalar = (offset: number): Uint8Array => report.slice(offset, offset + SCALAR_BYTES).reverse();
  return Buffer.concat([scalar(R_OFFSET), scalar(S_OFFSET)]);
}

async function loadVectors(): Promise<Vector[]> {
  return Promise.all(
    VECTORS.map(async (v) => {
      const report = new Uint8Array(await fs.readFile(path.join(FIXTURES, v.report)));
      const cert = new Uint8Array(await fs.readFile(path.join(FIXTURES, v.cert)));
      return {
        report,
        context: { now: new Date(v.at), collateral: [cert] },
        signed: report.subarray(0, SIGNED_LENGTH),
        signature: p1363(report),
        key: new X509Certificate(cert).publicKey,
      };
    }),
  );
}

function vectorAt(vectors: readonly Vector[], i: number): Vector {
  return vectors[i % vectors.length] as Vector;
}

/** Raw P-384 checks per second; a false result would mean the baseline measures nothing real. */
function measureRaw(vectors: readonly Vector[], count: number): Promise<number> {
  collectGarbage();
  const start = now();
  for (let i = 0; i < count; i++) {
    const v = vectorAt(vectors, i);
    if (!verify('sha384', v.signed, { key: v.key, dsaEncoding: 'ieee-p1363' }, v.signature)) {
      throw new Error('raw P-384 baseline: a vector signature does not verify');
    }
  }
  return Promise.resolve(count / (msSince(start) / 1000));
}

async function measureVerify(vectors: readonly Vector[], count: number, beforeEach?: () => void): Promise<number> {
  collectGarbage();
  const start = now();
  for (let i = 0; i < count; i++) {
    const v = vectorAt(vectors, i);
    beforeEach?.();
    await sevSnpPlugin.verify(v.report, v.context);
  }
  return count / (msSince(start) / 1000);
}

export async function benchSevSnp(options: SevSnpOptions): Promise<SevSnpFigures> {
  const vectors = await loadVectors();

  // Warm-up (JIT, and one cold verification per vector fills the chain cache), not reported.
  const warm = Math.max(vectors.length, Math.min(200, options.verifications));
  await measureRaw(vectors, warm);
  await measureVerify(vectors, warm);

  const missesBefore = verifiedChains.stats.misses;
  const rounds = await interleave(
    options.rounds,
    () => measureRaw(vectors, options.verifications),
    () => measureVerify(vectors, options.verifications),
  );
  const timedCacheMisses = verifiedChains.stats.misses - missesBefore;

  const uncachedPerSec = await measureVerify(vectors, options.uncached, () => verifiedChains.clear());

  const verificationsPerSec = median(rounds.subject);
  const rawP384PerSec = median(rounds.baseline);
  const ratio = verificationsPerSec / rawP384PerSec;
  return {
    verificationsPerSec,
    rawP384PerSec,
    ratio,
    goalRatio: SEV_SNP_GOAL_RATIO,
    met: ratio >= SEV_SNP_GOAL_RATIO,
    uncachedPerSec,
    timedCacheMisses,
    vectors: VECTORS.map((v) => v.name),
    rounds,
    options,
  };
}

export function sevSnpLine(f: SevSnpFigures): string {
  return [
    `sev-snp verify     ${'cached'.padEnd(8)} ${fmtRate(f.verificationsPerSec).padStart(9)}`,
    `(raw P-384 verify ${fmtRate(f.rawP384PerSec)}; ratio ${fmtRatio(f.ratio)}; uncached ${fmtRate(f.uncachedPerSec)})`,
    `goal ≥ ${Math.round(f.goalRatio * 100)}% of raw P-384  ${goalWord(f.met)}`,
  ].join('  ');
}
