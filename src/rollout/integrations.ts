import { createHash, timingSafeEqual } from 'node:crypto';
import type { PolicyDocument } from '../core/model.js';
import { describeGate, type GateEvaluation, type Rollout } from '../core/rollout.js';

/**
 * Answers to progressive-delivery controllers (shared/reference formats §3): Argo
 * Rollouts' web metric provider and Flagger's webhooks ask Covenant whether a step may
 * go ahead. The deployment tool moves traffic; Covenant's rollout is what the policy
 * says. A canary may only run while Covenant's policy accepts its release, and must be
 * stopped when Covenant's rollout is rolled back or its gate fails.
 */
export const FLAGGER_HOOKS = ['confirm-rollout', 'pre-rollout', 'rollout', 'confirm-promotion', 'rollback'] as const;
export type FlaggerHook = (typeof FLAGGER_HOOKS)[number];

export interface GateQuestion {
  readonly hook: 'argo' | FlaggerHook;
  /** The release the caller is deploying, when it says (Argo arg or Flagger metadata `release`). */
  readonly release?: string;
}

export interface GateSituation {
  /** The workload's newest rollout, active or ended. */
  readonly rollout: Rollout | undefined;
  /** Its gate now, when it is active. */
  readonly gate: GateEvaluation | undefined;
  readonly policy: PolicyDocument | null;
}

export interface GateAnswer {
  readonly allowed: boolean;
  readonly reason: string;
}

const noRollout = 'no rollout is in progress: run `covenant rollout start` so the policy accepts the new release before it is deployed';

function releaseProblem(question: GateQuestion, situation: GateSituation): string | undefined {
  if (question.release === undefined) return undefined;
  const accepted = situation.policy?.accepted.some((entry) => entry.version === question.release) ?? false;
  if (!accepted) return `release ${question.release} is not accepted by the policy in force`;
  const rollout = situation.rollout;
  if (rollout?.status === 'active' && question.release !== rollout.document.to) {
    return `rollout #${rollout.document.number} moves to ${rollout.document.to}, not ${question.release}`;
  }
  return undefined;
}

/**
 * The decision for one call. For `rollback` "allowed" means "yes, roll back now": Flagger
 * rolls back when that hook answers 2xx.
 */
export function answerGate(question: GateQuestion, situation: GateSituation): GateAnswer {
  const { rollout, gate } = situation;
  const active = rollout?.status === 'active' ? rollout : undefined;
  if (question.hook === 'rollback') {
    if (rollout?.status === 'rolled-back') return { allowed: true, reason: `rollout #${rollout.document.number} was rolled back: ${rollout.outcome?.reason ?? ''}`.trim() };
    if (active !== undefined && gate?.verdict === 'fail') return { allowed: true, reason: `the gate of wave ${active.wave + 1} failed: ${describeGate(gate)}` };
    const wrong = releaseProblem(question, situation);
    if (wrong !== undefined) return { allowed: true, reason: wrong };
    return { allowed: false, reason: active === undefined ? 'nothing to roll back' : `rollout #${active.document.number} is healthy at wave ${active.wave + 1}` };
  }
  if (question.hook === 'confirm-promotion' && rollout?.status === 'completed') {
    const wrong = releaseProblem(question, situation);
    return wrong === undefined ? { allowed: true, reason: `rollout #${rollout.document.number} completed: ${rollout.document.to} is the accepted release` } : { allowed: false, reason: wrong };
  }
  if (active === undefined || gate === undefined) return { allowed: false, reason: rollout?.status === 'rolled-back' ? `rollout #${rollout.document.number} was rolled back` : noRollout };
  const wrong = releaseProblem(question, situation);
  if (wrong !== undefined) return { allowed: false, reason: wrong };
  if (gate.verdict === 'fail') return { allowed: false, reason: `the gate of wave ${active.wave + 1} failed: ${describeGate(gate)}` };
  if (question.hook === 'confirm-promotion') {
    const last = active.wave === active.document.waves.length - 1;
    if (!last || gate.verdict !== 'pass') {
      return { allowed: false, reason: `promotion waits for the last wave's gate: wave ${active.wave + 1} of ${active.document.waves.length}, ${describeGate(gate)}` };
    }
    return { allowed: true, reason: `the last wave's gate passed: ${describeGate(gate)}` };
  }
  return { allowed: true, reason: `rollout #${active.document.number} to ${active.document.to} at wave ${active.wave + 1} of ${active.document.waves.length}: ${describeGate(gate)}` };
}

/**
 * Gate credentials. Argo and Flagger send static headers (or, for Flagger, which has no
 * header setting, static webhook metadata), so they cannot sign requests: each rollout
 * gets a bearer credential a member issues (`covenant rollout gate-token`), shown once
 * and kept only as its SHA-256 digest. It opens the gate endpoints of its workload while
 * its rollout is the workload's latest, and nothing else.
 */
export const GATE_CREDENTIAL_PREFIX = 'covgate_';
/** The webhook metadata key Flagger carries the credential in. */
export const FLAGGER_CREDENTIAL_KEY = 'covenantGateToken';
const CREDENTIAL = /^covgate_[A-Za-z0-9_-]{43}$/;

export const gateCredentialDigest = (credential: string): string => createHash('sha256').update(credential).digest('hex');

/** The credential a call presents: `Authorization: Bearer …`, else Flagger's metadata; undefined when none is well-formed. */
export function presentedGateCredential(authorization: string | undefined, metadata: Readonly<Record<string, string>> | undefined): string | undefined {
  const bearer = authorization === undefined ? undefined : /^Bearer (\S+)$/.exec(authorization)?.[1];
  const presented = bearer ?? metadata?.[FLAGGER_CREDENTIAL_KEY];
  return presented !== undefined && CREDENTIAL.test(presented) ? presented : undefined;
}

/** Whether `presented` is the credential of `digest`, in time independent of where they differ. */
export function credentialHolds(presented: string, digest: string): boolean {
  const expected = Buffer.from(digest, 'hex');
  const actual = Buffer.from(gateCredentialDigest(presented), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}
