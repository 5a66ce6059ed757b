/**
 * Key releases over HTTP on loopback: `GET /kbs/v0/resource/…` with a bearer result
 * token, each verified, checked for standing against the policy in force, decided by
 * the resource's rules, recorded in the ledger (group commit), the value unsealed and
 * encrypted to the instance's key as a JWE — beside the rate of the JWE encryption
 * alone (ECDH-ES+A256KW on P-256, A256GCM) of the same value, with as many in flight as
 * there are clients, in the same run: the ceiling the release path works under.
 *
 * Two ways to load it, both with 200 clients (one attested instance and token each):
 * closed loop — every client sends its next request when the last one is answered —
 * gives the most releases per second the server can do; but in a closed loop latency is
 * just clients ÷ throughput, so the latency goal is measured open loop: the clients
 * together offer the goal rate, each request on a fixed schedule, and a request's
 * latency counts from when it was due (so a stalled server cannot hide its backlog).
 * The clients run in a worker thread of this process (this module, started again): on a
 * two-core machine the server gets one core and the clients the other.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { AttestationService } from '../src/app/attestation.js';
import { KeyBroker } from '../src/keys/broker.js';
import { changeSecretRules, putSecret } from '../src/keys/commands.js';
import { encryptToTee } from '../src/keys/jwe.js';
import { FileKms } from '../src/keys/kms.js';
import { KbsClient, simRcarTee } from '../src/sdk/index.js';
import { buildServer } from '../src/server/app.js';
import { Metrics } from '../src/server/metrics.js';
import { SimulatedTee } from '../src/sim/tee.js';
import { openStore } from '../src/store/index.js';
import { newSessionKey } from '../src/verifier/session.js';
import { BENCH_TENANT, benchPlane, collectGarbage, fmtInt, fmtMs, fmtRate, fmtRatio, goalWord, interleave, median, msSince, now, percentile, tempDir, type Interleaved } from './support.js';
import { seedSimWorkload, simVendor } from './sim-fleet-setup.js';

/** The goals: at 200 concurrent clients, ≥ 1,500 releases/s with p99 < 50 ms. */
export const KEY_RELEASE_GOAL_PER_SEC = 1_500;
export const KEY_RELEASE_GOAL_P99_MS = 50;

export interface KeyBrokerBenchOptions {
  /** Clients in flight at once, each with its own attested instance and token. */
  readonly clients: number;
  /** Key releases per round. */
  readonly releases: number;
  /** JWE encryptions per baseline round. */
  readonly encrypts: number;
  readonly rounds: number;
}

export interface KeyBrokerFigures {
  /** Median key releases per second over the rounds, closed loop (the most the server does). */
  readonly releasesPerSec: number;
  /** Median of the rounds' p99 latency in the closed loop (≈ clients ÷ throughput, plus the tail). */
  readonly p99SaturatedMs: number;
  /** Median of the rounds' p99 latency with the clients offering the goal rate (open loop). */
  readonly p99AtGoalMs: number;
  /** Median releases per second the open loop completed (the goal rate, when the server keeps up). */
  readonly pacedPerSec: number;
  /** Median JWE encryptions per second, as many in flight as clients. */
  readonly jweEncryptsPerSec: number;
  readonly ratio: number;
  readonly goalPerSec: number;
  readonly goalP99Ms: number;
  readonly met: { readonly rate: boolean; readonly p99: boolean };
  /** Mean ledger entries sharing one transaction (group commit) over the measured rounds. */
  readonly meanBatch: number;
  /** Every round: baseline = JWE encrypts/s, subject = releases/s (closed loop). */
  readonly rounds: Interleaved;
  readonly p99SaturatedPerRound: readonly number[];
  readonly p99AtGoalPerRound: readonly number[];
  readonly options: KeyBrokerBenchOptions;
}

const WORKLOAD = 'bench/broker';
const MEASUREMENT = `sha256:${'cd'.repeat(32)}`;
const RESOURCE = 'bench/key/db';
/** A realistic secret: a 256-bit key in base64. */
const VALUE = new TextEncoder().encode(randomBytes(32).toString('base64'));

interface FleetConfig {
  readonly role: 'key-broker-fleet';
  readonly url: string;
  readonly tokens: readonly string[];
}

interface RoundResult {
  readonly rate: number;
  readonly p99Ms: number;
}

type RoundRequest = { readonly mode: 'closed'; readonly releases: number } | { readonly mode: 'paced'; readonly releases: number; readonly perSecond: number };

/** The client side, in the worker. */
async function runFleet(config: FleetConfig): Promise<void> {
  const { Agent, request } = await import('undici');
  const agent = new Agent({ connections: config.tokens.length, pipelining: 1 });
  const url = new URL(`/kbs/v0/resource/${RESOURCE}`, config.url).toString();
  const release = async (token: string): Promise<void> => {
    const response = await request(url, { dispatcher: agent, headers: { authorization: `Bearer ${token}` } });
    const body = await response.body.text();
    if (response.statusCode !== 200) throw new Error(`bench: a release was refused: ${response.statusCode} ${body.slice(0, 300)}`);
  };
  const clock = (): number => Number(process.hrtime.bigint()) / 1e6;

  // Every client sends its own token, one request at a time, until the round's releases are done.
  const closed = async (releases: number): Promise<RoundResult> => {
    let next = 0;
    const latencies: number[] = [];
    const client = async (token: string): Promise<void> => {
      while (next < releases) {
        next += 1;
        const started = clock();
        await release(token);
        latencies.push(clock() - started);
      }
    };
    const started = clock();
    await Promise.all(config.tokens.map(client));
    return { rate: latencies.length / ((clock() - started) / 1000), p99Ms: percentile(latencies, 99) };
  };

  // Request i is due at start + i/rate, sent by client i mod clients, whatever is still in flight.
  const paced = async (releases: number, perSecond: number): Promise<RoundResult> => {
    const latencies: number[] = [];
    const pending: Promise<void>[] = [];
    const started = clock();
    for (let i = 0; i < releases; i++) {
      const due = started + (i * 1000) / perSecond;
      const wait = due - clock();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      pending.push(release(config.tokens[i % config.tokens.length]!).then(() => void latencies.push(clock() - due)));
    }
    await Promise.all(pending);
    return { rate: releases / ((clock() - started) / 1000), p99Ms: percentile(latencies, 99) };
  };

  parentPort!.on('message', (message: RoundRequest | { close: true }) => {
    if ('close' in message) {
      void agent.close().then(() => parentPort!.close());
      return;
    }
    (message.mode === 'closed' ? closed(message.releases) : paced(message.releases, message.perSecond)).then(
      (result) => parentPort!.postMessage({ result }),
      (error: unknown) => parentPort!.postMessage({ error: error instanceof Error ? error.message : String(error) }),
    );
  });
}

if (!isMainThread && (workerData as Partial<FleetConfig> | null)?.role === 'key-broker-fleet') void runFleet(workerData as FleetConfig);

/** This module again, in a worker; from source, tsx's loader first (Node 20 does not pass `--import` hooks to workers). */
function startFleet(config: FleetConfig): Worker {
  const bootstrap = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(import.meta.url)}); })`;
  return import.meta.url.endsWith('.ts') ? new Worker(bootstrap, { eval: true, workerData: config }) : new Worker(new URL(import.meta.url), { workerData: config });
}

function fleetRound(fleet: Worker, round: RoundRequest): Promise<RoundResult> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error): void => reject(error);
    fleet.once('error', failed);
    fleet.once('message', (reply: { result?: RoundResult; error?: string }) => {
      fleet.off('error', failed);
      if (reply.error === undefined) resolve(reply.result!);
      else reject(new Error(reply.error));
    });
    fleet.postMessage(round);
  });
}

export async function benchKeyBroker(options: KeyBrokerBenchOptions): Promise<KeyBrokerFigures> {
  const dir = await tempDir('key-broker');
  const store = await openStore({ dataDir: dir });
  try {
    let batches = 0;
    let entries = 0;
    const cp = benchPlane(store, (_units, n) => {
      batches += 1;
      entries += n;
    });
    await seedSimWorkload(cp, WORKLOAD, [{ version: '1.0.0', measurement: MEASUREMENT, svn: 1 }], ['1.0.0']);
    const sessionKey = newSessionKey();
    const { platform, tokenKey, verifiers, attestation } = simVendor(cp, new Date(Date.now() - 60_000), 'bench', { sessionKey, tokenLifetimeSeconds: 3600 });
    const common = { cp, tenant: BENCH_TENANT, tokenKey, build: 'bench', tokenLifetimeSeconds: 3600 };
    const broker = new KeyBroker({
      cp,
      tenant: BENCH_TENANT,
      kms: new FileKms(new Uint8Array(randomBytes(32))),
      sealingMaster: new Uint8Array(randomBytes(32)),
      sessionKey,
      verifiers,
      attestationFor: (verifier, key) => new AttestationService({ ...common, sessionKey: key, verifiers: [verifier] }),
    });
    await cp.execute(BENCH_TENANT, putSecret('admin', { resource: RESOURCE, sealed: await broker.seal(RESOURCE, VALUE) }));
    await cp.execute(BENCH_TENANT, changeSecretRules('admin', { resource: RESOURCE, set: { name: 'bench', workloads: [WORKLOAD] } }));
    const app = await buildServer({
      cp,
      tenant: BENCH_TENANT,
      metrics: new Metrics(),
      version: 'bench',
      tokenKeys: [{ key: tokenKey }],
      tokenLifetimeSeconds: 3600,
      attestation,
      keyBroker: broker,
    });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      // One attested instance per client, through the real protocol.
      const tee = simRcarTee(new SimulatedTee(platform, { measurement: MEASUREMENT, svn: 1, debug: false, configDigests: {} }));
      const clients = Array.from({ length: options.clients }, () => new KbsClient({ server: url, workload: WORKLOAD, tee }));
      const tokens = await Promise.all(clients.map((client) => client.attest()));
      const fleet = startFleet({ role: 'key-broker-fleet', url, tokens });
      try {
        const cnf = { ...clients[0]!.teePublicKey };
        delete cnf['alg'];
        const saturated: number[] = [];
        const atGoal: RoundResult[] = [];
        const releaseRound = async (): Promise<number> => {
          collectGarbage();
          const result = await fleetRound(fleet, { mode: 'closed', releases: options.releases });
          saturated.push(result.p99Ms);
          // The open loop right after, on the same warm server.
          collectGarbage();
          atGoal.push(await fleetRound(fleet, { mode: 'paced', releases: options.releases, perSecond: KEY_RELEASE_GOAL_PER_SEC }));
          return result.rate;
        };
        // The encryption exactly as a release makes it (synchronous node:crypto; the promise is the API's), as many callers as clients.
        const encryptRound = async (): Promise<number> => {
          collectGarbage();
          let next = 0;
          const started = now();
          await Promise.all(
            Array.from({ length: options.clients }, async () => {
              while (next < options.encrypts) {
                next += 1;
                await encryptToTee(cnf, VALUE);
              }
            }),
          );
          return options.encrypts / (msSince(started) / 1000);
        };
        await releaseRound(); // warm-up: JIT, connections, caches
        saturated.length = 0;
        atGoal.length = 0;
        [batches, entries] = [0, 0];
        const rounds = await interleave(options.rounds, encryptRound, releaseRound);
        const releasesPerSec = median(rounds.subject);
        const jweEncryptsPerSec = median(rounds.baseline);
        const p99AtGoalMs = median(atGoal.map((r) => r.p99Ms));
        return {
          releasesPerSec,
          p99SaturatedMs: median(saturated),
          p99AtGoalMs,
          pacedPerSec: median(atGoal.map((r) => r.rate)),
          jweEncryptsPerSec,
          ratio: releasesPerSec / jweEncryptsPerSec,
          goalPerSec: KEY_RELEASE_GOAL_PER_SEC,
          goalP99Ms: KEY_RELEASE_GOAL_P99_MS,
          met: { rate: releasesPerSec >= KEY_RELEASE_GOAL_PER_SEC, p99: p99AtGoalMs < KEY_RELEASE_GOAL_P99_MS },
          meanBatch: batches === 0 ? 0 : entries / batches,
          rounds,
          p99SaturatedPerRound: [...saturated],
          p99AtGoalPerRound: atGoal.map((r) => r.p99Ms),
          options,
        };
      } finally {
        fleet.postMessage({ close: true });
        await new Promise((resolve) => fleet.once('exit', resolve));
      }
    } finally {
      await app.close();
    }
  } finally {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export function keyBrokerLine(f: KeyBrokerFigures): string {
  return [
    `key releases       HTTP     ${fmtRate(f.releasesPerSec).padStart(9)}`,
    `(${fmtInt(f.options.clients)} clients, closed loop: p99 ${fmtMs(f.p99SaturatedMs)}; offering ${fmtRate(f.goalPerSec)}: ${fmtRate(f.pacedPerSec)} done, p99 ${fmtMs(f.p99AtGoalMs)})`,
    `(JWE encrypt only ${fmtRate(f.jweEncryptsPerSec)}; ratio ${fmtRatio(f.ratio)}; ~${fmtInt(f.meanBatch)} ledger entries per transaction)`,
    `goals ≥ ${fmtRate(f.goalPerSec)} ${goalWord(f.met.rate)}, p99 < ${f.goalP99Ms} ms ${goalWord(f.met.p99)}`,
  ].join('  ');
}
