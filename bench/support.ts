/**
 * Shared benchmark helpers: interleaved baseline/subject timing, statistics, the bench
 * entry shape, scratch storage (temp dirs, a throwaway PostgreSQL database) and output.
 *
 * Absolute numbers on shared machines are noise (DESIGN.md, "Performance stance"), so
 * every figure is measured beside a baseline in the same run, alternating the two.
 */
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { ControlPlane } from '../src/app/control-plane.js';
import { canonicalJson } from '../src/core/canonical.js';
import type { Clock } from '../src/core/clock.js';
import type { LogKey } from '../src/ledger/checkpointer.js';
import type { NewEntry } from '../src/ledger/entry.js';
import { formatVerifierKey } from '../src/ledger/note.js';
import type { Store } from '../src/store/index.js';

// ---------------------------------------------------------------------------
// Timing and statistics

export function now(): bigint {
  return process.hrtime.bigint();
}

export function msSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/** Collects garbage between measurements when node runs with --expose-gc. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Nearest-rank percentile (p in 0..100) of the samples. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error('percentile of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new Error('median of no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export interface Interleaved {
  readonly baseline: number[];
  readonly subject: number[];
}

/**
 * Runs baseline, subject, baseline, subject… `rounds` times each and returns every
 * figure they report (a rate, or a duration). Alternating spreads the machine's noise
 * over both sides instead of letting it land on whichever ran second.
 */
export async function interleave(rounds: number, baseline: () => Promise<number>, subject: () => Promise<number>): Promise<Interleaved> {
  const result: Interleaved = { baseline: [], subject: [] };
  for (let round = 0; round < rounds; round++) {
    result.baseline.push(await baseline());
    result.subject.push(await subject());
  }
  return result;
}

/** Latency samples (ms) of `fn`, called `count` times one after another. */
export async function latencies(count: number, fn: (i: number) => Promise<unknown>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    const start = now();
    await fn(i);
    samples.push(msSince(start));
  }
  return samples;
}

/** Deterministic PRNG (mulberry32), so every run asks for the same indexes. */
export function randomInts(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

// ---------------------------------------------------------------------------
// What gets written

export const BENCH_TENANT = 'bench';
export const PAYLOAD_BYTES = 200;

/** A small, realistic entry whose payload's canonical JSON is PAYLOAD_BYTES long. */
export function benchEntry(i: number): NewEntry {
  const base = {
    request: `req-${String(i).padStart(9, '0')}`,
    digest: `sha256:${((i * 2654435761) >>> 0).toString(16).padStart(8, '0').repeat(8)}`,
    reason: '',
  };
  const pad = PAYLOAD_BYTES - canonicalJson(base).length;
  return {
    type: 'bench.append',
    actor: 'system:bench',
    workload: 'bench-workload',
    payload: { ...base, reason: 'x'.repeat(Math.max(0, pad)) },
  };
}

/** The row the ledger keeps for entry `seq`, for baselines that insert the same bytes. */
export function benchRow(seq: number, time: string): { seq: number; type: string; actor: string; workload: string; time: string; body: Buffer } {
  const entry = benchEntry(seq);
  const body = Buffer.from(canonicalJson({ ...entry, seq, tenant: BENCH_TENANT, time }), 'utf8');
  return { seq, type: entry.type, actor: entry.actor, workload: entry.workload ?? '', time, body };
}

// ---------------------------------------------------------------------------
// Scratch storage

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `covenant-bench-${prefix}-`));
}

export function benchLogKey(origin = `covenant/${BENCH_TENANT}`): LogKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { origin, privateKey, vkey: formatVerifierKey(origin, createPublicKey(privateKey)) };
}

/** A control plane on `store`, composed as the server composes it. */
export function benchPlane(store: Store, onBatch?: (units: number, entries: number) => void, clock: Clock = () => new Date()): ControlPlane {
  const logKey = benchLogKey();
  return new ControlPlane({ store, clock, logKey: () => logKey, ...(onBatch ? { onBatch } : {}) });
}

export const DEFAULT_PG_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export function benchPgUrl(): string {
  return process.env['COVENANT_BENCH_PG_URL'] ?? DEFAULT_PG_URL;
}

/** The URL without its password, for messages. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}

export interface ScratchDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

async function adminQuery(baseUrl: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query(text);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Rejects with the driver's error when the server of `baseUrl` cannot be reached. */
export async function probePostgres(baseUrl: string): Promise<void> {
  await adminQuery(baseUrl, 'select 1');
}

/** Creates `covenant_bench_<pid>[_suffix]` on the server of `baseUrl`; rejects if unreachable. */
export async function createScratchDatabase(baseUrl: string, suffix = ''): Promise<ScratchDatabase> {
  const name = `covenant_bench_${process.pid}${suffix}`;
  await adminQuery(baseUrl, `drop database if exists "${name}" with (force)`);
  await adminQuery(baseUrl, `create database "${name}"`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => adminQuery(baseUrl, `drop database if exists "${name}" with (force)`),
  };
}

// ---------------------------------------------------------------------------
// Output

export function fmtInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function fmtRate(perSec: number): string {
  return `${fmtInt(perSec)}/s`;
}

export function fmtMs(ms: number): string {
  return `${ms < 1 ? ms.toFixed(3) : ms.toFixed(2)} ms`;
}

export function fmtRatio(ratio: number): string {
  return `${ratio.toFixed(2)}x`;
}

export function goalWord(met: boolean): string {
  return met ? 'met' : 'NOT MET';
}
