import type { PolicyDocument, Release } from '../core/model.js';
import { deadlinePassed } from '../core/policy.js';
import type { Rollout } from '../core/rollout.js';
import type { InstanceRow, ReleaseCount } from './queries.js';

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

/** The standing shown for instances last accepted on a release the policy in force no longer accepts. */
export const NO_LONGER_ACCEPTED = 'no-longer-accepted';

/**
 * Fleet counts by standing at `now` rather than by the verdict of the day each instance
 * attested: an `affirming` (or `warning`) verdict on a release the policy has since
 * dropped — or whose deadline has passed — no longer stands, and its instances are
 * counted as `no-longer-accepted`. Contraindicated and unmatched instances stay as they are.
 */
export function standingNow(counts: readonly ReleaseCount[], policy: PolicyDocument | null, now: Date): ReleaseCount[] {
  const stands = (release: string | null): boolean => {
    const entry = release === null ? undefined : policy?.accepted.find((accepted) => accepted.version === release);
    return entry !== undefined && !deadlinePassed(entry, now);
  };
  const merged = new Map<string, ReleaseCount>();
  for (const row of counts) {
    const status = row.status !== 'contraindicated' && row.release !== null && !stands(row.release) ? NO_LONGER_ACCEPTED : row.status;
    const key = `${row.release ?? ''}\n${status}`;
    const previous = merged.get(key);
    merged.set(key, { release: row.release, status, instances: (previous?.instances ?? 0) + row.instances });
  }
  // In the inventory's order: a relabelled row takes the place of the first it absorbs.
  return [...merged.values()];
}
