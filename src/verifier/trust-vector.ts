/**
 * The EAR trustworthiness vector (AR4SI, draft-ietf-rats-ar4si; claim names as in
 * veraison/ear and Trustee). Each claim is an int in -128..127 whose tier is:
 * 0..1 none, 2..31 affirming, 32..95 warning, 96..127 contraindicated.
 *
 * How appraisal fills it (see `appraise`):
 *
 * | claim               | value | when                                                                 |
 * | ------------------- | ----- | -------------------------------------------------------------------- |
 * | `instance-identity` | 0     | always: key binding is the session's check (nonce, `cnf`), not the appraisal's |
 * | `configuration`     | 2     | every config digest of the matched release is in the evidence, every rule passed |
 * |                     | 96    | a config digest is missing or differs, or a CEL rule failed or errored |
 * |                     | 0     | no release matched, or nothing to compare (no config digests, no rules) |
 * | `executables`       | 2     | an accepted release matched, at or above the security-version floor  |
 * |                     | 32    | as 2, but the caller added warnings (rollout: revoked release, deadline) |
 * |                     | 96    | no accepted release matched, a pin does not match, below the floor, or the policy is not this workload's or not yet in force |
 * | `file-system`       | 0     | not assessed                                                         |
 * | `hardware`          | 2     | the evidence's TCB status is one the policy requires                 |
 * |                     | 96    | the TCB status is not one the policy requires                        |
 * |                     | 0     | the evidence carries no TCB status (sim, tpm)                        |
 * | `runtime-opaque`    | 2     | a memory-isolating TEE, not in debug mode                            |
 * |                     | 32    | debug mode, and the policy allows it (memory is visible to a debugger) |
 * |                     | 96    | debug mode, and the policy forbids it                                |
 * |                     | 0     | TEE class `tpm` (measured boot) or `sim` (simulated): no memory isolation to claim |
 * | `storage-opaque`    | 0     | not assessed                                                         |
 * | `sourced-data`      | 0     | not assessed                                                         |
 *
 * AR4SI offers softer codes for some of these (`executables` 33 "unrecognized",
 * `hardware` 32 "unsafe"), but those sit in the warning tier while Covenant fails
 * closed on them; 96 keeps the vector's worst tier equal to the status. The one
 * deliberate exception is debug allowed by policy: the vector says 32 (the truth a
 * relying party may want to act on) while the status stays affirming.
 */

export const TRUST_CLAIMS = [
  'instance-identity',
  'configuration',
  'executables',
  'file-system',
  'hardware',
  'runtime-opaque',
  'storage-opaque',
  'sourced-data',
] as const;
export type TrustClaim = (typeof TRUST_CLAIMS)[number];

export type TrustVector = Readonly<Record<TrustClaim, number>>;

/** AR4SI values used by appraisal. */
export const AR4SI = Object.freeze({
  NONE: 0,
  AFFIRMING: 2,
  WARNING: 32,
  CONTRAINDICATED: 96,
} as const);

export type Tier = 'none' | 'affirming' | 'warning' | 'contraindicated';

/** `ear.status` values (EAR: "none"(0), "affirming"(2), "warning"(32), "contraindicated"(96)). */
export const EAR_STATUS = Object.freeze({ none: 0, affirming: 2, warning: 32, contraindicated: 96 } as const);

/** The AR4SI tier of one claim value; negative values are implementation-specific, treated as none. */
export function tierOf(value: number): Tier {
  if (value >= 96) return 'contraindicated';
  if (value >= 32) return 'warning';
  if (value >= 2) return 'affirming';
  return 'none';
}

const TIER_RANK: Readonly<Record<Tier, number>> = { none: 0, affirming: 1, warning: 2, contraindicated: 3 };

/** The worst tier in a vector. */
export function worstTier(vector: TrustVector): Tier {
  let worst: Tier = 'none';
  for (const claim of TRUST_CLAIMS) {
    const tier = tierOf(vector[claim]);
    if (TIER_RANK[tier] > TIER_RANK[worst]) worst = tier;
  }
  return worst;
}
