import { sql } from 'kysely';
import { LruCache } from '../core/lru.js';
import type { Actor, PolicyVersion, Release } from '../core/model.js';
import type { Rollout } from '../core/rollout.js';
import type { Decision, Unit } from '../ledger/committer.js';
import { policyById, releasesByVersion } from '../policy/queries.js';
import { rolloutHistory } from '../rollout/queries.js';
import type { Tx } from '../store/store.js';
import type { EarClaims } from '../verifier/ear.js';
import { TokenStandingCheck } from '../verifier/token-standing.js';
import { normaliseSetKey, releaseSetKeySql } from '../verifier/verdict-reads.js';
import { earActivation } from './activation.js';
import { SECRET_REFUSED, SECRET_RELEASED, type AccessSubject, type SecretRefused, type SecretReleased } from './events.js';
import { formatResource, slotOf, type ResourceName, type Slot } from './names.js';
import { secretVersion } from './queries.js';
import { refusalError, type RefusalCode } from './refusals.js';
import { compileRules, decideAccess, type CompiledReleaseRule, type ReleaseRule } from './rules.js';
import { DEFAULT_MIGRATION_WINDOW_SECONDS, phaseOf, resolveSlot, type SlotRelease } from './slots.js';

/**
 * One resource request through the spine. The token's signature was checked at the
 * edge; everything that depends on state — whether its release still stands, the
 * resource, its rules, the rollout phase, the slots — is read inside the write
 * transaction, decided by the pure functions of rules.ts and slots.ts, and recorded:
 * every release and every refusal is a ledger entry naming the resource, the version,
 * the instance key's thumbprint, the policy version and the rule that decided.
 */

/** What was released: a version of a stored secret, or a sealing slot's key. */
export type Grant =
  | { readonly kind: 'secret'; readonly resource: string; readonly version: number; readonly digest: string }
  | { readonly kind: 'slot'; readonly slot: Slot; readonly workload: string; readonly release: SlotRelease; readonly closesAt?: string };

export interface AccessInput {
  readonly resource: ResourceName;
  /** The version asked for (`?version=`); absent: the latest. */
  readonly version?: number;
  /** Verified claims of the presented token (signature and shape; not time). */
  readonly claims: EarClaims;
  /** The token's only workload. */
  readonly workload: string;
  /** RFC 7638 thumbprint of `cnf.jwk`. */
  readonly instance: string;
  readonly reads: AccessReads;
}

/** Counters come back as numbers (SQLite) or strings (PostgreSQL bigint). */
interface BasisRow {
  readonly policy: string | null;
  /** `releaseSetKeySql`: every version with its status (a count would miss a retirement). */
  readonly releases: string | null;
  readonly rollout: number | string | null;
  readonly rollout_status: string | null;
  readonly window_seconds: number | string | null;
  readonly latest: number | string | null;
  readonly revision: number | string | null;
}

interface AccessBasis {
  readonly policy: PolicyVersion | null;
  readonly releases: ReadonlyMap<string, Release>;
  /** The workload's rollouts, oldest first. */
  readonly rollouts: readonly Rollout[];
  readonly windowSeconds: number;
  readonly secret?: { readonly latestVersion: number; readonly rulesRevision: number; readonly rules: readonly CompiledReleaseRule[] };
}

/**
 * The reads of one request, in one statement: ids and counters that name immutable or
 * versioned documents, which are cached by those names (as the verifier's reads are),
 * so a change committed by any replica is seen at the next request.
 */
export class AccessReads {
  readonly #policies = new LruCache<string, PolicyVersion>(256);
  readonly #releases = new LruCache<string, ReadonlyMap<string, Release>>(256);
  readonly #rollouts = new LruCache<string, readonly Rollout[]>(256);
  readonly #rules = new LruCache<string, readonly CompiledReleaseRule[]>(1024);
  /** Digests of secret versions: a version, once written, never changes. */
  readonly #digests = new LruCache<string, string>(4096);
  /** Whether a token stands: the decision `POST /v1/tokens/check` makes, with its memos. */
  readonly standing = new TokenStandingCheck();

  async digest(tx: Tx, tenant: string, resource: string, version: number): Promise<string> {
    const key = `${resource}\n${version}`;
    const cached = this.#digests.get(key);
    if (cached !== undefined) return cached;
    const row = await secretVersion(tx, tenant, resource, version);
    if (row === undefined) throw new Error(`${resource} version ${version} is missing from secret_versions`);
    this.#digests.set(key, row.digest);
    return row.digest;
  }

  async read(tx: Tx, tenant: string, workload: string, resource: string | undefined): Promise<AccessBasis> {
    // Raw SQL: this runs inside the write transaction for every request, where building
    // the same seven-subquery statement with the query builder each time showed up.
    const secret = resource ?? '';
    const { rows } = await sql<BasisRow>`select
        (select id from policy_versions where tenant = ${tenant} and workload = ${workload} order by number desc limit 1) as policy,
        ${releaseSetKeySql(tenant, workload)} as releases,
        (select number from rollouts where tenant = ${tenant} and workload = ${workload} order by number desc limit 1) as rollout,
        (select status from rollouts where tenant = ${tenant} and workload = ${workload} order by number desc limit 1) as rollout_status,
        (select seconds from sealing_windows where tenant = ${tenant} and workload = ${workload}) as window_seconds,
        (select latest_version from secrets where tenant = ${tenant} and resource = ${secret}) as latest,
        (select rules_revision from secrets where tenant = ${tenant} and resource = ${secret}) as revision`.execute(tx);
    const row = rows[0]!;
    const policy = row.policy === null ? null : (this.#policies.get(row.policy) ?? (await this.#load(this.#policies, row.policy, () => policyById(tx, tenant, workload, row.policy!))));
    const releaseKey = `${workload}\n${normaliseSetKey(row.releases)}`;
    const releases = this.#releases.get(releaseKey) ?? (await this.#load(this.#releases, releaseKey, () => releasesByVersion(tx, tenant, workload)));
    const rolloutKey = `${workload}\n${row.rollout ?? 0}\n${row.rollout_status ?? ''}`;
    const rollouts = row.rollout === null ? [] : (this.#rollouts.get(rolloutKey) ?? (await this.#load(this.#rollouts, rolloutKey, () => rolloutHistory(tx, tenant, workload))));
    const basis = { policy, releases, rollouts, windowSeconds: row.window_seconds === null ? DEFAULT_MIGRATION_WINDOW_SECONDS : Number(row.window_seconds) };
    if (resource === undefined || row.latest === null || row.revision === null) return basis;
    const rulesKey = `${resource}\n${Number(row.revision)}`;
    const rules = this.#rules.get(rulesKey) ?? (await this.#load(this.#rules, rulesKey, () => this.#loadRules(tx, tenant, resource)));
    return { ...basis, secret: { latestVersion: Number(row.latest), rulesRevision: Number(row.revision), rules } };
  }

  async #loadRules(tx: Tx, tenant: string, resource: string): Promise<readonly CompiledReleaseRule[]> {
    const row = await tx.selectFrom('secrets').select('rules').where('tenant', '=', tenant).where('resource', '=', resource).executeTakeFirstOrThrow();
    return compileRules(JSON.parse(row.rules) as ReleaseRule[]);
  }

  // Read in the same transaction as the key that names it, so the two agree.
  async #load<V>(cache: LruCache<string, V>, key: string, load: () => Promise<V>): Promise<V> {
    const value = await load();
    cache.set(key, value);
    return value;
  }
}

const actorOf = (instance: string): Actor => `instance:${instance}`;

function refused(input: AccessInput, subject: AccessSubject, detail: Omit<SecretRefused, keyof AccessSubject | 'resource'>): Decision<Grant> {
  const payload: SecretRefused = { resource: formatResource(input.resource), ...subject, ...detail };
  return { entries: [{ type: SECRET_REFUSED, actor: actorOf(input.instance), workload: input.workload, payload }], rejection: refusalError(detail.reason, detail.message) };
}

function released(input: AccessInput, subject: AccessSubject, detail: Omit<SecretReleased, keyof AccessSubject | 'resource'>, grant: Grant): Decision<Grant> {
  const payload: SecretReleased = { resource: formatResource(input.resource), ...subject, ...detail };
  return { entries: [{ type: SECRET_RELEASED, actor: actorOf(input.instance), workload: input.workload, payload }], result: grant };
}

/** Whether the token's time window holds at `now` (its signature was checked at the edge). */
export function timeRefusal(claims: EarClaims, now: Date): { reason: RefusalCode; message: string } | undefined {
  const seconds = Math.floor(now.getTime() / 1000);
  if (claims.exp <= seconds) return { reason: 'token-expired', message: `the token expired at ${new Date(claims.exp * 1000).toISOString()}; attest again` };
  if (claims.iat > seconds) return { reason: 'token-not-yet-valid', message: `the token was issued in the future (${new Date(claims.iat * 1000).toISOString()})` };
  return undefined;
}

export function releaseResource(input: AccessInput): Unit<Grant> {
  return async (tx, ctx) => {
    const slot = slotOf(input.resource);
    const resource = formatResource(input.resource);
    const basis = await input.reads.read(tx, ctx.tenant, input.workload, slot === undefined ? resource : undefined);
    const named = input.claims.submods[input.workload]?.['covenant.release'];
    const subject: AccessSubject = { instance: input.instance, release: named ?? null, policy: basis.policy?.id ?? null };
    const requested = input.version ?? null;

    const late = timeRefusal(input.claims, ctx.now);
    if (late !== undefined) return refused(input, subject, { version: requested, rulesRevision: null, rule: null, ...late });
    // The token names one workload (the broker refuses others); any other reads as having no policy, which never stands.
    const standing = await input.reads.standing.reasons(tx, ctx.tenant, input.claims, ctx.now, async (workload) => (workload === input.workload ? basis : { policy: null, releases: new Map() }));
    if (standing.length > 0 || named === undefined) {
      return refused(input, subject, { version: requested, rulesRevision: null, rule: null, reason: 'token-not-standing', message: `the token does not stand: ${standing.join('; ')}` });
    }

    if (slot !== undefined) {
      const rollout = [...basis.rollouts].reverse().find((candidate) => candidate.document.to === named.version);
      const decision = resolveSlot({ slot, release: named, ...(rollout === undefined ? {} : { rollout }), releases: basis.releases, windowSeconds: basis.windowSeconds, now: ctx.now });
      if (!decision.granted) return refused(input, subject, { version: null, rulesRevision: null, rule: decision.rule, reason: decision.reason, message: decision.message });
      const grant: Grant = { kind: 'slot', slot, workload: input.workload, release: decision.release, ...(decision.closesAt === undefined ? {} : { closesAt: decision.closesAt }) };
      return released(input, subject, { version: null, keyRelease: decision.release.version, rulesRevision: null, rule: decision.rule }, grant);
    }

    const secret = basis.secret;
    if (secret === undefined) return refused(input, subject, { version: requested, rulesRevision: null, rule: null, reason: 'unknown-resource', message: `no resource named ${resource}` });
    if (requested !== null && (requested < 1 || requested > secret.latestVersion)) {
      return refused(input, subject, { version: requested, rulesRevision: secret.rulesRevision, rule: null, reason: 'unknown-version', message: `${resource} has versions 1 to ${secret.latestVersion}, not ${requested}` });
    }
    const active = basis.rollouts.at(-1);
    const decision = decideAccess(secret.rules, {
      workload: input.workload,
      release: named.version,
      phase: phaseOf(active, named.version),
      activation: () => earActivation(input.claims, input.workload, basis.releases.get(named.version)),
      ...(requested === null ? {} : { version: requested }),
      latestVersion: secret.latestVersion,
    });
    if (!decision.granted) {
      return refused(input, subject, { version: requested ?? secret.latestVersion, rulesRevision: secret.rulesRevision, rule: decision.rule, reason: decision.reason, message: decision.message });
    }
    const digest = await input.reads.digest(tx, ctx.tenant, resource, decision.version);
    return released(input, subject, { version: decision.version, rulesRevision: secret.rulesRevision, rule: decision.rule }, { kind: 'secret', resource, version: decision.version, digest });
  };
}
