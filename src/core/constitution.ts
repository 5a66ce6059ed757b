/**
 * The constitution: for each class of change, who must approve it. Humans define and
 * approve changes of trust with their own signatures (the cloud's IAM is not trusted);
 * the rule for a class says how many approvals, from which role, whether the proposer's
 * own request counts, how long a proposal stays open, and which roles may veto.
 *
 * Pure: the store supplies the rules in force, callers supply the time.
 */
import { parseDuration } from './duration.js';
import { CovenantError } from './errors.js';
import { roleNameProblem } from './names.js';

export interface ApprovalRule {
  /** Approvals needed (M of the members holding `role`). */
  readonly threshold: number;
  readonly role: string;
  /** Whether the proposer's own signed request is one of the M. */
  readonly proposerCounts: boolean;
  /** How long a proposal stays open, seconds. */
  readonly expirySeconds: number;
  /** Members holding any of these roles may reject a proposal outright. */
  readonly vetoRoles: readonly string[];
  /**
   * Further quorums the same approvals must meet as well: set only on an effective rule
   * (`strongerOf`) whose rules name different roles, never on a rule of the constitution.
   */
  readonly also?: readonly Quorum[];
}

/** How many members of which role must approve: the counting part of a rule. */
export interface Quorum {
  readonly threshold: number;
  readonly role: string;
  readonly proposerCounts: boolean;
  /** The class whose rule asked for it. */
  readonly from?: string;
}

export const DEFAULT_EXPIRY_SECONDS = 72 * 3600;
export const MAX_THRESHOLD = 32;

/** The development default: one admin's signature executes anything. */
export const DEFAULT_RULE: ApprovalRule = Object.freeze({ threshold: 1, role: 'admin', proposerCounts: true, expirySeconds: DEFAULT_EXPIRY_SECONDS, vetoRoles: Object.freeze([]) as readonly string[] });

export interface RuleArgs {
  readonly threshold: number;
  readonly role: string;
  readonly proposerCounts?: boolean;
  /** A duration: `72h`, `3d`, seconds. */
  readonly expiry?: string | number;
  readonly vetoRoles?: readonly string[];
}

function invalid(field: string, message: string): CovenantError {
  return new CovenantError('validation-failed', `${field}: ${message}`, { issues: [{ field, message }] });
}

/** Validates a rule as `constitution set` gives it. */
export function buildRule(args: RuleArgs): ApprovalRule {
  if (typeof args.threshold !== 'number' || !Number.isInteger(args.threshold) || args.threshold < 1 || args.threshold > MAX_THRESHOLD) {
    throw invalid('threshold', `must be a whole number from 1 to ${MAX_THRESHOLD}`);
  }
  const roleProblem = roleNameProblem(args.role);
  if (roleProblem !== undefined) throw invalid('role', roleProblem);
  const vetoRoles = [...new Set(args.vetoRoles ?? [])].sort();
  vetoRoles.forEach((role, i) => {
    const problem = roleNameProblem(role);
    if (problem !== undefined) throw invalid(`vetoRoles[${i}]`, problem);
  });
  const expirySeconds = args.expiry === undefined ? DEFAULT_EXPIRY_SECONDS : parseDuration(args.expiry, 'expiry');
  if (expirySeconds < 60) throw invalid('expiry', 'a proposal must stay open at least a minute');
  return { threshold: args.threshold, role: args.role, proposerCounts: args.proposerCounts ?? false, expirySeconds, vetoRoles };
}

/** Who approved so far, as the rule counts them. */
export interface Tally {
  readonly counted: readonly string[];
  readonly needed: number;
  readonly satisfied: boolean;
}

export interface Approver {
  readonly name: string;
  readonly roles: readonly string[];
}

/** Every quorum a rule asks for: its own, then those it `also` needs. */
export function quorums(rule: ApprovalRule): readonly Quorum[] {
  return [{ threshold: rule.threshold, role: rule.role, proposerCounts: rule.proposerCounts }, ...(rule.also ?? [])];
}

/** Whether `approver`'s approval counts towards `quorum` (a proposer only where it lets them). */
export function countsFor(quorum: Quorum, proposer: string, approver: Approver): boolean {
  return approver.roles.includes(quorum.role) && (quorum.proposerCounts || approver.name !== proposer);
}

/**
 * Counts approvals against a rule: distinct members holding the rule's role; the
 * proposer only when the rule lets the proposer count. A rule with further quorums is
 * satisfied when every one of them is; `counted` is everyone who counts towards one.
 */
export function tally(rule: ApprovalRule, proposer: string, approvers: readonly Approver[]): Tally {
  const parts = quorums(rule);
  const countedBy = (quorum: Quorum): Set<string> => new Set(approvers.filter((a) => countsFor(quorum, proposer, a)).map((a) => a.name));
  const sets = parts.map(countedBy);
  const counted = [...new Set(sets.flatMap((set) => [...set]))].sort();
  return { counted, needed: approvalsNeeded(rule), satisfied: parts.every((quorum, i) => sets[i]!.size >= quorum.threshold) };
}

/**
 * What "needs N approvals" says: the threshold, or for an effective rule with quorums of
 * several roles their sum (a member holding two of the roles counts towards both, so
 * fewer may do).
 */
export function approvalsNeeded(rule: ApprovalRule): number {
  return quorums(rule).reduce((sum, quorum) => sum + quorum.threshold, 0);
}

/**
 * One quorum that is met exactly when both are (same role). With the same proposer
 * rule that is the larger threshold. Otherwise, say `c` counts the proposer and `n`
 * does not: with the proposer approving, `k` others meet both when k ≥ max(c−1, n);
 * without, when k ≥ max(c, n). That is `c` (counting the proposer) when c > n, else
 * `n` (not counting them).
 */
function bothOf(a: Quorum, b: Quorum): Quorum {
  if (a.proposerCounts === b.proposerCounts) return a.threshold >= b.threshold ? a : b;
  const [counting, other] = a.proposerCounts ? [a, b] : [b, a];
  return counting.threshold > other.threshold ? counting : other;
}

/**
 * The effective rule of a change two classes' rules govern at once — a change of what
 * a workload accepts, under its own class's rule and the `policy` rule: approvals must
 * satisfy both. Quorums of the same role merge into one (`bothOf`), so the common case
 * reads as a single rule ("2 of admin"); a quorum of another role stays in `also`. A
 * proposal stays open for the shorter of the two expiries, and either rule's veto roles
 * may veto. The proposer must still hold the first rule's role (the class's own).
 */
export function strongerOf(own: ApprovalRule, other: ApprovalRule, otherClass: string): ApprovalRule {
  const merged: Quorum[] = [];
  for (const quorum of [...quorums(own), ...quorums(other).map((q, i) => (i === 0 ? { ...q, from: otherClass } : q))]) {
    const i = merged.findIndex((m) => m.role === quorum.role);
    if (i < 0) merged.push(quorum);
    else {
      const { threshold, role, proposerCounts } = bothOf(merged[i]!, quorum);
      const from = merged[i]!.from;
      merged[i] = { threshold, role, proposerCounts, ...(from === undefined ? {} : { from }) };
    }
  }
  const [first, ...rest] = merged;
  const vetoRoles = [...new Set([...own.vetoRoles, ...other.vetoRoles])].sort();
  return {
    threshold: first!.threshold,
    role: first!.role,
    proposerCounts: first!.proposerCounts,
    expirySeconds: Math.min(own.expirySeconds, other.expirySeconds),
    vetoRoles,
    ...(rest.length === 0 ? {} : { also: rest }),
  };
}

/**
 * Classes of change that could no longer be approved at all: fewer active members
 * hold the rule's role than its threshold. A constitution change or a member removal
 * that makes any class unreachable would lock the tenant out of that change for good.
 */
export function unreachableClasses(rules: ReadonlyMap<string, ApprovalRule>, actions: readonly string[], members: readonly Approver[]): string[] {
  return actions.filter((action) => {
    const rule = rules.get(action) ?? DEFAULT_RULE;
    // The proposer holds the role too; when their request does not count, the threshold is met by others.
    const needed = rule.proposerCounts ? rule.threshold : rule.threshold + 1;
    return members.filter((member) => member.roles.includes(rule.role)).length < needed;
  });
}
