/**
 * SEV-SNP verification rate (chains cached) beside the raw ECDSA P-384/SHA-384 check of the
 * same reports with the same keys: the ratio says what parsing, the chain cache and the
 * endorsement checks add to the one signature a verification cannot avoid.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { VerifyContext } from '../src/evidence/plugin.js';
import { verifiedChains } from '../src/evidence/sev-snp/chain-cache.js';
import { sevSnpPlugin } from '../src/evidence/sev-snp/index.js';
import { goalWord } from './support.js';
import { benchP384, verificationLine, type P384Figures, type P384Vector, type VerificationOptions } from './verification.js';

/** The goal: SEV-SNP verification at ≥ 80% of the raw P-384 rate. */
export const SEV_SNP_GOAL_RATIO = 0.8;

export type SevSnpOptions = VerificationOptions;

export interface SevSnpFigures extends P384Figures {
  readonly goalRatio: number;
  readonly met: boolean;
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

interface Vector extends P384Vector {
  readonly report: Uint8Array;
  readonly context: VerifyContext;
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

export async function benchSevSnp(options: SevSnpOptions): Promise<SevSnpFigures> {
  const figures = await benchP384(await loadVectors(), VECTORS.map((v) => v.name), (v) => sevSnpPlugin.verify(v.report, v.context), verifiedChains, options);
  // The goal's two fields stand after the ratio, where results.json has always had them.
  const { verificationsPerSec, rawP384PerSec, ratio, ...rest } = figures;
  return { verificationsPerSec, rawP384PerSec, ratio, goalRatio: SEV_SNP_GOAL_RATIO, met: ratio >= SEV_SNP_GOAL_RATIO, ...rest };
}

export function sevSnpLine(f: SevSnpFigures): string {
  return verificationLine('sev-snp', f, { label: 'raw P-384 verify', perSec: f.rawP384PerSec }, `goal ≥ ${Math.round(f.goalRatio * 100)}% of raw P-384  ${goalWord(f.met)}`);
}
