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

/**
 * Counts approvals against a rule: distinct members holding the rule's role; the
 * proposer only when the rule lets the proposer count.
 */
export function tally(rule: ApprovalRule, proposer: string, approvers: readonly Approver[]): Tally {
  const counted = [...new Set(approvers.filter((a) => a.roles.includes(rule.role) && (rule.proposerCounts || a.name !== proposer)).map((a) => a.name))].sort();
  return { counted, needed: rule.threshold, satisfied: counted.length >= rule.threshold };
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
