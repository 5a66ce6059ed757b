/**
 * Domain model (DESIGN.md, "Domain model"). Plain data: every document here is what
 * a ledger entry carries and what a state table row is projected from.
 */

export const DEFAULT_TENANT = 'default';

/** Digest written `<alg>:<hex>`, e.g. `sha384:9f…`. */
export interface Digest {
  readonly alg: 'sha256' | 'sha384' | 'sha512';
  readonly hex: string;
}

/** TEE classes a release may carry reference values for. */
export const TEE_CLASSES = ['sim', 'sev-snp', 'tdx', 'sgx', 'nitro', 'tpm', 'azure-snp-vtpm', 'nvidia-gpu'] as const;
export type TeeClass = (typeof TEE_CLASSES)[number];

/** Reference values for one TEE class: exact measurements, or signer + product + minimum SVN. */
export type ReferenceValues =
  | { readonly kind: 'measurements'; readonly measurements: readonly Digest[] }
  | { readonly kind: 'signer'; readonly signer: string; readonly product: string; readonly minSvn: number };

export type ReleaseStatus = 'registered' | 'candidate' | 'accepted' | 'retired' | 'revoked';

export interface ReleaseDocument {
  readonly tenant: string;
  readonly workload: string;
  readonly version: string;
  /** Security version of this release, compared with the policy's floor. */
  readonly securityVersion: number;
  readonly references: Readonly<Partial<Record<TeeClass, ReferenceValues>>>;
  /** Security-sensitive configuration digests by name (trusted root store, crypto settings…). */
  readonly config: Readonly<Record<string, Digest>>;
  readonly sbom?: Digest;
  readonly provenance?: Digest;
}

export interface Release {
  readonly document: ReleaseDocument;
  /** Content digest of `document`. */
  readonly digest: string;
  readonly status: ReleaseStatus;
  readonly createdAt: string;
}

/** TCB statuses from best to worst; a policy's `requiredTcbStatus` is kept in this order. */
export const TCB_STATUSES = ['UpToDate', 'SWHardeningNeeded', 'ConfigurationNeeded', 'ConfigurationAndSWHardeningNeeded', 'OutOfDate'] as const;
export type TcbStatus = (typeof TCB_STATUSES)[number];

export interface AcceptedRelease {
  readonly version: string;
  /** Pins the exact reference values: the release document's content digest. */
  readonly digest: string;
  /**
   * A deadline (ISO-8601 UTC): the release is accepted with a warning until then and
   * refused from then on — a mandatory patch, or a revocation with a grace period.
   */
  readonly until?: string;
  /** Why the deadline exists, as the warning tells the instance's operators. */
  readonly why?: string;
}

/**
 * A policy version: immutable, content-addressed (id = SHA-256 of its canonical JSON),
 * chained to its predecessor.
 */
export interface PolicyDocument {
  readonly tenant: string;
  readonly workload: string;
  /** 1 for the first version of a workload's policy, then +1. */
  readonly number: number;
  readonly predecessor: string | null;
  readonly actor: string;
  readonly reason: string;
  readonly createdAt: string;
  /** Sorted by version. */
  readonly accepted: readonly AcceptedRelease[];
  readonly securityVersionFloor: number;
  /** Minimum acceptable TCB statuses (evaluated by the verifier). */
  readonly requiredTcbStatus: readonly TcbStatus[];
  readonly debugForbidden: boolean;
  /** Custom rules: name → CEL expression that must evaluate to true. */
  readonly rules: Readonly<Record<string, string>>;
}

export interface PolicyVersion {
  readonly id: string;
  readonly document: PolicyDocument;
}

export interface Workload {
  readonly tenant: string;
  readonly name: string;
  readonly createdAt: string;
  readonly createdBy: string;
}

export type MemberAlgorithm = 'ed25519' | 'ecdsa-p256-sha256';
export type MemberStatus = 'active' | 'removed';

export interface Member {
  readonly tenant: string;
  readonly name: string;
  /** base64 DER SubjectPublicKeyInfo. */
  readonly publicKey: string;
  readonly alg: MemberAlgorithm;
  readonly roles: readonly string[];
  readonly status: MemberStatus;
  readonly createdAt: string;
}

/**
 * Who did something: a member, the system itself (bootstrap, scheduler), or a TEE
 * instance attesting, named by the RFC 7638 thumbprint of the key its evidence binds.
 */
export type Actor = `member:${string}` | `system:${string}` | `instance:${string}`;
