import type { Projector } from '../ledger/committer.js';
import type { AppraisalReason, AppraisalStatus, MatchedRelease } from './appraisal.js';
import type { ClaimsSummary } from './claims.js';

/**
 * The ledger's record of one attestation: every verdict, accepting or not. It holds
 * what was decided and on what grounds — never the evidence itself (an attachment,
 * by digest) nor the token (derived from the verdict, and bound to the instance).
 */
export const ATTESTATION_VERDICT = 'attestation.verdict';

export interface AttestationVerdict {
  /** The session's random id: spent by this verdict. */
  readonly session: string;
  readonly sessionExpiresAt: string;
  /** RFC 7638 thumbprint of the instance key the evidence binds (or claimed to). */
  readonly instance: string;
  readonly evidence: { readonly type: string; readonly digest: string };
  /** Absent when the evidence did not verify: nothing it says can be believed. */
  readonly claims?: ClaimsSummary;
  /** The policy version appraised against; null when none was (no policy, bad evidence). */
  readonly policy: string | null;
  readonly status: AppraisalStatus;
  readonly reasons: readonly AppraisalReason[];
  readonly release?: MatchedRelease;
  /** Attached devices (composite evidence), each appraised on its own. */
  readonly devices?: readonly DeviceVerdict[];
}

export interface DeviceVerdict {
  readonly evidence: { readonly type: string };
  readonly claims: ClaimsSummary;
  readonly status: AppraisalStatus;
  readonly reasons: readonly AppraisalReason[];
  readonly release?: MatchedRelease;
}

/**
 * A verdict spends its session and, when the evidence verified, updates the fleet
 * inventory. Evidence that did not verify leaves the inventory alone: anyone can post
 * garbage naming a victim's key, and must not be able to mark that instance failed.
 */
export const verdictProjection: Record<string, Projector> = {
  [ATTESTATION_VERDICT]: async (tx, entry) => {
    const verdict = entry.payload as AttestationVerdict;
    await tx
      .insertInto('attestation_sessions')
      .values({
        tenant: entry.tenant,
        id: verdict.session,
        status: verdict.claims === undefined ? 'failed' : 'complete',
        verdict_seq: entry.seq,
        expires_at: verdict.sessionExpiresAt,
      })
      .execute();
    if (verdict.claims === undefined || entry.workload === undefined) return;
    const latest = {
      tee: verdict.claims.teeClass,
      release: verdict.release?.version ?? null,
      status: verdict.status,
      policy: verdict.policy,
      evidence_digest: verdict.evidence.digest,
      verdict_seq: entry.seq,
      last_seen: entry.time,
    };
    await tx
      .insertInto('instances')
      .values({ tenant: entry.tenant, workload: entry.workload, instance: verdict.instance, first_seen: entry.time, ...latest })
      .onConflict((oc) => oc.columns(['tenant', 'workload', 'instance']).doUpdateSet(latest))
      .execute();
  },
};
