import type { PolicyVersion } from '../core/model.js';
import { deadlinePassed } from '../core/policy.js';
import type { Appraisal } from './appraisal.js';
import type { EarClaims } from './ear.js';

/** The workloads whose policies a token's standing depends on (devices name theirs). */
export function tokenWorkloads(claims: EarClaims): string[] {
  return [...new Set(Object.entries(claims.submods).map(([name, appraisal]) => appraisal['covenant.workload'] ?? name))];
}

/**
 * The claims behind a token re-appraised against its workload's policy in force, by
 * submodule name — or why they could not be (not retained, a token that names none).
 */
export type Reappraisals = ReadonlyMap<string, Appraisal> | string;

export interface WorkloadStanding {
  /** The workload's policy in force; null before its first. */
  readonly policy: PolicyVersion | null;
  /** Absent: not re-appraised, which never stands. */
  readonly reappraisals?: Reappraisals;
}

/**
 * Why a verified result token does not stand (empty: it stands). Every appraisal it
 * carries must have accepted the instance (affirming or warning), and name a release
 * the workload's policy in force still accepts — same version, same digest, not past a
 * deadline — and the verified claims the token was issued on, appraised again against
 * that policy (debug, rules, floor against the evidence's own SVN, TCB status, config),
 * must not be contraindicated. So a token stops standing at once when a policy
 * tightens past what its claims pass, without waiting for `exp` (no re-attestation
 * storm needed to revoke it, and none caused by checking it), while a change the
 * claims still pass — a phase-in beside its release among them — leaves it standing.
 * The re-appraisal does not require the same release match as the token's: a release
 * phased in that the evidence also matches is no reason to refuse the one it names.
 */
export function tokenStanding(claims: EarClaims, workloads: ReadonlyMap<string, WorkloadStanding>, now: Date): string[] {
  const reasons: string[] = [];
  for (const [name, appraisal] of Object.entries(claims.submods)) {
    // A device's submodule was appraised under its workload's policy.
    const workload = appraisal['covenant.workload'] ?? name;
    const status = appraisal['ear.status'];
    if (status !== 'affirming' && status !== 'warning') {
      reasons.push(`${name}: the verdict was ${status}`);
      continue;
    }
    const release = appraisal['covenant.release'];
    if (release === undefined) {
      reasons.push(`${name}: the token names no accepted release`);
      continue;
    }
    const standing = workloads.get(workload);
    const policy = standing?.policy ?? null;
    if (policy === null) {
      reasons.push(`${name}: the workload ${workload} has no policy in force`);
      continue;
    }
    const entry = policy.document.accepted.find((accepted) => accepted.version === release.version && accepted.digest === release.digest);
    if (entry === undefined) {
      reasons.push(`${name}: release ${release.version} is no longer accepted (policy version ${policy.document.number}, ${policy.id})`);
      continue;
    }
    if (deadlinePassed(entry, now)) {
      reasons.push(`${name}: release ${release.version} was accepted only until ${entry.until}`);
      continue;
    }
    const reappraisals = standing?.reappraisals;
    const again = typeof reappraisals === 'string' || reappraisals === undefined ? undefined : reappraisals.get(name);
    if (typeof reappraisals === 'string') reasons.push(`${name}: ${reappraisals}`);
    else if (again === undefined) reasons.push(`${name}: its claims were not appraised again under policy version ${policy.document.number}`);
    else if (again.status === 'contraindicated') {
      for (const reason of again.reasons) {
        if (reason.severity === 'contraindicated') reasons.push(`${name}: under policy version ${policy.document.number}, ${reason.code}: ${reason.message}`);
      }
    }
  }
  return reasons;
}
