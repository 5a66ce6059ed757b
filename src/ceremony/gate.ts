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
] as const;
export type ActionClass = (typeof ACTION_CLASSES)[number];
