/**
 * AWS Nitro Enclaves verification rate (chains cached) beside the raw ECDSA P-384/SHA-384
 * check of the same COSE signatures with the same keys: the ratio says what CBOR parsing,
 * the schema, the chain cache lookup and the claims add to the one signature a
 * verification cannot avoid. The issue sets no goal for it.
 */
import { X509Certificate, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, encode, Tag } from 'cbor2';
import { nitroPlugin, verifiedChains } from '../src/evidence/nitro/index.js';
import type { VerifyContext } from '../src/evidence/plugin.js';
import { collectGarbage, fmtRate, fmtRatio, interleave, median, msSince, now, type Interleaved } from './support.js';

export interface NitroOptions {
  /** Baseline/subject pairs; the figures are their medians. */
  readonly rounds: number;
  /** Verifications per side per round, cycling through the vectors. */
  readonly verifications: number;
  /** Verifications with the chain cache emptied before each, measured once after the rounds. */
  readonly uncached: number;
}

export interface NitroFigures {
  /** Median nitroPlugin.verify calls per second, chains cached. */
  readonly verificationsPerSec: number;
  /** Median raw P-384 signature checks per second. */
  readonly rawP384PerSec: number;
  readonly ratio: number;
  /** Verifications per second with no cached chain: the cost the cache saves. */
  readonly uncachedPerSec: number;
  /** Chain-cache misses during the timed rounds; 0 means every timed call was a hit. */
  readonly timedCacheMisses: number;
  readonly vectors: readonly string[];
  /** Every round: baseline = raw P-384/s, subject = verifications/s. */
  readonly rounds: Interleaved;
  readonly options: NitroOptions;
}

// Compiled: <project>/dist/bench/nitro.js; run from source: <project>/bench/nitro.ts.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.dirname(path.dirname(HERE)) : path.dirname(HERE);
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'nitro');

/** The real document of test/fixtures/nitro, at the time its tests verify it. */
const VECTORS = [{ name: 'yawn eu-central-1 (AWS root)', file: 'yawn-nitro-attest_attestation.cose', at: '2025-01-06T16:07:05Z' }] as const;

interface Vector {
  readonly document: Uint8Array;
  readonly context: VerifyContext;
  /** The COSE Sig_structure, built here with cbor2, not by the plugin. */
  readonly toBeSigned: Uint8Array;
  /** r ‖ s, 48 bytes each: IEEE P1363, as COSE carries it. */
  readonly signature: Uint8Array;
  readonly key: KeyObject;
}

/** The baseline reads the envelope and key itself (cbor2 and node's X.509, not our parser). */
function baselineParts(document: Uint8Array): Pick<Vector, 'toBeSigned' | 'signature' | 'key'> {
  const top = decode(document) as unknown;
  const [protectedHeader, , payload, signature] = (top instanceof Tag ? top.contents : top) as Uint8Array[];
  const certificate = (decode(payload!, { preferMap: true }) as Map<string, Uint8Array>).get('certificate')!;
  return {
    toBeSigned: encode(['Signature1', protectedHeader!, new Uint8Array(0), payload!]),
    signature: signature!,
    key: new X509Certificate(certificate).publicKey,
  };
}

async function loadVectors(): Promise<Vector[]> {
  return Promise.all(
    VECTORS.map(async (v) => {
      const document = new Uint8Array(await fs.readFile(path.join(FIXTURES, v.file)));
      return { document, context: { now: new Date(v.at) }, ...baselineParts(document) };
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
    if (!verify('sha384', v.toBeSigned, { key: v.key, dsaEncoding: 'ieee-p1363' }, v.signature)) {
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
    await nitroPlugin.verify(v.document, v.context);
  }
  return count / (msSince(start) / 1000);
}

export async function benchNitro(options: NitroOptions): Promise<NitroFigures> {
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
  return {
    verificationsPerSec,
    rawP384PerSec,
    ratio: verificationsPerSec / rawP384PerSec,
    uncachedPerSec,
    timedCacheMisses,
    vectors: VECTORS.map((v) => v.name),
    rounds,
    options,
  };
}

export function nitroLine(f: NitroFigures): string {
  return [
    `nitro verify       ${'cached'.padEnd(8)} ${fmtRate(f.verificationsPerSec).padStart(9)}`,
    `(raw P-384 verify ${fmtRate(f.rawP384PerSec)}; ratio ${fmtRatio(f.ratio)}; uncached ${fmtRate(f.uncachedPerSec)})`,
    '(no goal)',
  ].join('  ');
}
