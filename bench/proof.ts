/**
 * Proof latency on a large SQLite ledger beside one indexed point SELECT of a single
 * ledger_nodes row through the same kysely db: the ratio says how many lookups' worth
 * of time a proof costs.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import type { ControlPlane } from '../src/app/control-plane.js';
import type { ConsistencyProof, InclusionProof, LedgerReader } from '../src/ledger/ledger.js';
import { leafHash, verifyConsistency, verifyInclusion } from '../src/ledger/merkle.js';
import { openStore, type Database } from '../src/store/index.js';
import { SQLITE_DB_FILE } from '../src/store/sqlite.js';
import { BENCH_TENANT, benchEntry, benchPlane, collectGarbage, interleave, median, msSince, now, percentile, randomInts, tempDir } from './support.js';

export const PROOF_GOAL_MS = 1;

export interface ProofOptions {
  /** Ledger size the proofs are taken at. */
  readonly entries: number;
  /** Entries per committer append (one transaction each) while filling. */
  readonly fillChunk: number;
  /** Timed proofs per kind, each interleaved with a timed point select. */
  readonly samples: number;
  /** Every n-th timed proof is verified afterwards. */
  readonly verifyEvery: number;
}

export interface Latency {
  readonly medianMs: number;
  readonly p99Ms: number;
  readonly samples: number;
}

export interface ProofComparison {
  readonly proof: Latency;
  /** The baseline sampled alternately with this proof. */
  readonly pointSelect: Latency;
  /** Median proof ÷ median point select. */
  readonly ratio: number;
  readonly verified: number;
}

export interface ProofFigures {
  readonly entries: number;
  readonly fill: { readonly method: string; readonly ms: number; readonly transactions: number; readonly dbBytes: number };
  readonly inclusion: ProofComparison & { readonly goalMs: number; readonly met: boolean };
  readonly consistency: ProofComparison;
  readonly options: ProofOptions;
}

function latency(samples: readonly number[]): Latency {
  return { medianMs: median(samples), p99Ms: percentile(samples, 99), samples: samples.length };
}

async function fileBytes(...files: string[]): Promise<number> {
  const sizes = await Promise.all(files.map((file) => fs.stat(file).then((s) => s.size, () => 0)));
  return sizes.reduce((a, b) => a + b, 0);
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = now();
  const value = await fn();
  return { ms: msSince(start), value };
}

/** Fills the ledger through the committer (the production path), `chunk` entries per transaction. */
export async function fillLedger(cp: ControlPlane, entries: number, chunk: number): Promise<{ ms: number; transactions: number }> {
  const start = now();
  let transactions = 0;
  for (let at = 0; at < entries; at += chunk) {
    const batch = Array.from({ length: Math.min(chunk, entries - at) }, (_, i) => benchEntry(at + i));
    await cp.committer.append(BENCH_TENANT, batch);
    transactions++;
  }
  return { ms: msSince(start), transactions };
}

/** One indexed point SELECT of a single ledger_nodes row (the baseline). */
export async function measurePointSelect(db: Kysely<Database>, size: number, random: (below: number) => number): Promise<number> {
  const idx = random(size);
  const { ms, value } = await timed(() =>
    db.selectFrom('ledger_nodes').select('hash').where('tenant', '=', BENCH_TENANT).where('level', '=', 0).where('idx', '=', idx).executeTakeFirst(),
  );
  if (value === undefined) throw new Error(`ledger node 0/${idx} is missing`);
  return ms;
}

/** One inclusion proof of a random leaf against the current head. */
export async function measureInclusionProof(reader: LedgerReader, size: number, random: (below: number) => number, keep?: (proof: InclusionProof) => void): Promise<number> {
  const index = random(size);
  const { ms, value } = await timed(() => reader.inclusionProof(BENCH_TENANT, index));
  keep?.(value);
  return ms;
}

/** One consistency proof from a random earlier size to the current head. */
export async function measureConsistencyProof(reader: LedgerReader, size: number, random: (below: number) => number, keep?: (proof: ConsistencyProof) => void): Promise<number> {
  const from = 1 + random(size - 1);
  const { ms, value } = await timed(() => reader.consistencyProof(BENCH_TENANT, from, size));
  keep?.(value);
  return ms;
}

/** Checks the kept proofs against the head, so a broken proof cannot pass as a fast one. */
async function verifyInclusions(reader: LedgerReader, proofs: readonly InclusionProof[]): Promise<number> {
  const head = await reader.head(BENCH_TENANT);
  for (const [n, proof] of proofs.entries()) {
    if (!verifyInclusion(proof.index, proof.treeSize, proof.leafHash, proof.hashes, head.root)) {
      throw new Error(`inclusion proof for index ${proof.index} does not verify against the head`);
    }
    // A few: the stored leaf node is the hash of the stored entry bytes.
    if (n < 20) {
      const [raw] = await reader.rawEntries(BENCH_TENANT, proof.index, 1);
      if (raw?.seq !== proof.index || !leafHash(raw.body).equals(proof.leafHash)) {
        throw new Error(`leaf ${proof.index} does not hash the stored entry`);
      }
    }
  }
  return proofs.length;
}

async function verifyConsistencies(reader: LedgerReader, proofs: readonly ConsistencyProof[]): Promise<number> {
  const head = await reader.head(BENCH_TENANT);
  for (const proof of proofs) {
    const older = await reader.rootAt(BENCH_TENANT, proof.from);
    if (!verifyConsistency(proof.from, proof.to, proof.hashes, older, head.root)) {
      throw new Error(`consistency proof ${proof.from} → ${proof.to} does not verify`);
    }
  }
  return proofs.length;
}

async function compare<P>(
  options: ProofOptions,
  baseline: () => Promise<number>,
  subject: (keep: (proof: P) => void) => Promise<number>,
  verify: (proofs: P[]) => Promise<number>,
): Promise<ProofComparison> {
  const kept: P[] = [];
  let n = 0;
  const keep = (proof: P): void => {
    if (n++ % options.verifyEvery === 0) kept.push(proof);
  };
  // Warm-up: JIT and the page cache's hot upper levels, not reported.
  for (let i = 0; i < Math.min(200, options.samples); i++) {
    await baseline();
    await subject(() => {});
  }
  collectGarbage();
  const rounds = await interleave(options.samples, baseline, () => subject(keep));
  const verified = await verify(kept);
  const proof = latency(rounds.subject);
  const pointSelect = latency(rounds.baseline);
  return { proof, pointSelect, ratio: proof.medianMs / pointSelect.medianMs, verified };
}

export async function benchProofs(options: ProofOptions): Promise<ProofFigures> {
  const dir = await tempDir('proof');
  try {
    const store = await openStore({ dataDir: dir });
    try {
      const cp = benchPlane(store);
      const fill = await fillLedger(cp, options.entries, options.fillChunk);
      const size = (await cp.ledger.head(BENCH_TENANT)).size;
      if (size !== options.entries) throw new Error(`ledger holds ${size} entries, expected ${options.entries}`);
      const dbBytes = await fileBytes(path.join(dir, SQLITE_DB_FILE), path.join(dir, `${SQLITE_DB_FILE}-wal`));
      const random = randomInts(0x5eed);
      const select = (): Promise<number> => measurePointSelect(store.db, size, random);

      const inclusion = await compare<InclusionProof>(
        options,
        select,
        (keep) => measureInclusionProof(cp.ledger, size, random, keep),
        (proofs) => verifyInclusions(cp.ledger, proofs),
      );
      const consistency = await compare<ConsistencyProof>(
        options,
        select,
        (keep) => measureConsistencyProof(cp.ledger, size, random, keep),
        (proofs) => verifyConsistencies(cp.ledger, proofs),
      );
      return {
        entries: size,
        fill: { method: `committer.append, ${options.fillChunk.toLocaleString('en-US')} entries per transaction`, ms: fill.ms, transactions: fill.transactions, dbBytes },
        inclusion: { ...inclusion, goalMs: PROOF_GOAL_MS, met: inclusion.proof.medianMs < PROOF_GOAL_MS },
        consistency,
        options,
      };
    } finally {
      await store.close();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}
