/**
 * Simulated-TEE attestations end to end over HTTP on loopback — session, evidence
 * verification, appraisal, verdict ledger entry and inventory in one transaction, EAR —
 * beside the raw Ed25519 verification rate of the same reports, in the same process.
 * The attesters run in a worker thread of this process (attest-fleet.ts): their half
 * of the work (report signing, HTTP client) shares the machine, as it must on loopback.
 */
import { generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { decodeEvidence } from '../src/evidence/sim/format.js';
import { buildServer } from '../src/server/app.js';
import { Metrics } from '../src/server/metrics.js';
import { SimulatedTee } from '../src/sim/tee.js';
import { exportPlatformIdentity } from '../src/sim/vendor.js';
import type { FleetConfig } from './attest-fleet.js';
import { openStore } from '../src/store/index.js';
import { publicKeyOf, parseCertificate } from '../src/evidence/sim/certificate.js';
import { BENCH_TENANT, benchPlane, collectGarbage, fmtInt, fmtRate, fmtRatio, goalWord, interleave, median, msSince, now, tempDir, type Interleaved } from './support.js';
import { seedSimWorkload, simVendor } from './sim-fleet-setup.js';

export const ATTEST_GOAL_PER_SEC = 3_000;

export interface AttestOptions {
  /** Attestations per round. */
  readonly attestations: number;
  /** Attesters in flight at once. */
  readonly inFlight: number;
  /** Distinct instance keys the fleet cycles through. */
  readonly instances: number;
  readonly rounds: number;
}

export interface AttestFigures {
  readonly attestationsPerSec: number;
  readonly rawVerifiesPerSec: number;
  readonly ratio: number;
  readonly goalPerSec: number;
  readonly met: boolean;
  readonly rounds: Interleaved;
  /** Mean verdicts sharing one transaction (group commit) over the measured rounds. */
  readonly meanBatch: number;
  /** Per attestation, medians of the measured rounds: the server's event loop busy time, and the CPU time of the whole process (server, fleet thread, thread pool). */
  readonly cpu: { readonly eventLoopUs: number; readonly processUs: number };
  readonly options: AttestOptions;
}

const WORKLOAD = 'bench/fleet';
const MEASUREMENT = `sha256:${'ab'.repeat(32)}`;

/**
 * The fleet thread. Compiled, it is a plain module; from source (the smoke test) the
 * thread registers tsx's loader first: Node 20 does not pass `--import` hooks to workers.
 */
function startFleet(config: FleetConfig): Worker {
  const source = new URL('./attest-fleet.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(source)}); })`;
  const fleet = import.meta.url.endsWith('.ts')
    ? new Worker(bootstrap, { eval: true, workerData: config })
    : new Worker(new URL('./attest-fleet.js', import.meta.url), { workerData: config });
  fleet.on('error', (error) => deaths.set(fleet, error));
  return fleet;
}

/** One round on the fleet thread; a thread that died (even before the round) fails it. */
function fleetRound(fleet: Worker, attestations: number): Promise<number> {
  const died = deaths.get(fleet);
  if (died !== undefined) return Promise.reject(died);
  return new Promise((resolve, reject) => {
    const failed = (error: Error): void => reject(error);
    fleet.once('error', failed);
    fleet.once('message', (reply: { rate?: number; error?: string }) => {
      fleet.off('error', failed);
      if (reply.error === undefined) resolve(reply.rate!);
      else reject(new Error(reply.error));
    });
    fleet.postMessage({ attestations });
  });
}

const deaths = new WeakMap<Worker, Error>();

export async function benchAttestations(options: AttestOptions): Promise<AttestFigures> {
  const dir = await tempDir('attest');
  const store = await openStore({ dataDir: dir });
  try {
    let batches = 0;
    let units = 0;
    const cp = benchPlane(store, (n) => {
      batches += 1;
      units += n;
    });
    await seedSimWorkload(cp, WORKLOAD, [{ version: '1.0.0', measurement: MEASUREMENT, svn: 1 }], ['1.0.0']);
    const { platform, tokenKey, attestation } = simVendor(cp, new Date(Date.now() - 60_000), 'bench');
    const app = await buildServer({ cp, tenant: BENCH_TENANT, metrics: new Metrics(), version: 'bench', tokenKeys: [{ key: tokenKey }], attestation });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const fleet = startFleet({ url, workload: WORKLOAD, measurement: MEASUREMENT, platform: exportPlatformIdentity(platform), instances: options.instances, inFlight: options.inFlight });
    try {
      const tee = new SimulatedTee(platform, { measurement: MEASUREMENT, svn: 1, debug: false, configDigests: {} });
      const instanceKeys = Array.from({ length: 16 }, () => new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' })));

      // The baseline verifies exactly what the verifier verifies: the reports' Ed25519 signatures.
      const platformKey: KeyObject = publicKeyOf(parseCertificate(platform.certificate, 'platform'));
      const reports = Array.from({ length: 1000 }, (_, i) => decodeEvidence(tee.report(new Uint8Array(32).fill(i % 256), instanceKeys[i % instanceKeys.length]!)));
      const rawRound = async (): Promise<number> => {
        collectGarbage();
        const started = now();
        for (let i = 0; i < options.attestations; i++) {
          const report = reports[i % reports.length]!;
          if (!verify(null, report.report, platformKey, report.signature)) throw new Error('bench: a report does not verify');
        }
        return options.attestations / (msSince(started) / 1000);
      };
      // Where the time goes: the event loop's busy time caps one server process, the whole
      // process's CPU time caps the machine (the fleet shares it, as on loopback it must).
      const eventLoopUs: number[] = [];
      const processUs: number[] = [];
      const attestRound = async (): Promise<number> => {
        collectGarbage();
        const [loop, cpu] = [performance.eventLoopUtilization(), process.cpuUsage()];
        const rate = await fleetRound(fleet, options.attestations);
        const used = process.cpuUsage(cpu);
        eventLoopUs.push((performance.eventLoopUtilization(loop).active * 1000) / options.attestations);
        processUs.push((used.user + used.system) / options.attestations);
        return rate;
      };
      await attestRound(); // warm-up: JIT, connections, caches
      [batches, units, eventLoopUs.length, processUs.length] = [0, 0, 0, 0];
      const rounds = await interleave(options.rounds, rawRound, attestRound);
      const attestationsPerSec = median(rounds.subject);
      const rawVerifiesPerSec = median(rounds.baseline);
      return {
        attestationsPerSec,
        rawVerifiesPerSec,
        ratio: attestationsPerSec / rawVerifiesPerSec,
        goalPerSec: ATTEST_GOAL_PER_SEC,
        met: attestationsPerSec >= ATTEST_GOAL_PER_SEC,
        rounds,
        meanBatch: units / batches,
        cpu: { eventLoopUs: median(eventLoopUs), processUs: median(processUs) },
        options,
      };
    } finally {
      fleet.postMessage({ close: true });
      await new Promise((resolve) => fleet.once('exit', resolve));
      await app.close();
    }
  } finally {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export function attestLine(f: AttestFigures): string {
  return [
    `sim attestations   HTTP     ${fmtRate(f.attestationsPerSec).padStart(9)}`,
    `(raw Ed25519 verify of the same reports ${fmtRate(f.rawVerifiesPerSec)}; ratio ${fmtRatio(f.ratio)}; ${fmtInt(f.options.inFlight)} in flight, ~${fmtInt(f.meanBatch)} verdicts per transaction)`,
    `(per attestation: server event loop busy ${fmtInt(f.cpu.eventLoopUs)} µs; whole process ${fmtInt(f.cpu.processUs)} µs CPU, so ${os.availableParallelism()} CPUs top out at ${fmtRate((os.availableParallelism() * 1e6) / f.cpu.processUs)})`,
    `goal ≥ ${fmtRate(f.goalPerSec)}  ${goalWord(f.met)}`,
  ].join('  ');
}
