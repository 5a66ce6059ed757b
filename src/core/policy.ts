import { contentDigest } from './canonical.js';
import { CovenantError } from './errors.js';
import { TCB_STATUSES, type AcceptedRelease, type PolicyDocument, type PolicyVersion, type Release, type TcbStatus } from './model.js';
import { releaseVersionProblem, ruleNameProblem, tenantNameProblem, workloadNameProblem } from './names.js';

/** The part of a policy document an update can change. */
export type PolicySettings = Pick<
  PolicyDocument,
  'accepted' | 'securityVersionFloor' | 'requiredTcbStatus' | 'debugForbidden' | 'rules'
>;

/** What applies before a workload's first policy version: fail closed, nothing accepted. */
export const initialPolicy: PolicySettings = Object.freeze({
  accepted: Object.freeze([]) as readonly AcceptedRelease[],
  securityVersionFloor: 0,
  requiredTcbStatus: Object.freeze(['UpToDate']) as readonly TcbStatus[],
  debugForbidden: true,
  rules: Object.freeze({}),
});

/** A deadline on an accepted release (see `AcceptedRelease.until`). */
export interface ReleaseDeadline {
  readonly version: string;
  /** ISO-8601 date-time with zone; must lie after the update's time. */
  readonly until: string;
  readonly why: string;
}

export interface PolicyUpdate {
  readonly accept?: readonly string[];
  readonly remove?: readonly string[];
  /** Deadlines to set (or move) on releases the new version accepts. */
  readonly deadlines?: readonly ReleaseDeadline[];
  /** Versions whose deadline is lifted (a rolled-back rollout's, a ratified break-glass's). */
  readonly clearDeadlines?: readonly string[];
  /**
   * Break-glass: retired or revoked releases may be accepted again, but only for a
   * time — each must get a deadline in the same update, when it leaves again unless
   * the normal quorum ratifies it.
   */
  readonly readmit?: boolean;
  readonly floor?: number;
  /** Rules to add or replace: name → CEL expression. */
  readonly rules?: Readonly<Record<string, string>>;
  readonly dropRules?: readonly string[];
  readonly debug?: 'allow' | 'forbid';
  readonly requiredTcbStatus?: readonly TcbStatus[];
  readonly reason: string;
}

/**
 * Type-checks a custom rule. Injected so that core stays free of the policy
 * language's implementation (dependencies point inwards).
 */
export type RuleChecker = (expression: string) => { readonly ok: true } | { readonly ok: false; readonly message: string };

export interface PolicyUpdateInput {
  readonly current: PolicyVersion | null;
  /** The workload's releases by version (must include every currently accepted one). */
  readonly releases: ReadonlyMap<string, Release>;
  readonly update: PolicyUpdate;
  readonly actor: string;
  readonly now: Date;
  readonly tenant: string;
  readonly workload: string;
  readonly checkRule: RuleChecker;
}

// Bounds keep a policy document small enough to ship to every verifier replica.
export const MAX_ACCEPTED_RELEASES = 64;
export const MAX_RULES = 64;
export const MAX_REASON_LENGTH = 1024;
export const MAX_DEADLINE_REASON_LENGTH = 256;

/*
 * Code-unit order, not locale collation or semver: the order is part of the content
 * address, so it must not depend on the runtime's locale or on version syntax.
 */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function invalid(field: string, message: string): CovenantError {
  return new CovenantError('validation-failed', `${field}: ${message}`, { issues: [{ field, message }] });
}

function checkList(field: string, value: unknown): readonly string[] {
  if (!Array.isArray(value)) throw invalid(field, 'expected an array');
  return value as readonly string[];
}

function duplicateOf(values: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (const value of values) {
    if (seen.has(value)) return value;
    seen.add(value);
  }
  return undefined;
}

function releaseFor(releases: ReadonlyMap<string, Release>, version: string, tenant: string, workload: string): Release {
  const release = releases.get(version);
  if (release === undefined || release.document.tenant !== tenant || release.document.workload !== workload) {
    throw new CovenantError('unknown-release', `release ${version} is not registered for workload ${workload}`);
  }
  return release;
}

/**
 * Decides a policy update: the next policy version, or a rejection. Pure: the store
 * supplies `current` and `releases`, the caller supplies `now`.
 */
export function decidePolicyUpdate(input: PolicyUpdateInput): PolicyVersion {
  const { current, releases, update, actor, now, tenant, workload } = input;

  const tenantProblem = tenantNameProblem(tenant);
  if (tenantProblem !== undefined) throw invalid('tenant', tenantProblem);
  const workloadProblem = workloadNameProblem(workload);
  if (workloadProblem !== undefined) throw invalid('workload', workloadProblem);
  if (typeof actor !== 'string' || actor.length === 0) throw invalid('actor', 'must not be empty');
  if (!(now instanceof Date) || Number.isNaN(now.getTime())) throw invalid('now', 'must be a valid date');
  if (typeof update.reason !== 'string' || update.reason.trim().length === 0) {
    throw invalid('reason', 'a policy change needs a reason');
  }
  const reason = update.reason.trim();
  if (reason.length > MAX_REASON_LENGTH) {
    throw invalid('reason', `must be at most ${MAX_REASON_LENGTH} characters, got ${reason.length}`);
  }
  // The reason is stored as text in the ledger and the store; PostgreSQL text cannot hold NUL.
  if (reason.includes('\u0000')) throw invalid('reason', 'must not contain the NUL character');

  if (current !== null) {
    if (current.document.tenant !== tenant || current.document.workload !== workload) {
      throw new CovenantError(
        'bad-request',
        `current policy belongs to ${current.document.tenant}/${current.document.workload}, not ${tenant}/${workload}`,
      );
    }
    // The chain is only as good as its links: a predecessor whose id is not its content
    // address would make every later version vouch for altered content.
    if (contentDigest(current.document) !== current.id) {
      throw new CovenantError('internal', `policy version ${current.id} does not match its content`);
    }
    if (now.getTime() < Date.parse(current.document.createdAt)) {
      throw new CovenantError(
        'conflict',
        `policy time ${now.toISOString()} precedes the current version's ${current.document.createdAt}`,
      );
    }
  }

  const base: PolicySettings = current?.document ?? initialPolicy;
  const accepted = new Map<string, AcceptedRelease>(base.accepted.map((a) => [a.version, a]));

  // Removals, then additions; a version in both lists is a contradiction, not an order question.
  const remove = update.remove === undefined ? [] : checkList('remove', update.remove);
  const accept = update.accept === undefined ? [] : checkList('accept', update.accept);
  for (const [field, list] of [['accept', accept], ['remove', remove]] as const) {
    list.forEach((version, i) => {
      const problem = releaseVersionProblem(version);
      if (problem !== undefined) throw invalid(`${field}[${i}]`, problem);
    });
    const duplicate = duplicateOf(list);
    if (duplicate !== undefined) throw invalid(field, `version ${duplicate} is listed twice`);
  }
  const both = accept.find((version) => remove.includes(version));
  if (both !== undefined) throw new CovenantError('bad-request', `release ${both} is both accepted and removed`);

  for (const version of remove) {
    if (!accepted.has(version)) {
      throw new CovenantError('invalid-policy', `cannot remove release ${version}: it is not accepted`);
    }
    accepted.delete(version);
  }
  for (const version of accept) {
    const release = releaseFor(releases, version, tenant, workload);
    // No way back: what a completed rollout removed, or a revocation, stays out (only
    // break-glass may re-admit it), or an old, vulnerable version could return.
    const timeBoxed = update.readmit === true && (update.deadlines ?? []).some((deadline) => deadline.version === version);
    if (!accepted.has(version) && !timeBoxed && (release.status === 'revoked' || release.status === 'retired')) {
      throw new CovenantError(
        'readmission-refused',
        `release ${version} is ${release.status === 'revoked' ? 'revoked' : 'retired (removed by a completed rollout or an earlier policy)'} and cannot be accepted again; register and roll out a new release (in an emergency, \`covenant policy break-glass\` accepts it for a time box)`,
      );
    }
    // Accepting what is already accepted keeps its deadline: only clearDeadlines lifts one.
    accepted.set(version, accepted.get(version) ?? { version, digest: release.digest });
  }
  applyDeadlines(accepted, update, now);
  if (accepted.size > MAX_ACCEPTED_RELEASES) {
    throw new CovenantError('invalid-policy', `at most ${MAX_ACCEPTED_RELEASES} releases can be accepted at once, got ${accepted.size}`);
  }

  let floor = base.securityVersionFloor;
  if (update.floor !== undefined) {
    if (typeof update.floor !== 'number' || !Number.isSafeInteger(update.floor) || update.floor < 0) {
      throw invalid('floor', `must be a non-negative integer, got ${String(update.floor)}`);
    }
    if (update.floor < floor) {
      throw new CovenantError(
        'floor-decrease',
        `the security-version floor cannot decrease: ${update.floor} is below the current floor ${floor}`,
      );
    }
    floor = update.floor;
  }

  // Every release the new version accepts — carried over or new — must still qualify.
  for (const entry of accepted.values()) {
    const release = releaseFor(releases, entry.version, tenant, workload);
    if (release.digest !== entry.digest) {
      throw new CovenantError(
        'invalid-policy',
        `release ${entry.version} has digest ${release.digest}, but the policy pins ${entry.digest}`,
      );
    }
    // A revoked release stays only while its grace period runs.
    if (release.status === 'revoked' && entry.until === undefined) {
      throw new CovenantError('invalid-policy', `release ${entry.version} is revoked; remove it from the policy`);
    }
    if (release.document.securityVersion < floor) {
      throw new CovenantError(
        'invalid-policy',
        `release ${entry.version} has security version ${release.document.securityVersion}, below the floor ${floor}; remove it or keep the floor`,
      );
    }
  }

  const rules: Record<string, string> = { ...base.rules };
  if (update.rules !== undefined && (typeof update.rules !== 'object' || update.rules === null || Array.isArray(update.rules))) {
    throw invalid('rules', 'expected an object of name → CEL expression');
  }
  const setRules = Object.entries(update.rules ?? {});
  const dropRules = update.dropRules === undefined ? [] : checkList('dropRules', update.dropRules);
  for (const name of dropRules) {
    if (update.rules !== undefined && Object.hasOwn(update.rules, name)) {
      throw new CovenantError('bad-request', `rule ${JSON.stringify(name)} is both set and dropped`);
    }
    if (!Object.hasOwn(rules, name)) {
      throw new CovenantError('invalid-policy', `cannot drop rule ${JSON.stringify(name)}: no such rule`);
    }
    delete rules[name];
  }
  for (const [name, expression] of setRules) {
    const nameProblem = ruleNameProblem(name);
    if (nameProblem !== undefined) throw invalid(`rules.${name}`, nameProblem);
    const check = input.checkRule(expression);
    if (!check.ok) throw new CovenantError('invalid-rule', `rule ${JSON.stringify(name)}: ${check.message}`);
    rules[name] = expression;
  }
  const ruleNames = Object.keys(rules).sort(byCodeUnits);
  if (ruleNames.length > MAX_RULES) {
    throw new CovenantError('invalid-policy', `at most ${MAX_RULES} rules, got ${ruleNames.length}`);
  }

  let debugForbidden = base.debugForbidden;
  if (update.debug !== undefined) {
    if (update.debug !== 'allow' && update.debug !== 'forbid') throw invalid('debug', 'must be "allow" or "forbid"');
    debugForbidden = update.debug === 'forbid';
  }

  let requiredTcbStatus = base.requiredTcbStatus;
  if (update.requiredTcbStatus !== undefined) {
    const statuses = checkList('requiredTcbStatus', update.requiredTcbStatus);
    if (statuses.length === 0) throw invalid('requiredTcbStatus', 'at least one TCB status is required');
    statuses.forEach((status, i) => {
      if (!(TCB_STATUSES as readonly string[]).includes(status)) {
        throw invalid(`requiredTcbStatus[${i}]`, `unknown TCB status ${JSON.stringify(status)} (expected one of ${TCB_STATUSES.join(', ')})`);
      }
    });
    requiredTcbStatus = TCB_STATUSES.filter((status) => statuses.includes(status));
  }

  const settings: PolicySettings = {
    accepted: [...accepted.values()].sort((a, b) => byCodeUnits(a.version, b.version)),
    securityVersionFloor: floor,
    requiredTcbStatus,
    debugForbidden,
    rules: Object.fromEntries(ruleNames.map((name) => [name, rules[name] as string])),
  };
  if (contentDigest(settings) === contentDigest(pickSettings(base))) {
    throw new CovenantError('bad-request', 'the update changes nothing in the policy');
  }

  const document: PolicyDocument = {
    tenant,
    workload,
    number: (current?.document.number ?? 0) + 1,
    predecessor: current?.id ?? null,
    actor,
    reason,
    createdAt: now.toISOString(),
    ...settings,
  };
  return { id: contentDigest(document), document };
}

function applyDeadlines(accepted: Map<string, AcceptedRelease>, update: PolicyUpdate, now: Date): void {
  const clear = update.clearDeadlines === undefined ? [] : checkList('clearDeadlines', update.clearDeadlines);
  for (const version of clear) {
    const entry = accepted.get(version);
    if (entry?.until === undefined) throw new CovenantError('invalid-policy', `release ${version} has no deadline to lift`);
    accepted.set(version, { version, digest: entry.digest });
  }
  if (update.deadlines === undefined) return;
  if (!Array.isArray(update.deadlines)) throw invalid('deadlines', 'expected an array');
  const seen = new Set<string>();
  update.deadlines.forEach((deadline: ReleaseDeadline, i) => {
    const field = `deadlines[${i}]`;
    const entry = accepted.get(deadline.version);
    if (entry === undefined) throw new CovenantError('invalid-policy', `${field}: release ${String(deadline.version)} is not accepted, so it cannot have a deadline`);
    if (seen.has(deadline.version) || clear.includes(deadline.version)) throw invalid(field, `release ${deadline.version} is given two deadlines`);
    seen.add(deadline.version);
    const until = typeof deadline.until === 'string' ? Date.parse(deadline.until) : Number.NaN;
    if (Number.isNaN(until)) throw invalid(`${field}.until`, 'must be an ISO-8601 date-time');
    if (until <= now.getTime()) throw invalid(`${field}.until`, `${deadline.until} is not in the future`);
    const why = typeof deadline.why === 'string' ? deadline.why.trim() : '';
    if (why.length === 0 || why.length > MAX_DEADLINE_REASON_LENGTH || why.includes('\u0000')) {
      throw invalid(`${field}.why`, `a deadline needs a reason of 1 to ${MAX_DEADLINE_REASON_LENGTH} characters without NUL`);
    }
    accepted.set(deadline.version, { version: entry.version, digest: entry.digest, until: new Date(until).toISOString(), why });
  });
}

/** Whether an accepted release's deadline has passed at `now` (the deadline itself counts as passed). */
export function deadlinePassed(entry: AcceptedRelease, now: Date): boolean {
  return entry.until !== undefined && Date.parse(entry.until) <= now.getTime();
}

/** Accepted releases whose deadline has passed at `now`: the policy must drop them. */
export function expiredDeadlines(policy: PolicyDocument, now: Date): string[] {
  return policy.accepted.filter((entry) => deadlinePassed(entry, now)).map((entry) => entry.version);
}

function pickSettings(settings: PolicySettings): PolicySettings {
  return {
    accepted: settings.accepted,
    securityVersionFloor: settings.securityVersionFloor,
    requiredTcbStatus: settings.requiredTcbStatus,
    debugForbidden: settings.debugForbidden,
    rules: settings.rules,
  };
}

/**
 * Release lifecycle changes implied by moving from `previous` to `next`: newly accepted
 * versions become 'accepted', dropped ones 'retired'. A dropped release that was revoked
 * stays revoked; that is the caller's call, since documents do not carry release status.
 */
export function releaseStatusChanges(
  previous: PolicyDocument | null,
  next: PolicyDocument,
): { version: string; status: 'accepted' | 'retired' }[] {
  const before = new Set((previous?.accepted ?? []).map((a) => a.version));
  const after = new Set(next.accepted.map((a) => a.version));
  const changes: { version: string; status: 'accepted' | 'retired' }[] = [];
  for (const version of after) if (!before.has(version)) changes.push({ version, status: 'accepted' });
  for (const version of before) if (!after.has(version)) changes.push({ version, status: 'retired' });
  return changes.sort((a, b) => byCodeUnits(a.version, b.version));
}

/** The version in force at `at`: the newest (highest number) created at or before it. */
export function policyInForceAt(versions: readonly PolicyVersion[], at: Date): PolicyVersion | undefined {
  const limit = at.getTime();
  // NaN compares false with everything, which would make every version "in force".
  if (Number.isNaN(limit)) throw invalid('at', 'must be a valid date');
  let found: PolicyVersion | undefined;
  for (const version of versions) {
    if (Date.parse(version.document.createdAt) > limit) continue;
    if (found === undefined || version.document.number > found.document.number) found = version;
  }
  return found;
}
