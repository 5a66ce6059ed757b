import { DEFAULT_RULE, strongerOf, type ApprovalRule } from '../core/constitution.js';

/**
 * Action classes: what a mutating command asks to change. Approval rules (the
 * constitution) attach to classes, never to routes: each command names its class, and
 * the rule for that class says who must approve it.
 */
export const ACTION_CLASSES = [
  'workload',
  'release',
  'policy',
  'member',
  'constitution',
  'checkpoint',
  'rollout-start',
  'rollout-advance',
  'rollout-complete',
  'rollout-rollback',
  'revocation',
  'health-signal',
  'secret-write',
  'secret-rules',
  'collateral',
  'trust-anchors',
  'break-glass',
  'token-key',
] as const;
export type ActionClass = (typeof ACTION_CLASSES)[number];

/**
 * Classes whose commands change what a workload accepts (besides `policy` itself):
 * their effective rule is the stronger of their own and the `policy` rule
 * (`strongerOf`), so a smaller quorum never does what a policy change needs a larger
 * one for. Starting a rollout accepts B (or makes the first policy), break-glass
 * re-admits, and completing (by hand or by the last manual advance) and revoking retire
 * or revoke releases for good.
 *
 * `rollout-rollback` keeps its own rule: it only returns the workload to what it accepted
 * before the rollout (itself approved under the policy rule, as the start was), loses
 * nothing for good (B may be rolled out again), and must never wait for a quorum while B
 * misbehaves.
 */
export const ACCEPTANCE_CLASSES: ReadonlySet<ActionClass> = new Set<ActionClass>(['rollout-start', 'rollout-advance', 'rollout-complete', 'revocation', 'break-glass']);

/**
 * The rule a change of `action` is decided under, from the rules in force (a class
 * missing from `rules` has the default rule): `own` is the class's (whose role a proposer
 * must hold), `effective` the one its approvals must satisfy.
 */
export function ruleOfChange(action: ActionClass, rules: ReadonlyMap<string, ApprovalRule>): { readonly own: ApprovalRule; readonly effective: ApprovalRule } {
  const own = rules.get(action) ?? DEFAULT_RULE;
  return { own, effective: ACCEPTANCE_CLASSES.has(action) ? strongerOf(own, rules.get('policy') ?? DEFAULT_RULE, 'policy') : own };
}
