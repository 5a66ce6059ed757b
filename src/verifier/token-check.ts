import type { PolicyVersion } from '../core/model.js';
import { deadlinePassed } from '../core/policy.js';
import type { EarClaims } from './ear.js';

/**
 * Whether a verified result token still stands: every appraisal it carries must have
 * accepted the instance (affirming or warning) and matched a release that the
 * workload's policy in force still accepts — same version, same digest. A token issued
 * before a rollout completed, or a rollback, names a release the policy dropped: it
 * stops standing at once, without waiting for `exp` (no re-attestation storm needed
 * to revoke it, and none caused by checking it). So does one whose release's deadline
 * has passed at `now`.
 */
/** The workloads whose policies a token's standing depends on (devices name theirs). */
export function tokenWorkloads(claims: EarClaims): string[] {
  return [...new Set(Object.entries(claims.submods).map(([name, appraisal]) => appraisal['covenant.workload'] ?? name))];
}

export function tokenStanding(claims: EarClaims, policies: ReadonlyMap<string, PolicyVersion | null>, now: Date): string[] {
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
    const policy = policies.get(workload) ?? null;
    if (policy === null) {
      reasons.push(`${name}: the workload ${workload} has no policy in force`);
      continue;
    }
    const entry = policy.document.accepted.find((accepted) => accepted.version === release.version && accepted.digest === release.digest);
    if (entry === undefined) reasons.push(`${name}: release ${release.version} is no longer accepted (policy version ${policy.document.number}, ${policy.id})`);
    else if (deadlinePassed(entry, now)) reasons.push(`${name}: release ${release.version} was accepted only until ${entry.until}`);
  }
  return reasons;
}
