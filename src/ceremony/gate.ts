import type { Member } from '../core/model.js';

/**
 * Action classes: what a mutating command asks to change. Approval rules attach to
 * classes, never to routes, so the M-of-N constitution (a later issue) replaces
 * `authorize` without touching a route.
 */
export const ACTION_CLASSES = [
  'workload',
  'release',
  'policy',
  'member',
  'checkpoint',
  'rollout-start',
  'rollout-advance',
  'rollout-complete',
  'rollout-rollback',
  'revocation',
  'health-signal',
  'secret-write',
  'secret-rules',
] as const;
export type ActionClass = (typeof ACTION_CLASSES)[number];

/** The development constitution: one admin signature executes anything. */
export const DEFAULT_ROLE_FOR: Readonly<Record<ActionClass, string>> = {
  workload: 'admin',
  release: 'admin',
  policy: 'admin',
  member: 'admin',
  checkpoint: 'admin',
  'rollout-start': 'admin',
  'rollout-advance': 'admin',
  'rollout-complete': 'admin',
  'rollout-rollback': 'admin',
  revocation: 'admin',
  'health-signal': 'admin',
  'secret-write': 'admin',
  'secret-rules': 'admin',
};

export type Authorization = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** The one place that decides whether a signed command may execute. Pure. */
export function authorize(member: Member | undefined, action: ActionClass): Authorization {
  if (member === undefined) return { allowed: false, reason: 'the signing key belongs to no member' };
  if (member.status !== 'active') return { allowed: false, reason: `member ${member.name} is ${member.status}` };
  const role = DEFAULT_ROLE_FOR[action];
  if (!member.roles.includes(role)) {
    return { allowed: false, reason: `member ${member.name} lacks the ${role} role required for ${action} changes` };
  }
  return { allowed: true };
}
