import type { RefusalCode } from './refusals.js';
import type { ReleaseRule } from './rules.js';

/**
 * Ledger entries of the key broker. They say what was stored, who may read it and who
 * read it or was refused — by digest, size and key id, never a value.
 */
export const SECRET_WRITTEN = 'secret.written';
export const SECRET_RULES_SET = 'secret.rules-set';
export const SEALING_WINDOW_SET = 'sealing.window-set';
export const SECRET_RELEASED = 'secret.released';
export const SECRET_REFUSED = 'secret.refused';
export const KBS_ATTESTATION_REFUSED = 'kbs.attestation-refused';

/** A new version (1 when the resource is created). */
export interface SecretWritten {
  readonly resource: string;
  readonly version: number;
  /** `sha256:<hex>` of the sealed value kept beside the ledger. */
  readonly digest: string;
  /** Plaintext length in bytes. */
  readonly size: number;
  /** KMS key id the value's data key is wrapped under. */
  readonly kek: string;
}

export interface SecretRulesSet {
  readonly resource: string;
  readonly revision: number;
  /** The whole rule set after the change. */
  readonly rules: readonly ReleaseRule[];
}

export interface SealingWindowSet {
  readonly workload: string;
  readonly seconds: number;
}

/** The instance's side of a release or refusal: who asked, on the strength of which verdict. */
export interface AccessSubject {
  /** RFC 7638 thumbprint of the token's cnf key. */
  readonly instance: string;
  /** `{version, digest}` the token names; null when it names none. */
  readonly release: { readonly version: string; readonly digest: string } | null;
  /** The workload's policy version in force (what the token's standing was judged by); null when none. */
  readonly policy: string | null;
}

export interface SecretReleased extends AccessSubject {
  readonly resource: string;
  /** The version released; for a sealing slot, null (see `kid`). */
  readonly version: number | null;
  /** Sealing slots: the key id of the slot key released. */
  readonly kid?: string;
  /** Sealing slots: the release the slot key belongs to. */
  readonly keyRelease?: string;
  /** The resource's rule set revision; null for sealing slots (built-in rules). */
  readonly rulesRevision: number | null;
  /** The rule that granted it (`sealing:current`, `sealing:legacy` for slots). */
  readonly rule: string;
}

export interface SecretRefused extends AccessSubject {
  readonly resource: string;
  /** The version asked for, or that would have been read; null when none applies. */
  readonly version: number | null;
  readonly rulesRevision: number | null;
  /** The rule that decided, when one did (null: default deny, or refused before any rule). */
  readonly rule: string | null;
  readonly reason: RefusalCode;
  readonly message: string;
}

export interface KbsAttestationRefused {
  /** The attestation session's random id. */
  readonly session: string;
  /** Thumbprint of the `tee-pubkey` the message named. */
  readonly instance: string;
  readonly reason: RefusalCode;
  readonly message: string;
}
