/**
 * Rollout transitions per second — start, advance, rollback, each a command through the
 * spine with its gate evaluated and its policy version decided — beside plain policy
 * updates (one policy version each) on the same store in the same run. Many workloads
 * transition concurrently, as a fleet of services would, sharing group commits.
 */
import fs from 'node:fs/promises';
import { createTenant } from '../src/ceremony/members.js';
import { generateMemberKey } from '../src/ceremony/member-key.js';
import { createWorkload, registerRelease, updatePolicy } from '../src/policy/commands.js';
import { advanceRollout, rollbackRollout, startRollout } from '../src/rollout/commands.js';
import type { ControlPlane } from '../src/app/control-plane.js';
import { openStore } from '../src/store/index.js';
import { BENCH_TENANT, benchPlane, collectGarbage, fmtRate, fmtRatio, interleave, median, msSince, now, tempDir, type Interleaved } from './support.js';

export interface RolloutBenchOptions {
  /** Workloads transitioning at once. */
  readonly workloads: number;
  /** Start → advance → rollback cycles per workload per round. */
  readonly cycles: number;
  readonly rounds: number;
}

export interface RolloutFigures {
  readonly transitionsPerSec: number;
  readonly policyUpdatesPerSec: number;
  readonly ratio: number;
  readonly rounds: Interleaved;
  readonly options: RolloutBenchOptions;
}

const digest = (seed: string): string => `sha256:${Buffer.from(seed.padEnd(32, '.')).toString('hex').slice(0, 64)}`;

async function seed(cp: ControlPlane, workloads: readonly string[]): Promise<void> {
  const admin = generateMemberKey('ed25519');
  const logKey = cp.logKey(BENCH_TENANT);
  await cp.execute(BENCH_TENANT, createTenant({ origin: logKey.origin, logVkey: logKey.vkey }, [{ name: 'admin', publicKey: admin.publicKey, alg: 'ed25519', roles: ['admin'] }]));
  for (const workload of workloads) {
    await cp.execute(BENCH_TENANT, createWorkload('admin', workload));
    for (const [version, svn] of [['1.0.0', 1], ['1.1.0', 2]] as const) {
      await cp.execute(BENCH_TENANT, registerRelease('admin', workload, { version, class: 'sim', measurements: [digest(`${workload}${version}`)], securityVersion: svn }));
    }
    await cp.execute(BENCH_TENANT, updatePolicy('admin', workload, { accept: ['1.0.0'], reason: 'bench' }));
  }
}

export async function benchRolloutTransitions(options: RolloutBenchOptions): Promise<RolloutFigures> {
  const dir = await tempDir('rollout');
  const store = await openStore({ dataDir: dir });
  try {
    const cp = benchPlane(store);
    const workloads = Array.from({ length: options.workloads }, (_, i) => `bench/service-${i}`);
    await seed(cp, workloads);
    let serial = 0;

    // Three transitions a cycle: start (phase-in policy), advance, rollback (policy again).
    const transitions = async (): Promise<number> => {
      collectGarbage();
      const started = now();
      await Promise.all(
        workloads.map(async (workload) => {
          for (let c = 0; c < options.cycles; c++) {
            await cp.execute(BENCH_TENANT, startRollout('admin', workload, { to: '1.1.0', waves: [50, 100], reason: 'bench' }));
            await cp.execute(BENCH_TENANT, advanceRollout('admin', workload));
            await cp.execute(BENCH_TENANT, rollbackRollout('admin', workload, 'bench'));
          }
        }),
      );
      return (3 * options.cycles * workloads.length) / (msSince(started) / 1000);
    };
    // The baseline: as many plain policy versions, each replacing one rule by a new one.
    const policyUpdates = async (): Promise<number> => {
      collectGarbage();
      const started = now();
      await Promise.all(
        workloads.map(async (workload) => {
          for (let c = 0; c < 3 * options.cycles; c++) {
            await cp.execute(BENCH_TENANT, updatePolicy('admin', workload, { rules: { bench: `${++serial} > 0` }, reason: 'bench' }));
          }
        }),
      );
      return (3 * options.cycles * workloads.length) / (msSince(started) / 1000);
    };
    await transitions(); // warm-up
    const rounds = await interleave(options.rounds, policyUpdates, transitions);
    const transitionsPerSec = median(rounds.subject);
    const policyUpdatesPerSec = median(rounds.baseline);
    return { transitionsPerSec, policyUpdatesPerSec, ratio: transitionsPerSec / policyUpdatesPerSec, rounds, options };
  } finally {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export function rolloutLine(f: RolloutFigures): string {
  return [
    `rollout transitions sqlite  ${fmtRate(f.transitionsPerSec).padStart(9)}`,
    `(start/advance/rollback on ${f.options.workloads} workloads at once; plain policy updates ${fmtRate(f.policyUpdatesPerSec)}; ratio ${fmtRatio(f.ratio)})`,
    '(no goal)',
  ].join('  ');
}
