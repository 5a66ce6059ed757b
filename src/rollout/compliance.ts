import type { PolicyDocument, Release } from '../core/model.js';
import type { Rollout } from '../core/rollout.js';
import type { InstanceRow } from './queries.js';

/**
 * Who still runs what they should not (the seeds' patch deadlines): per release that
 * is on its way out, the instances still on it, when each was last seen, and how long
 * until the deadline. Pure: the caller reads the inventory.
 */
export type ReleaseStanding =
  /** Accepted, no deadline, not being replaced. */
  | 'current'
  /** Accepted, but a rollout in progress replaces it. */
  | 'replaced'
  /** Accepted until a deadline. */
  | 'deadline'
  /** Revoked (refused, or about to be at its deadline). */
  | 'revoked'
  /** Not accepted by the policy in force. */
  | 'not-accepted'
  /** The instance's evidence matched no release at all. */
  | 'unmatched';

export interface ComplianceGroup {
  readonly release: string | null;
  readonly standing: ReleaseStanding;
  readonly deadline: string | null;
  /** Seconds until the deadline; negative once past; null without one. */
  readonly secondsLeft: number | null;
  readonly instances: readonly InstanceRow[];
}

export interface ComplianceReport {
  /** Instances on current releases. */
  readonly compliant: number;
  /** Instances on anything else. */
  readonly outstanding: number;
  /** The releases on their way out (and unmatched instances), worst first. */
  readonly groups: readonly ComplianceGroup[];
}

const ORDER: readonly ReleaseStanding[] = ['unmatched', 'not-accepted', 'revoked', 'deadline', 'replaced', 'current'];

export function complianceReport(policy: PolicyDocument | null, releases: ReadonlyMap<string, Release>, rollout: Rollout | undefined, instances: readonly InstanceRow[], now: Date): ComplianceReport {
  const byRelease = new Map<string | null, InstanceRow[]>();
  for (const instance of instances) byRelease.set(instance.release, [...(byRelease.get(instance.release) ?? []), instance]);
  const replacing = rollout?.status === 'active' ? rollout.document.from : [];
  let compliant = 0;
  let outstanding = 0;
  const groups: ComplianceGroup[] = [];
  for (const [release, rows] of byRelease) {
    const entry = release === null ? undefined : policy?.accepted.find((accepted) => accepted.version === release);
    const revoked = release !== null && releases.get(release)?.status === 'revoked';
    const standing: ReleaseStanding =
      release === null ? 'unmatched' : revoked ? 'revoked' : entry === undefined ? 'not-accepted' : entry.until !== undefined ? 'deadline' : replacing.includes(release) ? 'replaced' : 'current';
    if (standing === 'current') {
      compliant += rows.length;
      continue;
    }
    outstanding += rows.length;
    const deadline = entry?.until ?? null;
    groups.push({ release, standing, deadline, secondsLeft: deadline === null ? null : Math.floor((Date.parse(deadline) - now.getTime()) / 1000), instances: rows });
  }
  groups.sort((a, b) => ORDER.indexOf(a.standing) - ORDER.indexOf(b.standing) || String(a.release).localeCompare(String(b.release)));
  return { compliant, outstanding, groups };
}
