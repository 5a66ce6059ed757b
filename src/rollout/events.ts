import type { FleetCheck, GateEvaluation, ReleaseStatusChange, RolloutDocument, RolloutOutcome } from '../core/rollout.js';

/** Ledger entry types of rollouts, revocations and gate integrations, and their payloads. */
export const ROLLOUT_STARTED = 'rollout.started';
export const ROLLOUT_ADVANCED = 'rollout.advanced';
export const ROLLOUT_COMPLETED = 'rollout.completed';
export const ROLLOUT_ROLLED_BACK = 'rollout.rolled-back';
export const HEALTH_SIGNALLED = 'rollout.health-signalled';
export const GATE_QUERIED = 'rollout.gate-queried';
export const RELEASE_REVOKED = 'release.revoked';

export interface RolloutStarted {
  readonly document: RolloutDocument;
  /** The phase-in policy version (committed as the next entry). */
  readonly policy: string;
  /** B becomes a candidate. */
  readonly releaseStatus: readonly ReleaseStatusChange[];
}

export interface RolloutAdvanced {
  readonly number: number;
  readonly fromWave: number;
  readonly toWave: number;
  readonly trigger: 'manual' | 'gate';
  readonly reason: string;
  /** The gate as it stood when the wave ended: what the decision was made on. */
  readonly gate: GateEvaluation;
  /** The live fleet's share on B against the wave's (absent in entries written before it was checked). */
  readonly fleet?: FleetCheck;
  /** A person moved on although the fleet had not caught up (the reason says why). */
  readonly forced?: true;
}

export interface RolloutEnded {
  readonly number: number;
  readonly wave: number;
  readonly outcome: RolloutOutcome;
  readonly gate: GateEvaluation;
  /** Completion: the live fleet's share on B against 100 % (a deadline completes whatever it is). */
  readonly fleet?: FleetCheck;
  /** A person completed although the fleet had not caught up (the outcome's reason says why). */
  readonly forced?: true;
  /** The policy version that ends it, when the policy had to change. */
  readonly policy: string | null;
  /** Completion: B accepted, A retired. Rollback: B registered again. */
  readonly releaseStatus: readonly ReleaseStatusChange[];
}

export interface HealthSignalled {
  readonly source: string;
  readonly healthy: boolean;
  readonly detail: string;
}

/** A question from Argo Rollouts or Flagger, and the answer given (every call is ledgered). */
export interface GateQueried {
  readonly integration: 'argo' | 'flagger';
  /** Flagger's webhook type; Argo's analysis step. */
  readonly hook: string;
  /** What identifies the caller's run: Flagger's checksum, Argo's pod-template hash. */
  readonly run: string;
  readonly allowed: boolean;
  readonly reason: string;
  readonly rollout: number | null;
  readonly wave: number | null;
}

export interface ReleaseRevoked {
  readonly version: string;
  readonly reason: string;
  /** Accepted with a warning until then; null: refused at once. */
  readonly deadline: string | null;
}
