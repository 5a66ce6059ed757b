/**
 * The attestation-storm scenario (rollout issue, acceptance 5): a rollout from A to B
 * completes while 10,000 A instances hold tokens and 10,000 B instances hold theirs.
 * Completion refuses every A token at once (the relying parties' token check), so every
 * A instance comes back at that moment; the B instances come back as their jittered
 * tokens expire. The server admits `rate` new sessions a second and answers the rest
 * with 429 and a Retry-After; the attesters honour it.
 *
 * It all runs on virtual time (src/sim/virtual-time.ts) against the real HTTP routes
 * (fastify's inject) and a real SQLite store: the figures are per simulated second, so
 * they do not depend on how fast this machine is — only the wall time does.
 */
import fs from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { completeRollout, startRollout } from '../src/rollout/commands.js';
import { buildServer } from '../src/server/app.js';
import { Metrics } from '../src/server/metrics.js';
import { SimAttester, type Transport } from '../src/sim/attester.js';
import { SimulatedTee } from '../src/sim/tee.js';
import { VirtualTime } from '../src/sim/virtual-time.js';
import { openStore } from '../src/store/index.js';
import { BENCH_TENANT, benchPlane, fmtInt, fmtRatio, goalWord, msSince, now, tempDir } from './support.js';
import { seedSimWorkload, simVendor } from './sim-fleet-setup.js';

export interface StormOptions {
  /** Instances on each release. */
  readonly instances: number;
  /** New attestation sessions admitted per second (and the burst). */
  readonly rate: number;
  /** Result token lifetime before jitter, seconds. */
  readonly lifetimeSeconds: number;
  /** Token lifetime jitter, as a fraction (±). */
  readonly jitter: number;
  /** Histogram bucket width, seconds. */
  readonly bucketSeconds: number;
}

export interface StormFigures {
  readonly limit: number;
  /** Most sessions admitted in any one simulated second after completion. */
  readonly peak: number;
  readonly ratio: number;
  readonly met: boolean;
  readonly requests: number;
  /** Responses by HTTP status, after completion. */
  readonly statuses: Readonly<Record<string, number>>;
  /** A tokens refused by POST /v1/tokens/check right after completion. */
  readonly aTokensRefused: number;
  /** Verdicts of the re-attestations after completion. */
  readonly verdicts: Readonly<Record<string, number>>;
  /** Seconds after completion until the last A instance was served. */
  readonly aDrainSeconds: number;
  /** B re-attestation times, seconds after their first token was issued, in buckets. */
  readonly histogram: readonly { readonly from: number; readonly count: number }[];
  /** First and last B re-attestation, seconds after the first token. */
  readonly bSpread: readonly [number, number];
  readonly wallMs: number;
  readonly options: StormOptions;
}

const WORKLOAD = 'bench/storm';
const A = { version: '1.0.0', measurement: `sha256:${'a1'.repeat(32)}`, svn: 1 };
const B = { version: '1.1.0', measurement: `sha256:${'b2'.repeat(32)}`, svn: 2 };
const T0 = new Date('2026-06-01T00:00:00.000Z');

function injectTransport(app: FastifyInstance, onResponse: (url: string, status: number) => void): Transport {
  return async ({ method, url, headers, body }) => {
    const { pathname, search } = new URL(url);
    const res = await app.inject({ method, url: `${pathname}${search}`, headers, ...(body === undefined ? {} : { payload: Buffer.from(body) }) });
    onResponse(pathname, res.statusCode);
    return { status: res.statusCode, headers: { location: res.headers.location as string | undefined, 'retry-after': res.headers['retry-after'] as string | undefined }, body: res.body };
  };
}

export async function runStorm(options: StormOptions): Promise<StormFigures> {
  const started = now();
  const time = new VirtualTime(T0);
  const dir = await tempDir('storm');
  const store = await openStore({ dataDir: dir });
  try {
    const cp = benchPlane(store, undefined, time.clock);
    await seedSimWorkload(cp, WORKLOAD, [A, B], [A.version]);
    await cp.execute(BENCH_TENANT, startRollout('admin', WORKLOAD, { to: B.version, reason: 'storm bench' }));

    const { platform, tokenKey, attestation } = simVendor(cp, new Date(T0.getTime() - 86_400_000), 'storm', { tokenLifetimeSeconds: options.lifetimeSeconds, tokenJitter: options.jitter });
    const app = await buildServer({
      cp,
      tenant: BENCH_TENANT,
      metrics: new Metrics(),
      version: 'bench',
      tokenKeys: [{ key: tokenKey }],
      attestation,
      admission: { ratePerSecond: options.rate, burst: options.rate, maxInFlight: 1_000_000 },
      tokenLifetimeSeconds: options.lifetimeSeconds,
    });
    try {
      let after = false;
      const admittedPerSecond = new Map<number, number>();
      const statuses: Record<string, number> = {};
      const transport = injectTransport(app, (path, status) => {
        if (!after) return;
        statuses[String(status)] = (statuses[String(status)] ?? 0) + 1;
        if (path.endsWith('/newSession') && status === 201) {
          const second = Math.floor(time.clock().getTime() / 1000);
          admittedPerSecond.set(second, (admittedPerSecond.get(second) ?? 0) + 1);
        }
      });
      const fleet = (release: typeof A) =>
        Array.from({ length: options.instances }, () => {
          const tee = new SimulatedTee(platform, { measurement: release.measurement, svn: release.svn, debug: false, configDigests: {} });
          // Far more retries than a crowd needs: every wait is the server's to set.
          return new SimAttester({ server: 'http://covenant.bench', workload: WORKLOAD, tee, transport, sleep: time.sleep, maxRetries: 1_000 });
        });
      const [aFleet, bFleet] = [fleet(A), fleet(B)];

      // Before: every instance attests once, paced at the admitted rate.
      const tokens = new Map<SimAttester, string>();
      [...aFleet, ...bFleet].forEach((attester, i) => {
        time.at(new Date(T0.getTime() + Math.floor(i / options.rate) * 1000), async () => {
          tokens.set(attester, (await attester.attest()).token);
        });
      });
      await time.run();
      const firstIssued = Math.min(...bFleet.map((b) => decodeJwt(tokens.get(b)!).iat!));

      // Completion: A is refused at once, and relying parties say so. Half the live fleet
      // is still on A, so completing now must be forced (as for an urgent CVE in A).
      after = true;
      await cp.execute(BENCH_TENANT, completeRollout('admin', WORKLOAD, 'storm bench', { force: true }));
      const completedAt = time.clock().getTime();
      let aTokensRefused = 0;
      for (const a of aFleet) {
        const res = await app.inject({ method: 'POST', url: '/v1/tokens/check', payload: { token: tokens.get(a)! } });
        if (!(res.json() as { valid: boolean }).valid) aTokensRefused += 1;
      }

      const verdicts: Record<string, number> = {};
      const bTimes: number[] = [];
      let aDrain = 0;
      const reattest = async (attester: SimAttester, release: typeof A): Promise<void> => {
        const result = await attester.attest();
        verdicts[`${release.version} ${result.appraisal.status}`] = (verdicts[`${release.version} ${result.appraisal.status}`] ?? 0) + 1;
        const at = time.clock().getTime();
        if (release === A) aDrain = Math.max(aDrain, (at - completedAt) / 1000);
        else bTimes.push(at / 1000 - firstIssued);
      };
      for (const a of aFleet) time.at(new Date(completedAt), () => reattest(a, A));
      for (const b of bFleet) time.at(new Date(decodeJwt(tokens.get(b)!).exp! * 1000), () => reattest(b, B));
      await time.run();

      const peak = Math.max(0, ...admittedPerSecond.values());
      const buckets = new Map<number, number>();
      for (const t of bTimes) {
        const from = Math.floor(t / options.bucketSeconds) * options.bucketSeconds;
        buckets.set(from, (buckets.get(from) ?? 0) + 1);
      }
      return {
        limit: options.rate,
        peak,
        ratio: peak / options.rate,
        met: peak <= options.rate,
        requests: Object.values(statuses).reduce((sum, n) => sum + n, 0),
        statuses,
        aTokensRefused,
        verdicts,
        aDrainSeconds: aDrain,
        histogram: [...buckets.entries()].sort(([x], [y]) => x - y).map(([from, count]) => ({ from, count })),
        bSpread: [Math.min(...bTimes), Math.max(...bTimes)],
        wallMs: msSince(started),
        options,
      };
    } finally {
      await app.close();
    }
  } finally {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export function stormLine(f: StormFigures): string {
  const failures = Object.entries(f.statuses).filter(([status]) => !status.startsWith('2'));
  return [
    `storm: completion with ${fmtInt(f.options.instances)} A + ${fmtInt(f.options.instances)} B instances  peak ${fmtInt(f.peak)} sessions/s (limit ${fmtInt(f.limit)}; peak-to-limit ${fmtRatio(f.ratio)})`,
    `${fmtInt(f.requests)} requests, refusals ${failures.map(([s, n]) => `${s}×${fmtInt(n)}`).join(' ') || 'none'}; A drained in ${fmtInt(f.aDrainSeconds)} s`,
    `goal peak ≤ limit  ${goalWord(f.met)}`,
  ].join('  ');
}

/** The B re-attestation times as a text histogram, one line per bucket. */
export function histogramLines(f: StormFigures): string[] {
  const widest = Math.max(1, ...f.histogram.map((b) => b.count));
  return f.histogram.map((b) => `  ${String(b.from).padStart(5)}–${String(b.from + f.options.bucketSeconds).padEnd(5)} s ${'#'.repeat(Math.max(1, Math.round((b.count / widest) * 50)))} ${b.count}`);
}
