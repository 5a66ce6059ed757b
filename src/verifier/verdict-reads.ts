import { LruCache } from '../core/lru.js';
import type { PolicyVersion, Release } from '../core/model.js';
import { policyById, releasesByVersion } from '../policy/queries.js';
import type { Tx } from '../store/store.js';

export interface VerdictBasis {
  /** Status of the session if it was already spent. */
  readonly spent?: string;
  /** The workload's newest policy version; null before its first. */
  readonly policy: PolicyVersion | null;
  /** Every release of the workload, by version. */
  readonly releases: ReadonlyMap<string, Release>;
}

/**
 * What a verdict reads, in one statement per attestation: whether the session is
 * spent, the id of the newest policy version and how many releases the workload has.
 * Policy versions are content-addressed and releases are immutable and never deleted,
 * so a policy id names one document and a release count one set of releases: the
 * parsed documents are cached by those, and a change made by any replica is seen at
 * the next read.
 */
export class VerdictReads {
  readonly #policies = new LruCache<string, PolicyVersion>(256);
  readonly #releases = new LruCache<string, ReadonlyMap<string, Release>>(256);

  async read(tx: Tx, tenant: string, workload: string, session: string): Promise<VerdictBasis> {
    const row = await tx
      .selectNoFrom((eb) => [
        eb.selectFrom('attestation_sessions').select('status').where('tenant', '=', tenant).where('id', '=', session).as('spent'),
        eb.selectFrom('policy_versions').select('id').where('tenant', '=', tenant).where('workload', '=', workload).orderBy('number', 'desc').limit(1).as('policy'),
        eb.selectFrom('releases').select((count) => count.fn.countAll().as('n')).where('tenant', '=', tenant).where('workload', '=', workload).as('releases'),
      ])
      .executeTakeFirstOrThrow();
    const policy = row.policy === null ? null : (this.#policies.get(row.policy) ?? (await this.#loadPolicy(tx, tenant, workload, row.policy)));
    const key = `${workload}\n${Number(row.releases)}`;
    const releases = this.#releases.get(key) ?? (await this.#loadReleases(tx, tenant, workload, key));
    return { ...(row.spent === null ? {} : { spent: row.spent }), policy, releases };
  }

  async #loadPolicy(tx: Tx, tenant: string, workload: string, id: string): Promise<PolicyVersion> {
    const policy = await policyById(tx, tenant, workload, id);
    this.#policies.set(id, policy);
    return policy;
  }

  async #loadReleases(tx: Tx, tenant: string, workload: string, key: string): Promise<ReadonlyMap<string, Release>> {
    const releases = await releasesByVersion(tx, tenant, workload);
    // Read in the same transaction as the count, so the set matches its key.
    if (`${workload}\n${releases.size}` === key) this.#releases.set(key, releases);
    return releases;
  }
}
