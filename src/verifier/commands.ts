import { CovenantError } from '../core/errors.js';
import type { PolicyVersion, Release } from '../core/model.js';
import type { Claims, EvidenceError } from '../evidence/plugin.js';
import type { DeviceSummary } from '../policy/cel.js';
import type { Unit } from '../ledger/committer.js';
import type { Appraisal, AppraisalReason } from './appraisal.js';
import type { AttestationSession } from './session.js';
import { AR4SI, TRUST_CLAIMS, type TrustClaim, type TrustVector } from './trust-vector.js';
import type { VerdictReads } from './verdict-reads.js';
import { summariseClaims } from './claims.js';
import { ATTESTATION_VERDICT, type AttestationVerdict } from './verdict.js';

/** The posted evidence as the ledger and the attachment store know it. */
export interface ReceivedEvidence {
  /** The evidence's own media type (the plugin's). */
  readonly type: string;
  /** `sha256:<hex>` of `body`. */
  readonly digest: string;
  /** The whole posted document (evidence, instance key, collateral): enough to re-verify. */
  readonly body: Uint8Array;
  readonly bodyType: string;
}

export interface VerdictInput {
  readonly session: AttestationSession;
  /** RFC 7638 thumbprint of the instance key. */
  readonly instance: string;
  readonly evidence: ReceivedEvidence;
  /** The media types of the attached devices' evidence, in the order posted. */
  readonly devices: readonly string[];
  /**
   * The plugins' verdict on the evidence: verified claims (binding included) of the TEE
   * and of each attached device, or why not.
   */
  readonly outcome: VerifiedEvidence | { readonly error: EvidenceError };
  /** Appraisal of verified claims against a policy version at `now` (memoised by the caller). */
  readonly appraise: Appraiser;
  readonly retainUntil: Date;
  /** When the request arrived: the time the plugins checked the evidence at. */
  readonly receivedAt: Date;
  readonly reads: VerdictReads;
}

/**
 * What the retained evidence's attachment records beside the bytes: the verified claims
 * (re-appraised by dry runs and token checks) and where its verdict is, so that the
 * document can be exported and re-checked at the time it was checked.
 */
export interface RetainedEvidenceMeta {
  readonly claims: Claims;
  readonly devices: readonly Claims[];
  /** Absent in evidence retained before these were recorded. */
  readonly workload?: string;
  readonly instance?: string;
  /** Ledger index of the verdict that retained it (a re-post of the same bytes keeps the first). */
  readonly verdict?: number;
  readonly receivedAt?: string;
}

export interface VerifiedEvidence {
  readonly claims: Claims;
  readonly devices: readonly Claims[];
}

/**
 * What is being appraised: the TEE, whose rules see its devices' verdicts, or one of
 * its devices. `key` tells them apart in the caller's memo.
 */
export type Subject = { readonly key: ''; readonly devices: readonly DeviceSummary[] } | { readonly key: `device${number}`; readonly device: true };

/** Appraises one piece of verified evidence against a policy version at `now`. */
export type Appraiser = (claims: Claims, policy: PolicyVersion, releases: ReadonlyMap<string, Release>, now: Date, subject: Subject) => Appraisal;

export interface VerdictResult {
  readonly claims: Claims;
  /** Contraindicated with `no-policy` when the workload has no policy version yet. */
  readonly appraisal: Appraisal;
  /** One per attached device, in the order posted. */
  readonly devices: readonly Appraisal[];
  readonly verdict: AttestationVerdict;
}

/** Appraises the devices, then the TEE with their verdicts in its rules' reach. */
export function appraiseComposite(evidence: VerifiedEvidence, policy: PolicyVersion, releases: ReadonlyMap<string, Release>, now: Date, appraise: Appraiser): { appraisal: Appraisal; devices: Appraisal[] } {
  const devices = evidence.devices.map((claims, i) => appraise(claims, policy, releases, now, { key: `device${i}`, device: true }));
  const summaries: DeviceSummary[] = devices.map((d, i) => ({ tee: evidence.devices[i]!.teeClass, status: d.status, release: d.matchedRelease?.version ?? '' }));
  return { appraisal: appraise(evidence.claims, policy, releases, now, { key: '', devices: summaries }), devices };
}

const reason = (code: string, message: string): AppraisalReason => ({ code, message, severity: 'contraindicated' });

/**
 * The ledger side of one attestation: spends the session (once), appraises verified
 * claims against the policy in force at commit time, records the verdict and keeps the
 * evidence. Refused evidence is recorded too, then its error is the caller's answer.
 */
export function recordVerdict(input: VerdictInput): Unit<VerdictResult> {
  return async (tx, ctx) => {
    const { session } = input;
    const { spent, policy, releases } = await input.reads.read(tx, ctx.tenant, session.workload, session.id);
    if (spent !== undefined) throw new CovenantError('conflict', `attestation session ${session.id} is already ${spent}: nonces are single-use, start a new session`);

    const base = {
      session: session.id,
      sessionExpiresAt: session.expiresAt.toISOString(),
      instance: input.instance,
      evidence: { type: input.evidence.type, digest: input.evidence.digest },
    };
    const entry = (verdict: AttestationVerdict) => ({ type: ATTESTATION_VERDICT, actor: `instance:${input.instance}` as const, workload: session.workload, payload: verdict });

    if ('error' in input.outcome) {
      const { error } = input.outcome;
      const verdict: AttestationVerdict = { ...base, policy: null, status: 'contraindicated', reasons: [reason(`evidence-invalid:${error.reason}`, error.message)] };
      return { entries: [entry(verdict)], rejection: error };
    }

    const verified = input.outcome;
    const { claims } = verified;
    const noPolicy: Appraisal = { status: 'contraindicated', reasons: [reason('no-policy', `workload ${session.workload} has no policy version yet: nothing is accepted`)], trustVector: NO_POLICY_VECTOR, policyId: `policy:${ctx.tenant}/${session.workload}/none` };
    const { appraisal, devices } = policy === null ? { appraisal: noPolicy, devices: verified.devices.map(() => noPolicy) } : appraiseComposite(verified, policy, releases, ctx.now, input.appraise);
    const verdict: AttestationVerdict = {
      ...base,
      claims: summariseClaims(claims),
      policy: policy?.id ?? null,
      status: appraisal.status,
      reasons: appraisal.reasons,
      ...(appraisal.matchedRelease === undefined ? {} : { release: appraisal.matchedRelease }),
      ...(devices.length === 0
        ? {}
        : {
            devices: devices.map((device, i) => ({
              evidence: { type: input.devices[i]! },
              claims: summariseClaims(verified.devices[i]!),
              status: device.status,
              reasons: device.reasons,
              ...(device.matchedRelease === undefined ? {} : { release: device.matchedRelease }),
            })),
          }),
    };
    return {
      entries: [entry(verdict)],
      attachments: [{ digest: input.evidence.digest, mediaType: input.evidence.bodyType, body: input.evidence.body, meta: retainedMeta(input, verified, ctx.nextSeq), expiresAt: input.retainUntil }],
      result: { claims, appraisal, devices, verdict },
    };
  };
}

function retainedMeta(input: VerdictInput, verified: VerifiedEvidence, verdict: number | undefined): RetainedEvidenceMeta {
  // The verdict is the unit's only entry, so it gets the unit's first index.
  return {
    claims: verified.claims,
    devices: verified.devices,
    workload: input.session.workload,
    instance: input.instance,
    ...(verdict === undefined ? {} : { verdict }),
    receivedAt: input.receivedAt.toISOString(),
  };
}

/** Nothing assessed, and no executable can be accepted: there is nothing to accept it by. */
const NO_POLICY_VECTOR: TrustVector = {
  ...(Object.fromEntries(TRUST_CLAIMS.map((claim) => [claim, AR4SI.NONE])) as Record<TrustClaim, number>),
  executables: AR4SI.CONTRAINDICATED,
};
