/**
 * Governed rollouts (the CCC upgrade-governance pattern): move a workload from releases
 * A to release B in step with the fleet. Before any B instance is deployed the policy
 * accepts A ∪ B; a completed rollout leaves B alone (A can never return); a rolled-back
 * one leaves A alone (B never becomes the floor). Waves pace the move; a gate decides,
 * from the fleet's own attestation results, whether a wave may end, and the share of
 * the live fleet on B whether the fleet has come that far.
 *
 * Everything here is pure: the store supplies the current state, the caller the time.
 */
import { parseDuration } from './duration.js';
import { CovenantError, type FieldIssue } from './errors.js';
import type { PolicyDocument, Release, ReleaseStatus } from './model.js';
import { releaseVersionProblem } from './names.js';
import type { PolicyUpdate } from './policy.js';

export const ROLLOUT_STATUSES = ['active', 'completed', 'rolled-back'] as const;
export type RolloutStatus = (typeof ROLLOUT_STATUSES)[number];

/**
 * What a missed deadline does. `enforce`: the deadline is a mandatory patch date — A is
 * accepted with a warning until then, and at the deadline A is dropped (the rollout
 * completes). `rollback`: the deadline bounds the rollout's progress — if B has not
 * been completed by then, B is dropped.
 */
export const DEADLINE_ACTIONS = ['enforce', 'rollback'] as const;
export type DeadlineAction = (typeof DEADLINE_ACTIONS)[number];

/** A gate, normalised: per-wave values are arrays aligned with the rollout's waves. */
export interface GateSpec {
  /** At least this many B instances whose latest verdict in the wave accepts them (affirming or warning). */
  readonly minAffirming: readonly number[];
  /** Above this share of contraindicated B instances in the wave (percent), the gate fails. */
  readonly maxContraindicatedPercent: number | null;
  /** Seconds a wave must last before it may pass. */
  readonly minSoakSeconds: readonly number[];
  /** An external health signal that must be healthy and fresh. */
  readonly health: { readonly source: string; readonly maxAgeSeconds: number } | null;
  /** Advance (or complete after the last wave) as soon as the gate passes. */
  readonly autoAdvance: boolean;
  /** Roll back as soon as the gate fails. */
  readonly autoRollback: boolean;
  /** An instance seen within this many seconds counts as live (absent: DEFAULT_LIVE_WINDOW_SECONDS). */
  readonly liveWindowSeconds?: number;
}

/** The rollout as started: immutable, committed in the `rollout.started` entry. */
export interface RolloutDocument {
  readonly tenant: string;
  readonly workload: string;
  /** 1, 2, 3… per workload. */
  readonly number: number;
  /** The releases being replaced (the policy's accepted set at start, B excepted). */
  readonly from: readonly string[];
  readonly to: string;
  /** Target share of the fleet on B at each wave, percent, increasing, ending at 100. */
  readonly waves: readonly number[];
  readonly gate: GateSpec | null;
  readonly deadline: string | null;
  readonly onDeadline: DeadlineAction;
  /** On completion, raise the policy's security-version floor to B's security version. */
  readonly raiseFloor: boolean;
  readonly reason: string;
  readonly actor: string;
  readonly startedAt: string;
}

export type TransitionTrigger = 'manual' | 'gate' | 'deadline';

export interface RolloutOutcome {
  readonly trigger: TransitionTrigger;
  readonly reason: string;
  readonly actor: string;
  readonly at: string;
}

export interface Rollout {
  readonly document: RolloutDocument;
  readonly status: RolloutStatus;
  /** Index into `document.waves` of the wave in progress (of the last one, once ended). */
  readonly wave: number;
  readonly waveStartedAt: string;
  readonly outcome?: RolloutOutcome;
}

export const MAX_WAVES = 20;
const MAX_FROM = 16;
const MAX_SOURCE_LENGTH = 64;
const SOURCE = /^[a-z0-9][a-z0-9._/-]{0,63}$/;

function invalid(field: string, message: string): CovenantError {
  return new CovenantError('validation-failed', `${field}: ${message}`, { issues: [{ field, message }] });
}

/** Parses `1,10,50,100` (or an array) into wave percentages. */
export function parseWaves(value: unknown): number[] {
  const list = typeof value === 'string' ? value.split(',').map((part) => part.trim()) : value;
  if (!Array.isArray(list) || list.length === 0) throw invalid('waves', 'give at least one wave, e.g. 1,10,50,100');
  if (list.length > MAX_WAVES) throw invalid('waves', `at most ${MAX_WAVES} waves, got ${list.length}`);
  const waves = list.map((item, i) => {
    const n = typeof item === 'string' && /^\d{1,3}$/.test(item) ? Number(item) : item;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > 100) throw invalid(`waves[${i}]`, `must be a whole percentage from 1 to 100, got ${JSON.stringify(item)}`);
    return n;
  });
  waves.forEach((n, i) => {
    if (i > 0 && n <= waves[i - 1]!) throw invalid('waves', `must increase: ${waves.join(',')}`);
  });
  if (waves[waves.length - 1] !== 100) throw invalid('waves', `the last wave must reach 100 (the whole fleet), got ${waves.join(',')}`);
  return waves;
}

/** A value given once for every wave, or once per wave. */
function perWave(value: unknown, waves: number, field: string, parse: (item: unknown, field: string) => number, fallback: number): number[] {
  if (value === undefined) return Array.from({ length: waves }, () => fallback);
  if (Array.isArray(value)) {
    if (value.length !== waves) throw invalid(field, `give one value, or one per wave (${waves}), got ${value.length}`);
    return value.map((item, i) => parse(item, `${field}[${i}]`));
  }
  const one = parse(value, field);
  return Array.from({ length: waves }, () => one);
}

function count(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0 || value > 10_000_000) throw invalid(field, `must be a whole number from 0 to 10,000,000, got ${JSON.stringify(value)}`);
  return value;
}

const GATE_KEYS = new Set(['minAffirming', 'maxContraindicatedPercent', 'minSoak', 'health', 'autoAdvance', 'autoRollback', 'liveWindow']);

/**
 * Validates a gates file (docs/rollouts.md, "Gates file") against the rollout's waves.
 * Every problem is reported at once, each naming its field.
 */
export function parseGate(value: unknown, waves: number): GateSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid('gate', 'expected a JSON object');
  const input = value as Record<string, unknown>;
  const issues: FieldIssue[] = [];
  const attempt = <T>(fn: () => T, fallback: T): T => {
    try {
      return fn();
    } catch (error) {
      if (!(error instanceof CovenantError)) throw error;
      issues.push(...(error.issues.length > 0 ? error.issues : [{ field: 'gate', message: error.message }]));
      return fallback;
    }
  };
  for (const key of Object.keys(input)) if (!GATE_KEYS.has(key)) issues.push({ field: `gate.${key}`, message: `unknown field (expected one of ${[...GATE_KEYS].join(', ')})` });

  const minAffirming = attempt(() => perWave(input.minAffirming, waves, 'gate.minAffirming', count, 0), []);
  const minSoakSeconds = attempt(() => perWave(input.minSoak, waves, 'gate.minSoak', parseDuration, 0), []);
  const maxContraindicatedPercent = attempt(() => {
    const max = input.maxContraindicatedPercent;
    if (max === undefined || max === null) return null;
    if (typeof max !== 'number' || !Number.isFinite(max) || max < 0 || max > 100) throw invalid('gate.maxContraindicatedPercent', `must be a percentage from 0 to 100, got ${JSON.stringify(max)}`);
    return max;
  }, null);
  const health = attempt(() => {
    const h = input.health;
    if (h === undefined || h === null) return null;
    if (typeof h !== 'object' || Array.isArray(h)) throw invalid('gate.health', 'expected {"source": "<name>", "maxAge": "<duration>"}');
    const { source, maxAge, ...rest } = h as Record<string, unknown>;
    if (Object.keys(rest).length > 0) throw invalid('gate.health', `unknown field ${Object.keys(rest)[0]}`);
    if (typeof source !== 'string' || !SOURCE.test(source)) throw invalid('gate.health.source', `must match ${SOURCE.source} (at most ${MAX_SOURCE_LENGTH} characters)`);
    return { source, maxAgeSeconds: parseDuration(maxAge ?? '5m', 'gate.health.maxAge') };
  }, null);
  const flag = (key: 'autoAdvance' | 'autoRollback', fallback: boolean): boolean =>
    attempt(() => {
      const v = input[key];
      if (v === undefined) return fallback;
      if (typeof v !== 'boolean') throw invalid(`gate.${key}`, 'must be true or false');
      return v;
    }, fallback);
  const autoAdvance = flag('autoAdvance', true);
  const autoRollback = flag('autoRollback', true);
  const liveWindowSeconds = attempt(() => {
    if (input.liveWindow === undefined) return undefined;
    const seconds = parseDuration(input.liveWindow, 'gate.liveWindow');
    // Zero would make every fleet empty, and an empty fleet holds no wave back.
    if (seconds < 1) throw invalid('gate.liveWindow', 'must be at least 1s');
    return seconds;
  }, undefined);
  if (issues.length > 0) throw new CovenantError('validation-failed', `invalid gate: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, { issues });
  return { minAffirming, maxContraindicatedPercent, minSoakSeconds, health, autoAdvance, autoRollback, ...(liveWindowSeconds === undefined ? {} : { liveWindowSeconds }) };
}

/** What `rollout start` asks for. */
export interface RolloutArgs {
  readonly to: string;
  /** Defaults to every release the policy accepts now, B excepted. */
  readonly from?: readonly string[];
  readonly waves?: readonly number[];
  /** The gates file's content (validated here). */
  readonly gate?: unknown;
  readonly deadline?: string;
  readonly onDeadline?: DeadlineAction;
  readonly raiseFloor?: boolean;
  readonly reason: string;
}

export interface RolloutPlan {
  readonly document: RolloutDocument;
  /** The phase-in: accept A ∪ B (A with the deadline, when enforced). */
  readonly policy: PolicyUpdate;
  readonly releaseStatus: readonly ReleaseStatusChange[];
}

export interface ReleaseStatusChange {
  readonly version: string;
  readonly status: ReleaseStatus;
}

export interface PlanInput {
  readonly tenant: string;
  readonly workload: string;
  readonly args: RolloutArgs;
  readonly policy: PolicyDocument | null;
  readonly releases: ReadonlyMap<string, Release>;
  /** The workload's rollout in progress, if any. */
  readonly active: Rollout | undefined;
  readonly number: number;
  readonly actor: string;
  readonly now: Date;
}

/** Decides `rollout start`: the rollout document and the phase-in policy update, or a refusal. */
export function planRollout(input: PlanInput): RolloutPlan {
  const { args, policy, releases, active, now } = input;
  if (active !== undefined) {
    throw new CovenantError('conflict', `workload ${input.workload} already has rollout #${active.document.number} in progress (to ${active.document.to}); complete or roll it back first`);
  }
  const versionProblem = releaseVersionProblem(args.to);
  if (versionProblem !== undefined) throw invalid('to', versionProblem);
  const target = releases.get(args.to);
  if (target === undefined) throw new CovenantError('unknown-release', `release ${args.to} is not registered for workload ${input.workload}`);
  const accepted = new Set((policy?.accepted ?? []).map((entry) => entry.version));
  if (accepted.has(args.to)) throw new CovenantError('conflict', `release ${args.to} is already accepted: there is nothing to phase in`);

  const from = args.from === undefined ? [...accepted].sort() : [...new Set(args.from)].sort();
  if (from.length > MAX_FROM) throw invalid('from', `at most ${MAX_FROM} releases, got ${from.length}`);
  for (const version of from) {
    if (!accepted.has(version)) throw new CovenantError('invalid-policy', `release ${version} is not accepted now, so a rollout cannot move away from it`);
    const old = releases.get(version);
    if (old !== undefined && old.document.securityVersion > target.document.securityVersion) {
      throw new CovenantError(
        'downgrade-refused',
        `release ${args.to} has security version ${target.document.securityVersion}, below ${version}'s ${old.document.securityVersion}: a rollout never downgrades`,
      );
    }
  }

  const waves = args.waves === undefined ? [100] : parseWaves(args.waves);
  const gate = args.gate === undefined || args.gate === null ? null : parseGate(args.gate, waves.length);
  const onDeadline = args.onDeadline ?? 'enforce';
  if (!(DEADLINE_ACTIONS as readonly string[]).includes(onDeadline)) throw invalid('onDeadline', `must be one of ${DEADLINE_ACTIONS.join(', ')}`);
  let deadline: string | null = null;
  if (args.deadline !== undefined) {
    const at = Date.parse(args.deadline);
    if (Number.isNaN(at)) throw invalid('deadline', 'must be an ISO-8601 date-time');
    if (at <= now.getTime()) throw invalid('deadline', `${args.deadline} is not in the future`);
    deadline = new Date(at).toISOString();
  }
  const reason = typeof args.reason === 'string' ? args.reason.trim() : '';
  if (reason.length === 0 || reason.length > 1024 || reason.includes('\u0000')) throw invalid('reason', 'a rollout needs a reason of 1 to 1024 characters without NUL');

  const document: RolloutDocument = {
    tenant: input.tenant,
    workload: input.workload,
    number: input.number,
    from,
    to: args.to,
    waves,
    gate,
    deadline,
    onDeadline,
    raiseFloor: args.raiseFloor ?? false,
    reason,
    actor: input.actor,
    startedAt: now.toISOString(),
  };
  const enforcedUntil = deadline !== null && onDeadline === 'enforce' && from.length > 0 ? deadline : undefined;
  return {
    document,
    policy: {
      accept: [args.to],
      ...(enforcedUntil === undefined ? {} : { deadlines: from.map((version) => ({ version, until: enforcedUntil, why: `rollout #${input.number}: replace with ${args.to} by ${enforcedUntil}` })) }),
      reason: `rollout #${input.number}: phase in ${args.to}${from.length > 0 ? ` beside ${from.join(', ')}` : ''}: ${reason}`,
    },
    releaseStatus: [{ version: args.to, status: 'candidate' }],
  };
}

/** The policy change and release statuses that end a rollout. */
export interface Ending {
  readonly outcome: RolloutOutcome;
  /** Undefined when the policy needs no new version (nothing to drop, floor unchanged). */
  readonly policy?: PolicyUpdate;
  readonly releaseStatus: readonly ReleaseStatusChange[];
}

function requireActive(rollout: Rollout | undefined, workload: string): Rollout {
  if (rollout === undefined || rollout.status !== 'active') throw new CovenantError('not-found', `workload ${workload} has no rollout in progress`);
  return rollout;
}

/** Completion: B alone is accepted; A is retired for good; the floor rises to B when configured. */
export function decideCompletion(rollout: Rollout | undefined, workload: string, policy: PolicyDocument, target: Release, outcome: RolloutOutcome): Ending {
  const current = requireActive(rollout, workload);
  const { from, raiseFloor } = current.document;
  const drop = from.filter((version) => policy.accepted.some((entry) => entry.version === version));
  const floor = raiseFloor && target.document.securityVersion > policy.securityVersionFloor ? target.document.securityVersion : undefined;
  const changes = drop.length > 0 || floor !== undefined;
  return {
    outcome,
    ...(changes
      ? { policy: { ...(drop.length > 0 ? { remove: drop } : {}), ...(floor !== undefined ? { floor } : {}), reason: `rollout #${current.document.number} completed: ${current.document.to} only (${outcome.reason})` } }
      : {}),
    releaseStatus: [{ version: current.document.to, status: 'accepted' }, ...drop.map((version) => ({ version, status: 'retired' as const }))],
  };
}

/** Rollback: B is dropped and may be tried again later; A stays, its rollout deadline lifted. */
export function decideRollback(rollout: Rollout | undefined, workload: string, policy: PolicyDocument, outcome: RolloutOutcome): Ending {
  const current = requireActive(rollout, workload);
  const { to, number } = current.document;
  // The deadlines this rollout set on A (a revocation's own deadline stays).
  const { deadline, onDeadline } = current.document;
  const lift = policy.accepted.filter((entry) => current.document.from.includes(entry.version) && onDeadline === 'enforce' && deadline !== null && entry.until === deadline);
  const stillAccepted = policy.accepted.some((entry) => entry.version === to);
  const changes = stillAccepted || lift.length > 0;
  return {
    outcome,
    ...(changes
      ? {
          policy: {
            ...(stillAccepted ? { remove: [to] } : {}),
            ...(lift.length > 0 ? { clearDeadlines: lift.map((entry) => entry.version) } : {}),
            reason: `rollout #${number} rolled back: ${current.document.from.join(', ') || 'no release'} only (${outcome.reason})`,
          },
        }
      : {}),
    releaseStatus: stillAccepted ? [{ version: to, status: 'registered' }] : [],
  };
}

/** B instances seen during the current wave, by their latest verdict. */
export interface WaveStats {
  readonly affirming: number;
  readonly warning: number;
  readonly contraindicated: number;
}

export interface HealthSignal {
  readonly source: string;
  readonly healthy: boolean;
  readonly detail: string;
  readonly at: string;
}

export type ConditionStatus = 'met' | 'pending' | 'failed';

export interface GateCondition {
  readonly name: 'min-affirming' | 'max-contraindicated' | 'min-soak' | 'health';
  readonly required: string;
  readonly actual: string;
  readonly status: ConditionStatus;
}

export type GateVerdict = 'pass' | 'pending' | 'fail';

export interface GateEvaluation {
  readonly verdict: GateVerdict;
  readonly wave: number;
  readonly conditions: readonly GateCondition[];
}

/**
 * The wave's gate at `now`. Unmet counts and soak time are `pending` (wait); too many
 * contraindicated B instances, or an unhealthy signal, is `failed`. Without a gate
 * every wave passes: the operator advances by hand.
 */
export function evaluateGate(rollout: Rollout, stats: WaveStats, signals: readonly HealthSignal[], now: Date): GateEvaluation {
  const gate = rollout.document.gate;
  const wave = rollout.wave;
  if (gate === null) return { verdict: 'pass', wave, conditions: [] };
  const conditions: GateCondition[] = [];
  const accepting = stats.affirming + stats.warning;
  const minAffirming = gate.minAffirming[wave] ?? 0;
  conditions.push({ name: 'min-affirming', required: `≥ ${minAffirming}`, actual: String(accepting), status: accepting >= minAffirming ? 'met' : 'pending' });
  if (gate.maxContraindicatedPercent !== null) {
    const total = accepting + stats.contraindicated;
    const percent = total === 0 ? 0 : (stats.contraindicated / total) * 100;
    conditions.push({
      name: 'max-contraindicated',
      required: `≤ ${gate.maxContraindicatedPercent}%`,
      actual: `${Number(percent.toFixed(2))}% (${stats.contraindicated} of ${total})`,
      status: percent > gate.maxContraindicatedPercent ? 'failed' : 'met',
    });
  }
  const soak = gate.minSoakSeconds[wave] ?? 0;
  const elapsed = Math.max(0, Math.floor((now.getTime() - Date.parse(rollout.waveStartedAt)) / 1000));
  conditions.push({ name: 'min-soak', required: `≥ ${soak}s`, actual: `${elapsed}s`, status: elapsed >= soak ? 'met' : 'pending' });
  if (gate.health !== null) {
    const { source, maxAgeSeconds } = gate.health;
    const latest = signals.filter((signal) => signal.source === source).sort((a, b) => Date.parse(b.at) - Date.parse(a.at))[0];
    const age = latest === undefined ? undefined : (now.getTime() - Date.parse(latest.at)) / 1000;
    const status: ConditionStatus = latest === undefined || age! > maxAgeSeconds ? 'pending' : latest.healthy ? 'met' : 'failed';
    conditions.push({
      name: 'health',
      required: `${source} healthy, at most ${maxAgeSeconds}s old`,
      actual: latest === undefined ? 'no signal' : `${latest.healthy ? 'healthy' : 'unhealthy'} ${Math.floor(age!)}s ago${latest.detail ? `: ${latest.detail}` : ''}`,
      status,
    });
  }
  const verdict: GateVerdict = conditions.some((c) => c.status === 'failed') ? 'fail' : conditions.some((c) => c.status === 'pending') ? 'pending' : 'pass';
  return { verdict, wave, conditions };
}

export function describeGate(evaluation: GateEvaluation): string {
  if (evaluation.conditions.length === 0) return 'no gate';
  return evaluation.conditions.map((c) => `${c.name} ${c.actual} (${c.required}): ${c.status}`).join('; ');
}

/** What moving on from the current wave means: the next wave, or completion after the last. */
export type Advance = { readonly kind: 'advance'; readonly toWave: number } | { readonly kind: 'complete' };

/**
 * An instance is live when its latest verdict came within this window. Instances
 * re-attest once per token lifetime (10 minutes by default, ±20 %), so an hour is
 * several missed re-attestations: such an instance holds no token and is taken to be
 * gone. A deployment with longer token lifetimes sets `liveWindow` in the gates file.
 */
export const DEFAULT_LIVE_WINDOW_SECONDS = 3600;

export function liveWindowSeconds(document: RolloutDocument): number {
  return document.gate?.liveWindowSeconds ?? DEFAULT_LIVE_WINDOW_SECONDS;
}

/** The rollout's live fleet: instances whose latest verdict matched A or B and came within the live window. */
export interface FleetShare {
  /** Live instances on B. */
  readonly onTarget: number;
  /** Live instances on A or B. */
  readonly live: number;
  readonly liveWindowSeconds: number;
}

/** The fleet against what a step needs; recorded with the step in the ledger. */
export interface FleetCheck extends FleetShare {
  readonly requiredPercent: number;
  readonly met: boolean;
  /** E.g. "43 of 94 live instances (45 %) are on 2.0.0; wave 4 needs 100 %". */
  readonly detail: string;
}

/**
 * Whether the fleet has caught up with a step: leaving a wave needs that wave's share
 * of the live instances on B; completing needs all of them, from whichever wave, since
 * completion takes A's standing away. With no live instance nobody loses standing,
 * so nothing is held back. The share is compared exactly, never rounded into a pass.
 */
export function checkFleet(rollout: Rollout, step: Advance, share: FleetShare): FleetCheck {
  const { waves, to, from } = rollout.document;
  const last = rollout.wave === waves.length - 1;
  const requiredPercent = step.kind === 'complete' ? 100 : waves[rollout.wave]!;
  const needs = `${step.kind === 'complete' && !last ? 'completion' : `wave ${rollout.wave + 1}`} needs ${requiredPercent} %`;
  if (share.live === 0) {
    return { ...share, requiredPercent, met: true, detail: `no live instance on ${[...from, to].join(', ')} (none seen in the last ${share.liveWindowSeconds}s): nobody to move; ${needs}` };
  }
  const met = share.onTarget * 100 >= requiredPercent * share.live;
  const percent = Math.floor((share.onTarget * 100) / share.live);
  return { ...share, requiredPercent, met, detail: `${share.onTarget} of ${share.live} live instances (${percent} %) are on ${to}; ${needs}` };
}

/** A person's decision to move on, and what it was made on. */
export interface ManualStep {
  readonly step: Advance;
  readonly fleet: FleetCheck;
  /** True when the step went past a fleet that had not caught up. */
  readonly forced: boolean;
}

export interface ManualOptions {
  /** Applies to this wave (0-based) only. */
  readonly expectedWave?: number;
  /** Move on although the fleet has not caught up; needs a reason. */
  readonly force?: boolean;
  readonly reason?: string;
}

/**
 * A person's `advance`: allowed unless the gate has failed — a failing gate calls for a
 * rollback, never for pushing on — and once the fleet has caught up with the wave, or
 * when forced with a reason. A pending gate is the operator's call, recorded with the
 * gate's values in the ledger.
 */
export function decideManualAdvance(rollout: Rollout | undefined, workload: string, evaluation: GateEvaluation, share: FleetShare, options: ManualOptions = {}): ManualStep {
  const current = requireActive(rollout, workload);
  if (options.expectedWave !== undefined && options.expectedWave !== current.wave) {
    throw new CovenantError('conflict', `rollout #${current.document.number} is at wave ${current.wave + 1}, not ${options.expectedWave + 1}`);
  }
  return manualStep(current, evaluation, share, nextStep(current), options);
}

/** A person's `complete`, from any wave: as `decideManualAdvance`, against the whole fleet. */
export function decideManualCompletion(rollout: Rollout | undefined, workload: string, evaluation: GateEvaluation, share: FleetShare, options: ManualOptions = {}): ManualStep {
  return manualStep(requireActive(rollout, workload), evaluation, share, { kind: 'complete' }, options);
}

function manualStep(rollout: Rollout, evaluation: GateEvaluation, share: FleetShare, step: Advance, options: ManualOptions): ManualStep {
  if (options.force === true && (options.reason ?? '').trim().length === 0) {
    throw new CovenantError('validation-failed', 'reason: forcing a rollout past its fleet needs a reason', { issues: [{ field: 'reason', message: 'required with force' }] });
  }
  if (evaluation.verdict === 'fail') {
    throw new CovenantError('conflict', `the gate of wave ${rollout.wave + 1} has failed (${describeGate(evaluation)}): roll back instead`);
  }
  const fleet = checkFleet(rollout, step, share);
  if (!fleet.met && options.force !== true) {
    throw new CovenantError('conflict', `${fleet.detail}: wait for the fleet to move, or force it with a reason (ledgered as forced)`);
  }
  return { step, fleet, forced: !fleet.met };
}

function nextStep(rollout: Rollout): Advance {
  return rollout.wave + 1 < rollout.document.waves.length ? { kind: 'advance', toWave: rollout.wave + 1 } : { kind: 'complete' };
}

export type DriverAction =
  | { readonly kind: 'advance'; readonly toWave: number; readonly reason: string; readonly fleet: FleetCheck }
  | { readonly kind: 'complete'; readonly trigger: 'gate' | 'deadline'; readonly reason: string; readonly fleet: FleetCheck }
  | { readonly kind: 'rollback'; readonly trigger: 'gate' | 'deadline'; readonly reason: string };

/**
 * What the rollout driver does on its own at `now`, by the rules approved at start:
 * a passed deadline first (it is not negotiable, whatever the fleet), then a failed gate
 * (roll back), then a passed gate — once the fleet has caught up with the wave (move
 * on). The driver never forces. Null: wait.
 */
export function driverAction(rollout: Rollout, evaluation: GateEvaluation, share: FleetShare, now: Date): DriverAction | null {
  if (rollout.status !== 'active') return null;
  const { deadline, onDeadline, gate } = rollout.document;
  if (deadline !== null && Date.parse(deadline) <= now.getTime()) {
    return onDeadline === 'enforce'
      ? { kind: 'complete', trigger: 'deadline', reason: `deadline ${deadline} reached: ${rollout.document.from.join(', ') || 'the old release'} is no longer accepted`, fleet: checkFleet(rollout, { kind: 'complete' }, share) }
      : { kind: 'rollback', trigger: 'deadline', reason: `deadline ${deadline} reached before completion` };
  }
  if (gate === null) return null;
  if (evaluation.verdict === 'fail' && gate.autoRollback) return { kind: 'rollback', trigger: 'gate', reason: `gate of wave ${rollout.wave + 1} failed: ${describeGate(evaluation)}` };
  if (evaluation.verdict === 'pass' && gate.autoAdvance) {
    const next = nextStep(rollout);
    const fleet = checkFleet(rollout, next, share);
    if (!fleet.met) return null;
    const reason = `gate of wave ${rollout.wave + 1} passed: ${describeGate(evaluation)}; ${fleet.detail}`;
    return next.kind === 'advance' ? { kind: 'advance', toWave: next.toWave, reason, fleet } : { kind: 'complete', trigger: 'gate', reason, fleet };
  }
  return null;
}
