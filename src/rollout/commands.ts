import { canonicalJson } from '../core/canonical.js';
import { CovenantError } from '../core/errors.js';
import type { Actor, PolicyVersion } from '../core/model.js';
import { expiredDeadlines, type PolicyUpdate } from '../core/policy.js';
import {
  decideCompletion,
  decideManualAdvance,
  decideManualCompletion,
  decideRollback,
  describeGate,
  driverAction,
  evaluateGate,
  planRollout,
  type Ending,
  type FleetCheck,
  type GateEvaluation,
  type ReleaseStatusChange,
  type Rollout,
  type RolloutArgs,
  type RolloutOutcome,
  type TransitionTrigger,
} from '../core/rollout.js';
import { z } from 'zod';
import { defineCommand, governed } from '../ceremony/command.js';
import { parseArgs } from '../ceremony/parse-args.js';
import { workloadName } from '../policy/schemas.js';
import { AdvanceArgs, CompleteArgs, EndArgs, StartArgs } from './schemas.js';
import type { Decision, Projector, Unit } from '../ledger/committer.js';
import type { NewEntry } from '../ledger/entry.js';
import { decidePolicy, ledgeringRefusals, policyVersionEntry } from '../policy/commands.js';
import { currentPolicy, findRelease, releasesByVersion, requireWorkload } from '../policy/queries.js';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.js';
import type { Tx } from '../store/store.js';
import {
  GATE_QUERIED,
  HEALTH_SIGNALLED,
  RELEASE_REVOKED,
  ROLLOUT_ADVANCED,
  ROLLOUT_COMPLETED,
  ROLLOUT_ROLLED_BACK,
  ROLLOUT_STARTED,
  type GateQueried,
  type HealthSignalled,
  type ReleaseRevoked,
  type RolloutAdvanced,
  type RolloutEnded,
  type RolloutStarted,
} from './events.js';
import { answerGate, type GateAnswer, type GateQuestion } from './integrations.js';
import { activeRollout, healthSignals, latestRollout, liveFleet, nextRolloutNumber, waveStats } from './queries.js';

/** The actor of transitions the rules approved at start make on their own. */
export const DRIVER: Actor = 'system:rollout-driver';

export interface RolloutTransition {
  readonly rollout: Rollout;
  readonly gate: GateEvaluation;
  /** The policy version the transition committed, if any. */
  readonly policy?: PolicyVersion;
}

interface Ctx {
  readonly tenant: string;
  readonly now: Date;
}

/** The active rollout's gate as it stands at `now`, from the fleet inventory and signals. */
export async function gateNow(db: Kysely<Database> | Tx, tenant: string, rollout: Rollout, now: Date): Promise<GateEvaluation> {
  const { workload, to } = rollout.document;
  // One after the other: on SQLite a transaction has one connection.
  const stats = await waveStats(db, tenant, workload, to, rollout.waveStartedAt);
  const signals = await healthSignals(db, tenant, workload);
  return evaluateGate(rollout, stats, signals, now);
}

async function requireActive(tx: Tx, tenant: string, workload: string): Promise<Rollout> {
  await requireWorkload(tx, tenant, workload);
  const rollout = await activeRollout(tx, tenant, workload);
  if (rollout === undefined) throw new CovenantError('not-found', `workload ${workload} has no rollout in progress`);
  return rollout;
}

async function decideFromCurrent(tx: Tx, ctx: Ctx, actor: Actor, workload: string, update: PolicyUpdate): Promise<PolicyVersion> {
  return decidePolicy(tx, ctx, actor, workload, await currentPolicy(tx, ctx.tenant, workload), update);
}

export const ROLLOUT_START = defineCommand({
  name: 'rollout.start',
  action: 'rollout-start',
  parse: (raw) => parseArgs(StartArgs, raw),
  target: (args) => `rollout/${args.workload}`,
  run: (tx, ctx, actor, { workload, ...args }): Promise<Decision<RolloutTransition>> =>
    ledgeringRefusals(actor, workload, 'rollout.start', async () => {
      await requireWorkload(tx, ctx.tenant, workload);
      const current = await currentPolicy(tx, ctx.tenant, workload);
      const releases = await releasesByVersion(tx, ctx.tenant, workload);
      const plan = planRollout({
        tenant: ctx.tenant,
        workload,
        args,
        policy: current?.document ?? null,
        releases,
        active: await activeRollout(tx, ctx.tenant, workload),
        number: await nextRolloutNumber(tx, ctx.tenant, workload),
        actor,
        now: ctx.now,
      });
      const policy = await decideFromCurrent(tx, ctx, actor, workload, plan.policy);
      const started: RolloutStarted = { document: plan.document, policy: policy.id, releaseStatus: plan.releaseStatus };
      const rollout: Rollout = { document: plan.document, status: 'active', wave: 0, waveStartedAt: ctx.now.toISOString() };
      return {
        entries: [{ type: ROLLOUT_STARTED, actor, workload, payload: started }, policyVersionEntry(actor, workload, policy, [])],
        result: { rollout, gate: evaluateGate(rollout, { affirming: 0, warning: 0, contraindicated: 0 }, [], ctx.now), policy },
      };
    }),
});

/** What a wave's end or a completion was decided on: the fleet's share, and whether a person forced it past. */
interface FleetRecord {
  readonly fleet: FleetCheck;
  readonly forced: boolean;
}

const fleetFields = ({ fleet, forced }: FleetRecord) => ({ fleet, ...(forced ? { forced: true as const } : {}) });

function advanced(actor: Actor, rollout: Rollout, toWave: number, trigger: 'manual' | 'gate', reason: string, gate: GateEvaluation, record: FleetRecord, now: Date): Decision<RolloutTransition> {
  const payload: RolloutAdvanced = { number: rollout.document.number, fromWave: rollout.wave, toWave, trigger, reason, gate, ...fleetFields(record) };
  return {
    entries: [{ type: ROLLOUT_ADVANCED, actor, workload: rollout.document.workload, payload }],
    result: { rollout: { ...rollout, wave: toWave, waveStartedAt: now.toISOString() }, gate },
  };
}

/** Completion or rollback: the rollout entry, then the policy version that ends it (if any). */
async function ended(tx: Tx, ctx: Ctx, actor: Actor, rollout: Rollout, kind: 'complete' | 'rollback', trigger: TransitionTrigger, reason: string, gate: GateEvaluation, record?: FleetRecord): Promise<Decision<RolloutTransition>> {
  const { workload, to } = rollout.document;
  const current = await currentPolicy(tx, ctx.tenant, workload);
  if (current === null) throw new CovenantError('internal', `workload ${workload} has a rollout but no policy`);
  const outcome: RolloutOutcome = { trigger, reason, actor, at: ctx.now.toISOString() };
  let ending: Ending;
  if (kind === 'complete') {
    const target = await findRelease(tx, ctx.tenant, workload, to);
    if (target === undefined) throw new CovenantError('internal', `rollout target ${to} is not in the store`);
    ending = decideCompletion(rollout, workload, current.document, target, outcome);
  } else {
    ending = decideRollback(rollout, workload, current.document, outcome);
  }
  const policy = ending.policy === undefined ? undefined : await decideFromCurrent(tx, ctx, actor, workload, ending.policy);
  const payload: RolloutEnded = { number: rollout.document.number, wave: rollout.wave, outcome, gate, ...(record === undefined ? {} : fleetFields(record)), policy: policy?.id ?? null, releaseStatus: ending.releaseStatus };
  const entries: NewEntry[] = [{ type: kind === 'complete' ? ROLLOUT_COMPLETED : ROLLOUT_ROLLED_BACK, actor, workload, payload }];
  if (policy !== undefined) entries.push(policyVersionEntry(actor, workload, policy, []));
  return {
    entries,
    result: { rollout: { ...rollout, status: kind === 'complete' ? 'completed' : 'rolled-back', outcome }, gate, ...(policy === undefined ? {} : { policy }) },
  };
}

/**
 * Ends the wave by hand: the next wave, or completion after the last, once the fleet
 * has caught up with the wave (or forced, with a reason). `expectedWave` (0-based)
 * makes a retried or raced request harmless: it applies to that wave only.
 */
export const ROLLOUT_ADVANCE = defineCommand({
  name: 'rollout.advance',
  action: 'rollout-advance',
  parse: (raw) => parseArgs(AdvanceArgs, raw),
  target: (args) => `rollout/${args.workload}/advance`,
  async run(tx, ctx, actor, { workload, expectedWave, reason: given, force }): Promise<Decision<RolloutTransition>> {
    const rollout = await requireActive(tx, ctx.tenant, workload);
    const gate = await gateNow(tx, ctx.tenant, rollout, ctx.now);
    const decided = decideManualAdvance(rollout, workload, gate, await liveFleet(tx, ctx.tenant, rollout, ctx.now), { expectedWave, force, reason: given });
    const reason = given === undefined || given.trim() === '' ? `advanced by ${actor}; gate: ${describeGate(gate)}; ${decided.fleet.detail}` : requireReason(given);
    return decided.step.kind === 'advance'
      ? advanced(actor, rollout, decided.step.toWave, 'manual', reason, gate, decided, ctx.now)
      : ended(tx, ctx, actor, rollout, 'complete', 'manual', reason, gate, decided);
  },
});

/** Completes the rollout now, whatever wave it is in, unless its gate has failed, once the whole live fleet is on B (or forced, with a reason). */
export const ROLLOUT_COMPLETE = defineCommand({
  name: 'rollout.complete',
  action: 'rollout-complete',
  parse: (raw) => parseArgs(CompleteArgs, raw),
  target: (args) => `rollout/${args.workload}/complete`,
  async run(tx, ctx, actor, { workload, reason, force }): Promise<Decision<RolloutTransition>> {
    const rollout = await requireActive(tx, ctx.tenant, workload);
    const why = requireReason(reason);
    const gate = await gateNow(tx, ctx.tenant, rollout, ctx.now);
    const decided = decideManualCompletion(rollout, workload, gate, await liveFleet(tx, ctx.tenant, rollout, ctx.now), { force, reason: why });
    return ended(tx, ctx, actor, rollout, 'complete', 'manual', why, gate, decided);
  },
});

/** Rolls back now. Nothing blocks it: an unhealthy gate is a reason to roll back, never against. */
export const ROLLOUT_ROLLBACK = defineCommand({
  name: 'rollout.rollback',
  action: 'rollout-rollback',
  parse: (raw) => parseArgs(EndArgs, raw),
  // Its own target: an open advance or completion proposal never stands in a rollback's way.
  target: (args) => `rollout/${args.workload}/rollback`,
  async run(tx, ctx, actor, { workload, reason }): Promise<Decision<RolloutTransition>> {
    const rollout = await requireActive(tx, ctx.tenant, workload);
    return ended(tx, ctx, actor, rollout, 'rollback', 'manual', requireReason(reason), await gateNow(tx, ctx.tenant, rollout, ctx.now));
  },
});

export const startRollout = (signer: string, workload: string, args: RolloutArgs): Unit<RolloutTransition> => governed(signer, ROLLOUT_START, { workload, ...args });
export const advanceRollout = (signer: string, workload: string, options: { readonly expectedWave?: number; readonly reason?: string; readonly force?: boolean } = {}): Unit<RolloutTransition> =>
  governed(signer, ROLLOUT_ADVANCE, { workload, ...options });
export const completeRollout = (signer: string, workload: string, reason: string, options: { readonly force?: boolean } = {}): Unit<RolloutTransition> =>
  governed(signer, ROLLOUT_COMPLETE, { workload, reason, ...options });
export const rollbackRollout = (signer: string, workload: string, reason: string): Unit<RolloutTransition> => governed(signer, ROLLOUT_ROLLBACK, { workload, reason });

function requireReason(reason: string): string {
  const text = typeof reason === 'string' ? reason.trim() : '';
  if (text.length === 0 || text.length > 1024 || text.includes('\u0000')) {
    throw new CovenantError('validation-failed', 'reason: give a reason of 1 to 1024 characters without NUL', { issues: [{ field: 'reason', message: 'required, 1 to 1024 characters' }] });
  }
  return text;
}

export interface DriverOutcome {
  readonly transition?: RolloutTransition & { readonly action: string };
  /** Releases dropped because their deadline passed. */
  readonly expired: readonly string[];
}

/**
 * What the rules approved at start do on their own: a due deadline, a failed or passed
 * gate (see `driverAction`); then accepted releases whose deadline has passed are
 * dropped. Replicas race to run this; each run decides on what it reads inside the
 * write lock, so a transition another replica made first is simply not repeated.
 */
export function driveRollout(workload: string): Unit<DriverOutcome> {
  return async (tx, ctx) => {
    const entries: NewEntry[] = [];
    let transition: DriverOutcome['transition'];
    const rollout = await activeRollout(tx, ctx.tenant, workload);
    if (rollout !== undefined) {
      const gate = await gateNow(tx, ctx.tenant, rollout, ctx.now);
      const action = driverAction(rollout, gate, await liveFleet(tx, ctx.tenant, rollout, ctx.now), ctx.now);
      if (action !== null) {
        const decision =
          action.kind === 'advance'
            ? advanced(DRIVER, rollout, action.toWave, 'gate', action.reason, gate, { fleet: action.fleet, forced: false }, ctx.now)
            : await ended(tx, ctx, DRIVER, rollout, action.kind, action.trigger, action.reason, gate, action.kind === 'complete' ? { fleet: action.fleet, forced: false } : undefined);
        if ('rejection' in decision) return decision as Decision<never>;
        entries.push(...decision.entries);
        transition = { ...decision.result, action: action.kind };
      }
    }
    // A completion just decided has not reached the store yet; its policy is the base.
    const base = transition?.policy ?? (await currentPolicy(tx, ctx.tenant, workload));
    const expired = base === null ? [] : expiredDeadlines(base.document, ctx.now);
    if (expired.length > 0 && base !== null) {
      const releases = await releasesByVersion(tx, ctx.tenant, workload);
      const version = await decidePolicy(tx, ctx, DRIVER, workload, base, { remove: expired, reason: `deadline passed for ${expired.join(', ')}: no longer accepted` }, releases);
      const retire: ReleaseStatusChange[] = expired.filter((v) => releases.get(v)?.status !== 'revoked').map((version) => ({ version, status: 'retired' }));
      entries.push(policyVersionEntry(DRIVER, workload, version, retire));
    }
    return { entries, result: { ...(transition === undefined ? {} : { transition }), expired } };
  };
}

export interface RevokeArgs {
  readonly version: string;
  readonly reason: string;
  /** A grace period: accepted with a warning until then. Absent: refused at once. */
  readonly deadline?: string;
}

export interface Revocation {
  readonly version: string;
  readonly deadline: string | null;
  readonly policy?: PolicyVersion;
}

/**
 * Revokes a release for good. Accepted, it is dropped from the policy at once, or —
 * with a deadline — accepted with a warning until then and dropped at the deadline.
 * A release a rollout is moving to cannot be revoked under it: roll back first.
 */
export const RELEASE_REVOKE = defineCommand({
  name: 'release.revoke',
  action: 'revocation',
  parse: (raw) => parseArgs(z.strictObject({ workload: workloadName, version: z.string().min(1).max(64), reason: z.string().max(1024), deadline: z.string().max(64).optional() }), raw),
  target: (args) => `release/${args.workload}/${args.version}`,
  async run(tx, ctx, actor, { workload, ...args }): Promise<Decision<Revocation>> {
    await requireWorkload(tx, ctx.tenant, workload);
    const reason = requireReason(args.reason);
    const release = await findRelease(tx, ctx.tenant, workload, args.version);
    if (release === undefined) throw new CovenantError('not-found', `workload ${workload} has no release ${args.version}`);
    if (release.status === 'revoked') throw new CovenantError('conflict', `release ${args.version} is already revoked`);
    const rollout = await activeRollout(tx, ctx.tenant, workload);
    if (rollout?.document.to === args.version) {
      throw new CovenantError('conflict', `rollout #${rollout.document.number} is moving to ${args.version}: roll it back before revoking it`);
    }
    const current = await currentPolicy(tx, ctx.tenant, workload);
    const accepted = current?.document.accepted.some((entry) => entry.version === args.version) ?? false;
    let deadline: string | null = null;
    let update: PolicyUpdate | undefined;
    if (args.deadline !== undefined) {
      const at = Date.parse(args.deadline);
      if (Number.isNaN(at)) throw new CovenantError('validation-failed', 'deadline: must be an ISO-8601 date-time', { issues: [{ field: 'deadline', message: 'must be an ISO-8601 date-time' }] });
      deadline = new Date(at).toISOString();
    }
    if (accepted) {
      update =
        deadline === null
          ? { remove: [args.version], reason: `revoked ${args.version}: ${reason}` }
          : { deadlines: [{ version: args.version, until: deadline, why: `revoked: ${reason}` }], reason: `revoked ${args.version}, accepted until ${deadline}: ${reason}` };
    }
    const policy = update === undefined ? undefined : await decideFromCurrent(tx, ctx, actor, workload, update);
    const payload: ReleaseRevoked = { version: args.version, reason, deadline };
    const entries: NewEntry[] = [{ type: RELEASE_REVOKED, actor, workload, payload }];
    if (policy !== undefined) entries.push(policyVersionEntry(actor, workload, policy, []));
    return { entries, result: { version: args.version, deadline, ...(policy === undefined ? {} : { policy }) } };
  },
});

export const revokeRelease = (signer: string, workload: string, args: RevokeArgs): Unit<Revocation> => governed(signer, RELEASE_REVOKE, { workload, ...args });

export interface SignalArgs {
  readonly source: string;
  readonly healthy: boolean;
  readonly detail?: string;
}

/** An external health signal (a monitoring system, a canary analysis) for the workload's gates. */
export const HEALTH_SIGNAL = defineCommand({
  name: 'rollout.signal',
  action: 'health-signal',
  parse: (raw) => parseArgs(z.strictObject({ workload: workloadName, source: z.string().max(64), healthy: z.boolean(), detail: z.string().max(512).optional() }), raw),
  target: (args) => `health/${args.workload}/${args.source}`,
  async run(tx, ctx, actor, { workload, ...args }): Promise<Decision<HealthSignalled & { at: string }>> {
    await requireWorkload(tx, ctx.tenant, workload);
    if (typeof args.source !== 'string' || !/^[a-z0-9][a-z0-9._/-]{0,63}$/.test(args.source)) {
      throw new CovenantError('validation-failed', 'source: must match [a-z0-9][a-z0-9._/-]{0,63}', { issues: [{ field: 'source', message: 'must match [a-z0-9][a-z0-9._/-]{0,63}' }] });
    }
    const detail = (args.detail ?? '').trim().slice(0, 512).replaceAll('\u0000', '');
    const payload: HealthSignalled = { source: args.source, healthy: args.healthy === true, detail };
    return { entries: [{ type: HEALTH_SIGNALLED, actor, workload, payload }], result: { ...payload, at: ctx.now.toISOString() } };
  },
});

export const signalHealth = (signer: string, workload: string, args: SignalArgs): Unit<HealthSignalled & { at: string }> => governed(signer, HEALTH_SIGNAL, { workload, ...args });

/**
 * A progressive-delivery controller's question (Argo Rollouts, Flagger), answered from
 * the rollout and its gate, and ledgered with the answer: unsigned callers, but every
 * decision they act on is on the record.
 */
export function queryGate(workload: string, integration: 'argo' | 'flagger', question: GateQuestion, run: string): Unit<GateAnswer> {
  return async (tx, ctx) => {
    await requireWorkload(tx, ctx.tenant, workload);
    const rollout = await latestRollout(tx, ctx.tenant, workload);
    const gate = rollout?.status === 'active' ? await gateNow(tx, ctx.tenant, rollout, ctx.now) : undefined;
    const policy = await currentPolicy(tx, ctx.tenant, workload);
    const answer = answerGate(question, { rollout, gate, policy: policy?.document ?? null });
    const payload: GateQueried = {
      integration,
      hook: question.hook,
      run: run.slice(0, 128),
      allowed: answer.allowed,
      reason: answer.reason,
      rollout: rollout?.document.number ?? null,
      wave: rollout?.status === 'active' ? rollout.wave : null,
    };
    return { entries: [{ type: GATE_QUERIED, actor: `system:${integration}`, workload, payload }], result: answer };
  };
}

async function setReleaseStatus(tx: Tx, tenant: string, workload: string, changes: readonly ReleaseStatusChange[]): Promise<void> {
  for (const change of changes) {
    await tx
      .updateTable('releases')
      .set({ status: change.status })
      .where('tenant', '=', tenant)
      .where('workload', '=', workload)
      .where('version', '=', change.version)
      // Revocation is final, whatever a rollout later does.
      .where('status', '!=', 'revoked')
      .execute();
  }
}

function endProjection(status: 'completed' | 'rolled-back'): Projector {
  return async (tx, entry) => {
    const payload = entry.payload as RolloutEnded;
    await tx
      .updateTable('rollouts')
      .set({ status, ended_at: entry.time, outcome: canonicalJson(payload.outcome) })
      .where('tenant', '=', entry.tenant)
      .where('workload', '=', entry.workload ?? '')
      .where('number', '=', payload.number)
      .execute();
    await setReleaseStatus(tx, entry.tenant, entry.workload ?? '', payload.releaseStatus);
  };
}

export const rolloutProjection: Record<string, Projector> = {
  [ROLLOUT_STARTED]: async (tx, entry) => {
    const { document, releaseStatus } = entry.payload as RolloutStarted;
    await tx
      .insertInto('rollouts')
      .values({
        tenant: entry.tenant,
        workload: document.workload,
        number: document.number,
        status: 'active',
        // Canonical, so a row rebuilt from the ledger is byte-identical to the live one.
        doc: canonicalJson(document),
        wave: 0,
        wave_started_at: entry.time,
        started_at: entry.time,
        ended_at: null,
        outcome: null,
      })
      .execute();
    await setReleaseStatus(tx, entry.tenant, document.workload, releaseStatus);
  },
  [ROLLOUT_ADVANCED]: async (tx, entry) => {
    const payload = entry.payload as RolloutAdvanced;
    await tx
      .updateTable('rollouts')
      .set({ wave: payload.toWave, wave_started_at: entry.time })
      .where('tenant', '=', entry.tenant)
      .where('workload', '=', entry.workload ?? '')
      .where('number', '=', payload.number)
      .execute();
  },
  [ROLLOUT_COMPLETED]: endProjection('completed'),
  [ROLLOUT_ROLLED_BACK]: endProjection('rolled-back'),
  [RELEASE_REVOKED]: async (tx, entry) => {
    const payload = entry.payload as ReleaseRevoked;
    await setReleaseStatus(tx, entry.tenant, entry.workload ?? '', [{ version: payload.version, status: 'revoked' }]);
  },
  [HEALTH_SIGNALLED]: async (tx, entry) => {
    const payload = entry.payload as HealthSignalled;
    const row = { healthy: payload.healthy ? 1 : 0, detail: payload.detail, at: entry.time };
    await tx
      .insertInto('health_signals')
      .values({ tenant: entry.tenant, workload: entry.workload ?? '', source: payload.source, ...row })
      .onConflict((oc) => oc.columns(['tenant', 'workload', 'source']).doUpdateSet(row))
      .execute();
  },
};
