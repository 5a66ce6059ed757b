import type { Kysely } from 'kysely';
import { LruCache } from '../core/lru.js';
import type { PolicyVersion, Release } from '../core/model.js';
import type { Claims } from '../evidence/plugin.js';
import type { Database } from '../store/schema.js';
import type { Tx } from '../store/store.js';
import { appraise, type Appraisal } from './appraisal.js';
import { appraiseComposite, type VerifiedEvidence } from './commands.js';
import type { EarClaims } from './ear.js';
import { deviceSubmod } from './ear.js';
import { PolicyRuleCache } from './rules.js';
import { tokenStanding, tokenWorkloads, type Reappraisals, type WorkloadStanding } from './token-check.js';
import { appraisalContextKey } from './verdict-reads.js';

type Db = Kysely<Database> | Tx;

/** A workload's policy in force and its releases, as the caller reads them. */
export interface StandingBasis {
  readonly policy: PolicyVersion | null;
  readonly releases: ReadonlyMap<string, Release>;
}

const EVIDENCE_CAPACITY = 1024;
const APPRAISAL_CAPACITY = 10_000;

export const NO_EVIDENCE = 'the token names no retained evidence to appraise again (issued before tokens did); attest again';
export const NOT_RETAINED = 'the claims the token was issued on are no longer retained; attest again';

/**
 * Whether a result token still stands: the one decision every door a token opens asks
 * (`POST /v1/tokens/check`, the key broker's resources and sealing slots). It reads
 * the verified claims the verdict retained under the token's `covenant.evidence`,
 * re-appraises them with the pure `appraise` against the policy in force, and lets
 * `tokenStanding` decide. Both are memoised in bounded caches: retained claims by
 * digest (an attachment never changes), appraisals by (digest, workload, policy id,
 * release set, deadlines passed) — so a fleet checking its tokens costs one appraisal
 * per instance per policy version, and a new policy version misses by construction.
 */
export class TokenStandingCheck {
  readonly #evidence = new LruCache<string, VerifiedEvidence>(EVIDENCE_CAPACITY);
  readonly #appraisals = new LruCache<string, ReadonlyMap<string, Appraisal>>(APPRAISAL_CAPACITY);
  readonly #rules = new PolicyRuleCache();

  /**
   * Why the token does not stand at `now` (empty: it stands). `basis` reads a workload's
   * policy and releases; `db` is the caller's transaction when the answer decides a write.
   */
  async reasons(db: Db, tenant: string, claims: EarClaims, now: Date, basis: (workload: string) => Promise<StandingBasis>): Promise<string[]> {
    const workloads = new Map<string, WorkloadStanding>();
    for (const workload of tokenWorkloads(claims)) {
      const { policy, releases } = await basis(workload);
      workloads.set(workload, policy === null ? { policy } : { policy, reappraisals: await this.#reappraise(db, tenant, claims, workload, policy, releases, now) });
    }
    return tokenStanding(claims, workloads, now);
  }

  async #reappraise(db: Db, tenant: string, claims: EarClaims, workload: string, policy: PolicyVersion, releases: ReadonlyMap<string, Release>, now: Date): Promise<Reappraisals> {
    const digest = claims['covenant.evidence'];
    if (digest === undefined) return NO_EVIDENCE;
    const key = `${digest} ${workload} ${appraisalContextKey(policy, releases, now)}`;
    const cached = this.#appraisals.get(key);
    if (cached !== undefined) return cached;
    const evidence = this.#evidence.get(digest) ?? (await this.#load(db, tenant, digest));
    if (evidence === undefined) return NOT_RETAINED;
    const rules = this.#rules.get(policy);
    const { appraisal, devices } = appraiseComposite(evidence, policy, releases, now, (c, p, r, at, subject) =>
      appraise({ claims: c, policy: p, releases: r, workload, now: at, compiledRules: rules, ...('device' in subject ? { device: true } : { devices: subject.devices }) }),
    );
    const bySubmod = new Map<string, Appraisal>([[workload, appraisal]]);
    for (const [i, device] of devices.entries()) bySubmod.set(deviceSubmod(workload, evidence.devices[i]!.teeClass, i), device);
    this.#appraisals.set(key, bySubmod);
    return bySubmod;
  }

  async #load(db: Db, tenant: string, digest: string): Promise<VerifiedEvidence | undefined> {
    const row = await db.selectFrom('attachments').select('meta').where('tenant', '=', tenant).where('digest', '=', digest).executeTakeFirst();
    if (row === undefined) return undefined;
    // Written by the verdict's transaction (`recordVerdict`): the plugins' verified claims.
    const meta = JSON.parse(row.meta) as { claims?: Claims; devices?: Claims[] };
    if (meta.claims === undefined) return undefined;
    const evidence: VerifiedEvidence = { claims: meta.claims, devices: meta.devices ?? [] };
    this.#evidence.set(digest, evidence);
    return evidence;
  }
}
