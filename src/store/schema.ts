/**
 * Table shapes, shared by both backends (kysely). Byte columns are BLOB in SQLite and
 * BYTEA in PostgreSQL and arrive as Uint8Array/Buffer; timestamps are ISO-8601 UTC text
 * (lexicographic order = time order); integers are JS numbers (int8 parsed as number,
 * all values stay below 2^53).
 */
import type { Generated } from 'kysely';

export interface TenantsTable {
  id: string;
  /** C2SP checkpoint origin line. */
  origin: string;
  /** Note verifier key of the tenant's Ed25519 log key (`<name>+<hex id>+<base64>`). */
  log_vkey: string;
  created_at: string;
}

/** One row per ledger entry. `body` holds the exact leaf bytes (canonical JSON). */
export interface LedgerEntriesTable {
  tenant: string;
  seq: number;
  type: string;
  actor: string;
  workload: string | null;
  time: string;
  body: Uint8Array;
}

/** Hash of the complete subtree at `level` covering leaves [idx·2^level, (idx+1)·2^level). */
export interface LedgerNodesTable {
  tenant: string;
  level: number;
  idx: number;
  hash: Uint8Array;
}

/** The sequencer row: the committed tree size and root, updated in every append transaction. */
export interface LedgerHeadsTable {
  tenant: string;
  size: number;
  root: Uint8Array;
}

export interface CheckpointsTable {
  tenant: string;
  size: number;
  root: Uint8Array;
  /** The whole C2SP signed note. */
  note: string;
  created_at: string;
}

export interface WorkloadsTable {
  tenant: string;
  name: string;
  created_at: string;
  created_by: string;
}

export interface ReleasesTable {
  tenant: string;
  workload: string;
  version: string;
  /** Content digest (hex SHA-256 of the canonical release document). */
  digest: string;
  status: string;
  /** The release document, canonical JSON. */
  doc: string;
  created_at: string;
}

export interface PolicyVersionsTable {
  tenant: string;
  workload: string;
  /** Content address: hex SHA-256 of the canonical policy document. */
  id: string;
  /** 1, 2, 3… per workload. */
  number: number;
  predecessor: string | null;
  actor: string;
  reason: string;
  created_at: string;
  /** The policy document, canonical JSON. */
  doc: string;
}

export interface MembersTable {
  tenant: string;
  name: string;
  /** base64 DER SubjectPublicKeyInfo. */
  public_key: string;
  /** `ed25519` or `ecdsa-p256-sha256` (RFC 9421 algorithm names). */
  alg: string;
  /** JSON array of role names. */
  roles: string;
  status: string;
  created_at: string;
}

/** Nonces of accepted signed requests, kept until their timestamp leaves the replay window. */
export interface RequestNoncesTable {
  tenant: string;
  key_id: string;
  nonce: string;
  expires_at: string;
}

/** The fleet inventory: the last verdict of each instance key per workload. */
export interface InstancesTable {
  tenant: string;
  workload: string;
  /** RFC 7638 thumbprint of the instance key the evidence binds. */
  instance: string;
  tee: string;
  /** Matched release version, if any. */
  release: string | null;
  /** Last verdict: affirming, warning or contraindicated. */
  status: string;
  /** Policy version id of the last appraisal (none when the workload had no policy). */
  policy: string | null;
  evidence_digest: string;
  /** Ledger seq of the last verdict entry. */
  verdict_seq: number;
  first_seen: string;
  last_seen: string;
}

/** Spent attestation sessions (single-use nonces), until they expire. */
export interface AttestationSessionsTable {
  tenant: string;
  id: string;
  /** complete, failed or deleted. */
  status: string;
  verdict_seq: number | null;
  expires_at: string;
}

/** Content-addressed data referenced from ledger entries, kept until `expires_at`. */
export interface AttachmentsTable {
  tenant: string;
  /** `sha256:<hex>` of `body`. */
  digest: string;
  media_type: string;
  body: Uint8Array;
  /** JSON: what the writer recorded about the body (for evidence: its verified claims). */
  meta: string;
  expires_at: string;
}

/** Rollouts of a workload, by number; at most one `active` per workload (a partial unique index). */
export interface RolloutsTable {
  tenant: string;
  workload: string;
  number: number;
  /** active, completed or rolled-back. */
  status: string;
  /** The rollout document, canonical JSON. */
  doc: string;
  /** Index of the current (or last) wave. */
  wave: number;
  wave_started_at: string;
  started_at: string;
  ended_at: string | null;
  /** JSON of how it ended (trigger, reason, actor, time). */
  outcome: string | null;
}

/** The latest external health signal per workload and source, read by rollout gates. */
export interface HealthSignalsTable {
  tenant: string;
  workload: string;
  source: string;
  /** 1 healthy, 0 unhealthy. */
  healthy: number;
  detail: string;
  at: string;
}

/** The constitution: the approval rule of each class of change that has one (the rest use the default). */
export interface ConstitutionTable {
  tenant: string;
  action: string;
  /** The rule, canonical JSON. */
  rule: string;
  set_at: string;
  set_by: string;
}

/** Proposals: changes waiting for approvals, and how each ended. */
export interface ProposalsTable {
  tenant: string;
  /** Content address of the proposal document. */
  id: string;
  action: string;
  command: string;
  target: string;
  proposer: string;
  /** open, executed, failed, rejected or invalidated (expired is derived). */
  status: string;
  /** The proposal document, canonical JSON. */
  doc: string;
  created_at: string;
  expires_at: string;
  closed_at: string | null;
  closed_reason: string | null;
}

/** Members' signed decisions on proposals. */
export interface ProposalVotesTable {
  tenant: string;
  proposal: string;
  member: string;
  /** approve or reject. */
  decision: string;
  /** base64 signature over the decision message; null for the proposer's own request. */
  signature: string | null;
  at: string;
}

/** Key-broker resources: metadata and release rules (the values are sealed attachments). */
export interface SecretsTable {
  tenant: string;
  /** `repository/type/tag`. */
  resource: string;
  /** 1, 2, 3…: rotation adds a version. */
  latest_version: number;
  /** The release rules, canonical JSON array sorted by name. */
  rules: string;
  /** Count of rule changes (0 before the first): which rule set decided a release. */
  rules_revision: number;
  created_at: string;
  created_by: string;
  updated_at: string;
}

/** One version of a key-broker resource: what the ledger says about it, never the value. */
export interface SecretVersionsTable {
  tenant: string;
  resource: string;
  version: number;
  /** `sha256:<hex>` of the sealed value: the attachment holding it. */
  digest: string;
  /** Plaintext length, bytes. */
  size: number;
  /** The KMS key id the value's data key is wrapped under. */
  kek: string;
  created_at: string;
  created_by: string;
}

/** The legacy sealing slot's migration window per workload, when a member set one. */
export interface SealingWindowsTable {
  tenant: string;
  workload: string;
  seconds: number;
  set_at: string;
  set_by: string;
}

/** Imported collateral (its bytes are an attachment, kept while it is valid). */
export interface CollateralTable {
  tenant: string;
  digest: string;
  size: number;
  kind: string;
  /** JSON array of the TEE classes that read it. */
  classes: string;
  subject: string;
  not_before: string;
  not_after: string;
  imported_at: string;
  imported_by: string;
}

/** Trust anchors members added, by class (the certificate file in base64, as in its ledger entry). */
export interface TrustAnchorsTable {
  tenant: string;
  tee: string;
  digest: string;
  subject: string;
  not_before: string;
  not_after: string;
  certificate: string;
  added_at: string;
  added_by: string;
}

export interface Database {
  tenants: TenantsTable;
  ledger_entries: LedgerEntriesTable;
  ledger_nodes: LedgerNodesTable;
  ledger_heads: LedgerHeadsTable;
  checkpoints: CheckpointsTable;
  workloads: WorkloadsTable;
  releases: ReleasesTable;
  policy_versions: PolicyVersionsTable;
  members: MembersTable;
  request_nonces: RequestNoncesTable;
  instances: InstancesTable;
  attestation_sessions: AttestationSessionsTable;
  attachments: AttachmentsTable;
  rollouts: RolloutsTable;
  health_signals: HealthSignalsTable;
  constitution: ConstitutionTable;
  proposals: ProposalsTable;
  proposal_votes: ProposalVotesTable;
  secrets: SecretsTable;
  secret_versions: SecretVersionsTable;
  sealing_windows: SealingWindowsTable;
  collateral: CollateralTable;
  trust_anchors: TrustAnchorsTable;
}

/** State tables: projections of the ledger, rebuilt from it by replay. */
export const PROJECTION_TABLES = ['tenants', 'workloads', 'releases', 'policy_versions', 'members', 'instances', 'rollouts', 'health_signals', 'constitution', 'proposals', 'proposal_votes', 'secrets', 'secret_versions', 'sealing_windows', 'collateral', 'trust_anchors'] as const;
export type ProjectionTable = (typeof PROJECTION_TABLES)[number];

export type { Generated };
