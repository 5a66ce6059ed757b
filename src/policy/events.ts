import type { PolicyDocument, ReleaseDocument, ReleaseStatus } from '../core/model.js';

/** Ledger entry types of workloads, releases and policy versions, and their payloads. */
export const WORKLOAD_CREATED = 'workload.created';
export const RELEASE_REGISTERED = 'release.registered';
export const POLICY_VERSION_CREATED = 'policy.version-created';
export const CHANGE_REFUSED = 'policy.change-refused';

export interface WorkloadCreated {
  readonly name: string;
}

export interface ReleaseRegistered {
  readonly digest: string;
  readonly document: ReleaseDocument;
}

export interface PolicyVersionCreated {
  readonly id: string;
  readonly document: PolicyDocument;
  /**
   * The release lifecycle changes this version makes, as decided by the command
   * (a rollout's phase-in makes B a candidate, a rollback makes it registered again).
   * Entries written before rollouts existed lack it; their changes follow from the
   * accepted sets (`releaseStatusChanges`).
   */
  readonly releaseStatus?: readonly { readonly version: string; readonly status: ReleaseStatus }[];
}

/**
 * A change of trust refused for a security reason — a downgrade, a re-admission, a
 * lowered floor: recorded, like every refused security-relevant request.
 */
export interface ChangeRefused {
  readonly command: string;
  readonly type: string;
  readonly reason: string;
}

export const BREAK_GLASS_OPENED = 'policy.break-glass';
export const BREAK_GLASS_RATIFIED = 'policy.break-glass-ratified';

/** Releases accepted again in an emergency, until `until` unless ratified. */
export interface BreakGlassOpened {
  readonly versions: readonly string[];
  readonly until: string;
  readonly reason: string;
  readonly policy: string;
}

export interface BreakGlassRatified {
  readonly versions: readonly string[];
  readonly reason: string;
  readonly policy: string;
}
