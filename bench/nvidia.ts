/**
 * NVIDIA GPU verification rate (chains cached) beside the raw ECDSA P-384/SHA-384 check of
 * the same reports with the same leaf keys: the ratio says what parsing the evidence
 * document, the SPDM messages, the opaque data and the chain-cache lookup add to the one
 * signature a verification cannot avoid. There is no goal for this ratio yet.
 */
import { X509Certificate } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { verifiedChains } from '../src/evidence/nvidia/chain.js';
import { nvidiaGpuPlugin } from '../src/evidence/nvidia/index.js';
import type { VerifyContext } from '../src/evidence/plugin.js';
import { benchP384, verificationLine, type P384Figures, type P384Vector, type VerificationOptions } from './verification.js';

export type NvidiaOptions = VerificationOptions;
export type NvidiaFigures = P384Figures;

// Compiled: <project>/dist/bench/nvidia.js; run from source: <project>/bench/nvidia.ts.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.dirname(path.dirname(HERE)) : path.dirname(HERE);
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'nvidia-hopper');

/** The real vectors of test/fixtures/nvidia-hopper; `trailing` unsigned bytes follow each signature. */
const VECTORS = [
  { name: 'nvtrust hopper sample', report: 'hopperAttestationReport.txt', chain: 'hopperCertChain.txt', trailing: 0 },
  { name: 'trustee coco hopper (1 trailing byte)', report: 'hopper_coco_report1.txt', chain: 'hopper_coco_certs1.txt', trailing: 1 },
] as const;

const SIGNATURE_BYTES = 96;
const AT = new Date('2025-01-01T00:00:00Z');

interface Vector extends P384Vector {
  readonly evidence: Uint8Array;
  readonly context: VerifyContext;
}

async function loadVectors(): Promise<Vector[]> {
  return Promise.all(
    VECTORS.map(async (v) => {
      const report = Buffer.from((await fs.readFile(path.join(FIXTURES, v.report), 'utf8')).trim(), 'hex');
      const chain = await fs.readFile(path.join(FIXTURES, v.chain), 'utf8');
      // The baseline finds the signature by the file's known layout and the key with node's
      // X.509, not with the plugin's parsers.
      const end = report.length - v.trailing;
      return {
        evidence: new TextEncoder().encode(JSON.stringify({ report: report.toString('hex'), certChain: chain, arch: 'HOPPER' })),
        context: { now: AT },
        signed: report.subarray(0, end - SIGNATURE_BYTES),
        signature: report.subarray(end - SIGNATURE_BYTES, end),
        key: new X509Certificate(chain).publicKey,
      };
    }),
  );
}

export async function benchNvidia(options: NvidiaOptions): Promise<NvidiaFigures> {
  return benchP384(await loadVectors(), VECTORS.map((v) => v.name), (v) => nvidiaGpuPlugin.verify(v.evidence, v.context), verifiedChains, options);
}

export function nvidiaLine(f: NvidiaFigures): string {
  return verificationLine('nvidia-gpu', f, { label: 'raw P-384 verify', perSec: f.rawP384PerSec });
}
