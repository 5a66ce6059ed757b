import { CovenantError } from '../core/errors.js';
import { validateReleaseVersion, validateRuleName, validateWorkloadName } from '../core/names.js';
import { checkRule, compileRule, type RuleActivation, type RuleEvaluator } from '../policy/cel.js';
import type { RefusalCode } from './refusals.js';

/**
 * Release rules: who may read a resource. A resource has a set of named rules and
 * nothing else grants it — no rules, no release (default deny). A rule grants the
 * resource to instances of the named workloads, optionally only
 *
 * - of the named releases (the version in the instance's result token),
 * - in the named rollout phases (`stable`: no rollout in progress; `rollout-from`: the
 *   instance runs a release an active rollout is replacing; `rollout-to`: it runs the
 *   release the rollout moves to),
 * - when a CEL condition over the token's claims holds (the verifier's CEL engine and
 *   limits; see `earActivation`),
 *
 * and says how many of the newest versions the instance may read (`versions`: 1 — only
 * the latest — by default, or `all`). Rules are tried in name order; the first that
 * matches and allows the requested version decides. Pure: no I/O, no clock.
 */
export const PHASES = ['stable', 'rollout-from', 'rollout-to'] as const;
export type Phase = (typeof PHASES)[number];

export interface ReleaseRule {
  readonly name: string;
  /** Sorted, distinct. */
  readonly workloads: readonly string[];
  /** Sorted, distinct; absent: any release the policy accepts. */
  readonly releases?: readonly string[];
  /** In PHASES order; absent: any phase. */
  readonly phases?: readonly Phase[];
  readonly when?: string;
  /** How many of the newest versions may be read, or all of them. */
  readonly versions: number | 'all';
}

export const MAX_RULES = 32;
const MAX_LIST = 64;
export const MAX_VERSIONS_WINDOW = 1000;

export interface RuleArgs {
  readonly name: string;
  readonly workloads: readonly string[];
  readonly releases?: readonly string[];
  readonly phases?: readonly string[];
  readonly when?: string;
  readonly versions?: number | 'all';
}

function invalid(field: string, message: string): CovenantError {
  return new CovenantError('validation-failed', `${field}: ${message}`, { issues: [{ field, message }] });
}

function distinctSorted(values: readonly string[], field: string, validate: (value: unknown, field: string) => string): string[] {
  if (values.length === 0) throw invalid(field, 'must name at least one');
  if (values.length > MAX_LIST) throw invalid(field, `at most ${MAX_LIST}`);
  return [...new Set(values.map((value, i) => validate(value, `${field}[${i}]`)))].sort();
}

/** Validates one rule as a member wrote it; the CEL condition must type-check to bool. */
export function buildRule(args: RuleArgs): ReleaseRule {
  const name = validateRuleName(args.name, 'name');
  const workloads = distinctSorted(args.workloads, 'workloads', validateWorkloadName);
  const releases = args.releases === undefined ? undefined : distinctSorted(args.releases, 'releases', validateReleaseVersion);
  let phases: Phase[] | undefined;
  if (args.phases !== undefined) {
    if (args.phases.length === 0) throw invalid('phases', 'must name at least one');
    for (const [i, phase] of args.phases.entries()) {
      if (!(PHASES as readonly string[]).includes(phase)) throw invalid(`phases[${i}]`, `must be one of ${PHASES.join(', ')}`);
    }
    phases = PHASES.filter((phase) => args.phases!.includes(phase));
  }
  if (args.when !== undefined) {
    const check = checkRule(args.when);
    if (!check.ok) throw new CovenantError('invalid-rule', `when: ${check.message}`, { issues: [{ field: 'when', message: check.message }] });
  }
  const versions = args.versions ?? 1;
  if (versions !== 'all' && (!Number.isSafeInteger(versions) || versions < 1 || versions > MAX_VERSIONS_WINDOW)) {
    throw invalid('versions', `must be "all" or a whole number from 1 to ${MAX_VERSIONS_WINDOW}`);
  }
  return {
    name,
    workloads,
    ...(releases === undefined ? {} : { releases }),
    ...(phases === undefined ? {} : { phases }),
    ...(args.when === undefined ? {} : { when: args.when }),
    versions,
  };
}

/** The rule set after setting (replacing by name) or dropping one rule; sorted by name. */
export function changeRules(current: readonly ReleaseRule[], change: { readonly set: ReleaseRule } | { readonly drop: string }): ReleaseRule[] {
  if ('drop' in change) {
    if (!current.some((rule) => rule.name === change.drop)) throw new CovenantError('not-found', `no rule named ${change.drop}`);
    return current.filter((rule) => rule.name !== change.drop);
  }
  const next = [...current.filter((rule) => rule.name !== change.set.name), change.set].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (next.length > MAX_RULES) throw invalid('name', `a resource has at most ${MAX_RULES} rules`);
  return next;
}

export interface CompiledReleaseRule {
  readonly rule: ReleaseRule;
  readonly condition?: RuleEvaluator;
}

/**
 * Compiles every condition. A condition that no longer compiles (only a corrupted store
 * could hold one: rules are checked when written) fails closed as `condition-error`.
 */
export function compileRules(rules: readonly ReleaseRule[]): CompiledReleaseRule[] {
  return rules.map((rule) => {
    if (rule.when === undefined) return { rule };
    let condition: RuleEvaluator;
    try {
      condition = compileRule(rule.when, rule.name);
    } catch (error) {
      const reason = `does not compile: ${(error as Error).message}`;
      condition = () => ({ ok: false, value: false, reason });
    }
    return { rule, condition };
  });
}

export interface AccessRequest {
  readonly workload: string;
  readonly release: string;
  readonly phase: Phase;
  /** What a condition sees, built from the result token (earActivation) only if a condition is evaluated. */
  readonly activation: () => RuleActivation;
  /** The version asked for; absent: the latest. */
  readonly version?: number;
  readonly latestVersion: number;
}

export type AccessDecision =
  | { readonly granted: true; readonly rule: string; readonly version: number }
  | { readonly granted: false; readonly rule: string | null; readonly reason: RefusalCode; readonly message: string };

type Mismatch = { readonly reason: RefusalCode; readonly message: string };

function mismatch(compiled: CompiledReleaseRule, request: AccessRequest, activation: () => RuleActivation): Mismatch | undefined {
  const { rule } = compiled;
  if (rule.releases !== undefined && !rule.releases.includes(request.release)) {
    return { reason: 'release-not-granted', message: `rule ${rule.name} grants releases ${rule.releases.join(', ')}, not ${request.release}` };
  }
  if (rule.phases !== undefined && !rule.phases.includes(request.phase)) {
    return { reason: 'phase-not-granted', message: `rule ${rule.name} grants phases ${rule.phases.join(', ')}; the instance is ${request.phase}` };
  }
  if (compiled.condition !== undefined) {
    const outcome = compiled.condition(activation());
    if (!outcome.ok) return { reason: 'condition-error', message: `rule ${rule.name}: the condition could not be evaluated (${outcome.reason})` };
    if (!outcome.value) return { reason: 'condition-false', message: `rule ${rule.name}: the condition is false` };
  }
  return undefined;
}

const readable = (rule: ReleaseRule, version: number, latest: number): boolean => rule.versions === 'all' || version > latest - rule.versions;

export function decideAccess(rules: readonly CompiledReleaseRule[], request: AccessRequest): AccessDecision {
  if (rules.length === 0) return { granted: false, rule: null, reason: 'no-rules', message: 'the resource has no release rules: nothing is released (default deny)' };
  const named = rules.filter((compiled) => compiled.rule.workloads.includes(request.workload));
  if (named.length === 0) return { granted: false, rule: null, reason: 'workload-not-granted', message: `no rule grants the resource to workload ${request.workload}` };
  const version = request.version ?? request.latestVersion;
  let built: RuleActivation | undefined;
  const activation = (): RuleActivation => (built ??= request.activation());
  let firstMismatch: { rule: string; mismatch: Mismatch } | undefined;
  let firstMatch: string | undefined;
  for (const compiled of named) {
    const problem = mismatch(compiled, request, activation);
    if (problem !== undefined) {
      firstMismatch ??= { rule: compiled.rule.name, mismatch: problem };
      continue;
    }
    firstMatch ??= compiled.rule.name;
    if (readable(compiled.rule, version, request.latestVersion)) return { granted: true, rule: compiled.rule.name, version };
  }
  if (firstMatch !== undefined) {
    return { granted: false, rule: firstMatch, reason: 'version-not-granted', message: `version ${version} is older than the rules let workload ${request.workload} read (latest is ${request.latestVersion})` };
  }
  return { granted: false, rule: firstMismatch!.rule, reason: firstMismatch!.mismatch.reason, message: firstMismatch!.mismatch.message };
}
