/**
 * `npm run bench`: ledger append throughput on SQLite and PostgreSQL, proof latency at
 * 1,000,000 entries, simulated attestations over HTTP, every evidence type's
 * verification, rollout transitions, the attestation storm and key releases, each beside
 * a baseline measured in the same run. Prints a table
 * and writes bench/results.json. PostgreSQL comes from COVENANT_BENCH_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres); the bench creates and drops its own
 * database there and exits non-zero if the server is unreachable.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchPostgresAppends, benchSqliteAppends, type AppendFigures, type AppendOptions } from './ledger.js';
import { attestLine, benchAttestations, type AttestOptions } from './attest.js';
import { benchProofs, type ProofComparison, type ProofFigures, type ProofOptions } from './proof.js';
import { benchSevSnp, sevSnpLine, type SevSnpOptions } from './sev-snp.js';
import { benchNitro, nitroLine } from './nitro.js';
import { benchDcap, dcapLine } from './dcap.js';
import { benchAzure, azureLine } from './azure-snp-vtpm.js';
import { benchNvidia, nvidiaLine } from './nvidia.js';
import type { VerificationOptions } from './verification.js';
import { benchKeyBroker, keyBrokerLine, type KeyBrokerBenchOptions } from './key-broker.js';
import { benchRolloutTransitions, rolloutLine, type RolloutBenchOptions } from './rollout.js';
import { histogramLines, runStorm, stormLine, type StormOptions } from './storm.js';
import { benchPgUrl, fmtInt, fmtMs, fmtRate, fmtRatio, goalWord, msSince, now, probePostgres, redact } from './support.js';

const APPENDS: AppendOptions = { appends: 20_000, inFlight: 1_000, rawRows: 20_000, rawMaxMs: 2_000, rounds: 5 };
const PROOFS: ProofOptions = { entries: 1_000_000, fillChunk: 50_000, samples: 2_000, verifyEvery: 10 };
// 256 attesters in flight: a 10,000-instance fleet re-attesting every ten minutes has ~17 arriving each second.
const ATTEST: AttestOptions = { attestations: 4_000, inFlight: 256, instances: 1_000, rounds: 5 };
const SEV_SNP: SevSnpOptions = { rounds: 9, verifications: 600, uncached: 100 };
// The other evidence types: fewer calls, as their uncached verifications (DCAP's CRLs) are slower.
const EVIDENCE: VerificationOptions = { rounds: 7, verifications: 300, uncached: 30 };
const ROLLOUT: RolloutBenchOptions = { workloads: 50, cycles: 4, rounds: 5 };
// The rollout issue's scenario 5, at its size; the rate is the limit the peak is held to.
const STORM: StormOptions = { instances: 10_000, rate: 500, lifetimeSeconds: 600, jitter: 0.2, bucketSeconds: 30 };
// The key-broker issue's goal is stated at 200 concurrent clients.
const KEY_BROKER: KeyBrokerBenchOptions = { clients: 200, releases: 6_000, encrypts: 3_000, rounds: 5 };

// Compiled: <project>/dist/bench/run.js; run from source: <project>/bench/run.ts.
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.basename(path.dirname(HERE)) === 'dist' ? path.dirname(path.dirname(HERE)) : path.dirname(HERE);
const RESULTS = path.join(ROOT, 'bench', 'results.json');

function loadAverage(): string {
  return os
    .loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');
}

function progress(message: string): void {
  console.error(`… ${message}`);
}

function appendLine(f: AppendFigures): string {
  return [
    `ledger appends     ${f.store.padEnd(8)} ${fmtRate(f.appendsPerSec).padStart(9)}`,
    `(raw single-row insert ${fmtRate(f.rawInsertsPerSec)}; ratio ${fmtRatio(f.ratio)})`,
    `goal ≥ ${fmtRate(f.goalPerSec)}  ${goalWord(f.met)}`,
  ].join('  ');
}

function roundsLine(f: AppendFigures): string {
  const list = (xs: number[]): string => xs.map(fmtInt).join(' / ');
  return `  ${f.store} rounds (appends/s | raw/s): ${list(f.rounds.subject)} | ${list(f.rounds.baseline)}; ~${fmtInt(f.meanBatch)} appends per transaction`;
}

function proofLine(name: string, entries: number, c: ProofComparison, goal: string): string {
  return [
    `${name.padEnd(18)} @${fmtInt(entries)}  median ${fmtMs(c.proof.medianMs)}  p99 ${fmtMs(c.proof.p99Ms)}`,
    `(point select median ${fmtMs(c.pointSelect.medianMs)} p99 ${fmtMs(c.pointSelect.p99Ms)}; ratio ${fmtRatio(c.ratio)})`,
    goal,
  ].join('  ');
}

async function main(): Promise<number> {
  const pgUrl = benchPgUrl();
  try {
    await probePostgres(pgUrl);
  } catch (err) {
    const reason = err instanceof Error ? err.message || String((err as { code?: unknown }).code) : String(err);
    console.error(`bench: PostgreSQL at ${redact(pgUrl)} is unreachable (${reason}); start it or set COVENANT_BENCH_PG_URL.`);
    return 1;
  }

  const loadBefore = loadAverage();
  const started = now();
  progress(`sqlite appends: ${APPENDS.rounds} × (raw inserts, ${fmtInt(APPENDS.appends)} appends with ${fmtInt(APPENDS.inFlight)} in flight)`);
  const sqlite = await benchSqliteAppends(APPENDS);
  progress('postgres appends');
  const postgres = await benchPostgresAppends(pgUrl, APPENDS);
  progress(`filling a SQLite ledger with ${fmtInt(PROOFS.entries)} entries, then ${fmtInt(PROOFS.samples)} proofs of each kind`);
  const proofs: ProofFigures = await benchProofs(PROOFS);
  progress(`sim attestations over HTTP: ${ATTEST.rounds} × (raw Ed25519 verifies, ${fmtInt(ATTEST.attestations)} attestations with ${ATTEST.inFlight} in flight)`);
  const attestations = await benchAttestations(ATTEST);
  progress('SEV-SNP verification');
  const sevSnp = await benchSevSnp(SEV_SNP);
  progress('Nitro, DCAP (SGX, TDX), Azure SNP + vTPM and NVIDIA GPU verification');
  const nitro = await benchNitro(EVIDENCE);
  const dcap = await benchDcap(EVIDENCE);
  const azure = await benchAzure(EVIDENCE);
  const nvidia = await benchNvidia(EVIDENCE);
  progress(`rollout transitions: ${ROLLOUT.rounds} × (plain policy updates, start/advance/rollback on ${ROLLOUT.workloads} workloads)`);
  const rollout = await benchRolloutTransitions(ROLLOUT);
  progress(`storm: completion with ${fmtInt(STORM.instances)} A + ${fmtInt(STORM.instances)} B instances on virtual time`);
  const storm = await runStorm(STORM);
  progress(`key releases over HTTP: ${KEY_BROKER.rounds} × (JWE encryptions alone, ${fmtInt(KEY_BROKER.releases)} releases closed loop and at the goal rate, ${KEY_BROKER.clients} clients)`);
  const keyBroker = await benchKeyBroker(KEY_BROKER);
  const totalMs = msSince(started);

  const loadAfter = loadAverage();
  const inclusionGoal = `goal < ${proofs.inclusion.goalMs} ms  ${goalWord(proofs.inclusion.met)}${proofs.inclusion.met && proofs.inclusion.proof.p99Ms >= proofs.inclusion.goalMs ? ' (median; p99 is above)' : ''}`;
  const lines = [
    `Covenant bench — node ${process.version}, ${os.platform()} ${os.arch()}, ${os.cpus().length} CPUs; PostgreSQL ${redact(pgUrl)}`,
    `appends: medians of ${APPENDS.rounds} interleaved rounds; proofs: ${fmtInt(PROOFS.samples)} samples each, interleaved with the point select`,
    `load average (1/5/15 min): ${loadBefore} before, ${loadAfter} after`,
    '',
    appendLine(sqlite),
    appendLine(postgres),
    roundsLine(sqlite),
    roundsLine(postgres),
    proofLine('inclusion proof', proofs.entries, proofs.inclusion, inclusionGoal),
    proofLine('consistency proof', proofs.entries, proofs.consistency, '(no goal)'),
    `  verified ${proofs.inclusion.verified} inclusion and ${proofs.consistency.verified} consistency proofs against the head`,
    attestLine(attestations),
    sevSnpLine(sevSnp),
    nitroLine(nitro),
    dcapLine(dcap),
    azureLine(azure),
    nvidiaLine(nvidia),
    rolloutLine(rollout),
    stormLine(storm),
    '  B re-attestations, seconds after the first B token:',
    ...histogramLines(storm),
    keyBrokerLine(keyBroker),
    `  fill: ${fmtInt(proofs.entries)} entries via ${proofs.fill.method}: ${(proofs.fill.ms / 1000).toFixed(1)} s (${fmtInt(proofs.entries / (proofs.fill.ms / 1000))} entries/s; database ${fmtInt(proofs.fill.dbBytes / 2 ** 20)} MiB)`,
    `  total ${(totalMs / 1000).toFixed(1)} s; results in bench/results.json`,
  ];
  console.log(lines.join('\n'));

  const results = {
    at: new Date().toISOString(),
    node: process.version,
    platform: `${os.platform()} ${os.arch()}`,
    cpus: os.cpus().length,
    loadAverage: { before: loadBefore, after: loadAfter },
    totalMs,
    appends: { sqlite, postgres },
    proofs,
    attestations,
    sevSnp,
    nitro,
    dcap,
    azure,
    nvidia,
    rollout,
    storm,
    keyBroker,
  };
  await fs.writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error('bench failed:', err);
    process.exitCode = 1;
  },
);
