import type { PolicyDocument, ReleaseDocument } from '../core/model.js';

/** Ledger entry types of workloads, releases and policy versions, and their payloads. */
export const WORKLOAD_CREATED = 'workload.created';
export const RELEASE_REGISTERED = 'release.registered';
export const POLICY_VERSION_CREATED = 'policy.version-created';

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
}
