import { sql, type Kysely, type RawBuilder } from 'kysely';
import { LruCache } from '../core/lru.js';
import type { PolicyVersion, Release } from '../core/model.js';
import { deadlinePassed } from '../core/policy.js';
import { policyById, releasesByVersion } from '../policy/queries.js';
import type { Database } from '../store/schema.js';
import type { Tx } from '../store/store.js';

type Db = Kysely<Database> | Tx;

export interface VerdictBasis {
  /** Status of the session if it was already spent. */
  readonly spent?: string;
  /** The workload's newest policy version; null before its first. */
  readonly policy: PolicyVersion | null;
  /** Every release of the workload, by version. */
  readonly releases: ReadonlyMap<string, Release>;
}

/**
 * The content key of a workload's release set, computed by the database: every
 * version with its lifecycle status. Releases are immutable documents and never
 * deleted, but their status changes (retired, revoked, candidate…) and reasons quote
 * it, so a count of them is not a key: retiring one leaves the count as it was, and a
 * set cached under it would keep saying "accepted" (on this replica, or on another).
 * `string_agg` is spelled the same in PostgreSQL and SQLite (≥ 3.44); versions hold
 * neither space nor comma, and the order (collation-dependent) is normalised by
 * `normaliseSetKey`.
 */
export function releaseSetKeySql(tenant: string, workload: string): RawBuilder<string | null> {
  return sql<string | null>`(select string_agg(version || ' ' || status, ',' order by version) from releases where tenant = ${tenant} and workload = ${workload})`;
}

/** The database's key in code-unit order, as `releaseSetKey` writes it. */
export function normaliseSetKey(key: string | null): string {
  return key === null || key === '' ? '' : key.split(',').sort().join(',');
}

const setKeys = new WeakMap<ReadonlyMap<string, Release>, string>();

/** The same content key for a loaded release set (memoised per map: the caches hand out one map per key). */
export function releaseSetKey(releases: ReadonlyMap<string, Release>): string {
  let key = setKeys.get(releases);
  if (key === undefined) {
    key = [...releases.values()]
      .map((release) => `${release.document.version} ${release.status}`)
      .sort()
      .join(',');
    setKeys.set(releases, key);
  }
  return key;
}

/**
 * What an appraisal of one piece of evidence depends on besides the evidence: the
 * policy version (content-addressed), the release set's content and which of the
 * policy's deadlines have passed at `now`. Memoised appraisals are keyed by it.
 */
export function appraisalContextKey(policy: PolicyVersion, releases: ReadonlyMap<string, Release>, now: Date): string {
  const passed = policy.document.accepted.reduce((n, entry) => n + (deadlinePassed(entry, now) ? 1 : 0), 0);
  return `${policy.id} ${passed} ${releaseSetKey(releases)}`;
}

/**
 * What a verdict reads, in one statement per attestation: whether the session is
 * spent, the id of the newest policy version and the content key of the workload's
 * releases. Policy versions are content-addressed and the release key names one set
 * of releases with their statuses: the parsed documents are cached by those, and a
 * change made by any replica is seen at the next read.
 */
export class VerdictReads {
  readonly #policies = new LruCache<string, PolicyVersion>(256);
  readonly #releases = new LruCache<string, ReadonlyMap<string, Release>>(256);

  async read(tx: Tx, tenant: string, workload: string, session: string): Promise<VerdictBasis> {
    const row = await tx
      .selectNoFrom((eb) => [
        eb.selectFrom('attestation_sessions').select('status').where('tenant', '=', tenant).where('id', '=', session).as('spent'),
        eb.selectFrom('policy_versions').select('id').where('tenant', '=', tenant).where('workload', '=', workload).orderBy('number', 'desc').limit(1).as('policy'),
        releaseSetKeySql(tenant, workload).as('releases'),
      ])
      .executeTakeFirstOrThrow();
    return { ...(row.spent === null ? {} : { spent: row.spent }), ...(await this.#documents(tx, tenant, workload, row.policy, row.releases)) };
  }

  /** The workload's policy in force and its releases, as `read` has them (for a token's standing). */
  async basis(db: Db, tenant: string, workload: string): Promise<Omit<VerdictBasis, 'spent'>> {
    const row = await db
      .selectNoFrom((eb) => [
        eb.selectFrom('policy_versions').select('id').where('tenant', '=', tenant).where('workload', '=', workload).orderBy('number', 'desc').limit(1).as('policy'),
        releaseSetKeySql(tenant, workload).as('releases'),
      ])
      .executeTakeFirstOrThrow();
    return this.#documents(db, tenant, workload, row.policy, row.releases);
  }

  async #documents(db: Db, tenant: string, workload: string, policyId: string | null, releaseSet: string | null): Promise<Omit<VerdictBasis, 'spent'>> {
    const policy = policyId === null ? null : (this.#policies.get(policyId) ?? (await this.#loadPolicy(db, tenant, workload, policyId)));
    const key = `${workload}\n${normaliseSetKey(releaseSet)}`;
    const releases = this.#releases.get(key) ?? (await this.#loadReleases(db, tenant, workload, key));
    return { policy, releases };
  }

  async #loadPolicy(db: Db, tenant: string, workload: string, id: string): Promise<PolicyVersion> {
    const policy = await policyById(db, tenant, workload, id);
    this.#policies.set(id, policy);
    return policy;
  }

  async #loadReleases(db: Db, tenant: string, workload: string, key: string): Promise<ReadonlyMap<string, Release>> {
    const releases = await releasesByVersion(db, tenant, workload);
    // Outside a transaction the set may have moved on since the key was read: cache it only under its own key.
    if (`${workload}\n${releaseSetKey(releases)}` === key) this.#releases.set(key, releases);
    return releases;
  }
}
