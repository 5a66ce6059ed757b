import { sql } from 'kysely';
import { driveRollout, type DriverOutcome } from '../rollout/commands.js';
import { workloadsWithActiveRollouts } from '../rollout/queries.js';
import type { ControlPlane } from './control-plane.js';

export const DEFAULT_DRIVER_INTERVAL_SECONDS = 5;

export interface DriverReport extends DriverOutcome {
  readonly workload: string;
}

/**
 * Runs the rules approved when rollouts started, and the deadlines on accepted
 * releases: one `driveRollout` command per workload that has a rollout in progress or
 * a deadline in its policy. Every replica may tick; the commands decide inside the
 * write lock, so a transition is made once.
 */
export class RolloutDriver {
  constructor(
    private readonly cp: ControlPlane,
    private readonly tenant: string,
  ) {}

  async tick(): Promise<DriverReport[]> {
    const workloads = new Set([...(await workloadsWithActiveRollouts(this.cp.store.db, this.tenant)), ...(await this.#workloadsWithDeadlines())]);
    const reports: DriverReport[] = [];
    for (const workload of [...workloads].sort()) {
      const outcome = await this.cp.execute(this.tenant, driveRollout(workload));
      if (outcome.transition !== undefined || outcome.expired.length > 0) reports.push({ workload, ...outcome });
    }
    return reports;
  }

  /** Workloads whose newest policy version puts a deadline on an accepted release. */
  async #workloadsWithDeadlines(): Promise<string[]> {
    const rows = await this.cp.store.db
      .selectFrom('policy_versions as p')
      .select('p.workload')
      .where('p.tenant', '=', this.tenant)
      // A cheap filter on the canonical JSON; driveRollout reads the document itself.
      .where('p.doc', 'like', '%"until":%')
      .where('p.number', '=', (eb) =>
        eb
          .selectFrom('policy_versions as q')
          .select(sql<number>`max(q.number)`.as('n'))
          .whereRef('q.tenant', '=', 'p.tenant')
          .whereRef('q.workload', '=', 'p.workload'),
      )
      .execute();
    return rows.map((row) => row.workload);
  }
}
