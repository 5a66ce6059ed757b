import { describe, expect, it } from 'vitest';
import { contentDigest } from '../../src/core/canonical.js';
import { formatDuration, parseDuration } from '../../src/core/duration.js';
import type { PolicyDocument, Release, ReleaseStatus } from '../../src/core/model.js';
import { decidePolicyUpdate, expiredDeadlines, type PolicyUpdate } from '../../src/core/policy.js';
import { buildReleaseDocument } from '../../src/core/release.js';
import {
  decideCompletion,
  decideManualAdvance,
  decideRollback,
  driverAction,
  evaluateGate,
  parseGate,
  parseWaves,
  planRollout,
  type FleetShare,
  type GateEvaluation,
  type PlanInput,
  type Rollout,
  type RolloutArgs,
  type WaveStats,
} from '../../src/core/rollout.js';
import { checkRule } from '../../src/policy/cel.js';
import { expectRejected, rejection } from '../support/errors.js';

const TENANT = 'default';
const WORKLOAD = 'payments/ingest';
const T0 = new Date('2026-03-01T12:00:00.000Z');
const at = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);

function release(version: string, securityVersion: number, status: ReleaseStatus = 'registered'): Release {
  const document = buildReleaseDocument(TENANT, WORKLOAD, { version, class: 'sim', measurements: [`sha256:${contentDigest(version)}`], securityVersion });
  return { document, digest: contentDigest(document), status, createdAt: T0.toISOString() };
}

function releases(...list: Release[]): Map<string, Release> {
  return new Map(list.map((r) => [r.document.version, r]));
}

const A = release('1.0.0', 1, 'accepted');
const B = release('1.1.0', 2);
const OLD = release('0.9.0', 0, 'retired');
const ALL = releases(A, B, OLD);

function policyAccepting(...versions: string[]): PolicyDocument {
  return decidePolicyUpdate({ current: null, releases: ALL, update: { accept: versions, reason: 'test' }, actor: 'member:alice', now: T0, tenant: TENANT, workload: WORKLOAD, checkRule }).document;
}

function plan(args: Partial<RolloutArgs> = {}, overrides: Partial<PlanInput> = {}) {
  return planRollout({
    tenant: TENANT,
    workload: WORKLOAD,
    args: { to: '1.1.0', reason: 'upgrade', ...args },
    policy: policyAccepting('1.0.0'),
    releases: ALL,
    active: undefined,
    number: 1,
    actor: 'member:alice',
    now: at(1),
    ...overrides,
  });
}

function active(args: Partial<RolloutArgs> = {}, wave = 0, waveStartedAt = at(1)): Rollout {
  return { document: plan(args).document, status: 'active', wave, waveStartedAt: waveStartedAt.toISOString() };
}

const stats = (affirming: number, contraindicated = 0, warning = 0): WaveStats => ({ affirming, warning, contraindicated });
const outcome = { trigger: 'manual' as const, reason: 'done', actor: 'member:alice', at: at(5).toISOString() };

describe('parseWaves', () => {
  it('takes a comma list or an array of increasing percentages ending at 100', () => {
    expect(parseWaves('1,10,50,100')).toEqual([1, 10, 50, 100]);
    expect(parseWaves([25, 100])).toEqual([25, 100]);
    expect(parseWaves('100')).toEqual([100]);
  });

  it('refuses what is not a sensible progression, naming the problem', () => {
    expectRejected(() => parseWaves('10,5,100'), 'validation-failed', /must increase/);
    expectRejected(() => parseWaves('10,50'), 'validation-failed', /last wave must reach 100/);
    expectRejected(() => parseWaves('0,100'), 'validation-failed', /waves\[0\]/);
    expectRejected(() => parseWaves('x,100'), 'validation-failed', /waves\[0\]/);
    expectRejected(() => parseWaves([]), 'validation-failed', /at least one wave/);
    expectRejected(() => parseWaves(Array.from({ length: 21 }, (_, i) => i + 80)), 'validation-failed', /at most 20/);
  });
});

describe('parseGate', () => {
  it('normalises per-wave values and durations', () => {
    const gate = parseGate({ minAffirming: [1, 5, 20], maxContraindicatedPercent: 2.5, minSoak: '10m', health: { source: 'prometheus', maxAge: '90s' }, autoAdvance: false }, 3);
    expect(gate).toEqual({
      minAffirming: [1, 5, 20],
      maxContraindicatedPercent: 2.5,
      minSoakSeconds: [600, 600, 600],
      health: { source: 'prometheus', maxAgeSeconds: 90 },
      autoAdvance: false,
      autoRollback: true,
    });
    expect(parseGate({}, 2)).toEqual({ minAffirming: [0, 0], maxContraindicatedPercent: null, minSoakSeconds: [0, 0], health: null, autoAdvance: true, autoRollback: true });
  });

  it('reports every bad field at once', () => {
    const error = rejection(() => parseGate({ minAffirming: [1, 2], minSoak: 'soon', maxContraindicatedPercent: 120, typo: true, autoRollback: 'yes' }, 3));
    expect(error.type).toBe('validation-failed');
    expect(error.issues.map((issue) => issue.field).sort()).toEqual(['gate.autoRollback', 'gate.maxContraindicatedPercent', 'gate.minAffirming', 'gate.minSoak', 'gate.typo']);
    expectRejected(() => parseGate([], 1), 'validation-failed', /JSON object/);
    expectRejected(() => parseGate({ health: { source: 'Bad Source' } }, 1), 'validation-failed', /gate.health.source/);
  });
});

describe('planRollout', () => {
  it('phases B in beside what the policy accepts now, and makes B a candidate', () => {
    const { document, policy, releaseStatus } = plan();
    expect(document).toMatchObject({ number: 1, from: ['1.0.0'], to: '1.1.0', waves: [100], gate: null, deadline: null, onDeadline: 'enforce', raiseFloor: false, startedAt: at(1).toISOString() });
    expect(policy).toEqual({ accept: ['1.1.0'], reason: 'rollout #1: phase in 1.1.0 beside 1.0.0: upgrade' });
    expect(releaseStatus).toEqual([{ version: '1.1.0', status: 'candidate' }]);
  });

  it('puts an enforced deadline on A, and none when the deadline only bounds progress', () => {
    const deadline = at(60).toISOString();
    expect(plan({ deadline }).policy.deadlines).toEqual([{ version: '1.0.0', until: deadline, why: `rollout #1: replace with 1.1.0 by ${deadline}` }]);
    expect(plan({ deadline, onDeadline: 'rollback' }).policy.deadlines).toBeUndefined();
    expectRejected(() => plan({ deadline: at(0).toISOString() }), 'validation-failed', /not in the future/);
  });

  it('refuses a second rollout, a target already accepted, an unknown one, and a downgrade', () => {
    expectRejected(() => plan({}, { active: active() }), 'conflict', /already has rollout #1/);
    expectRejected(() => plan({}, { policy: policyAccepting('1.0.0', '1.1.0') }), 'conflict', /already accepted/);
    expectRejected(() => plan({ to: '9.9.9' }), 'unknown-release');
    expectRejected(() => plan({ from: ['0.9.0'] }), 'invalid-policy', /not accepted now/);
    const older = release('0.8.0', 0);
    expectRejected(() => plan({ to: '0.8.0' }, { releases: releases(A, B, older) }), 'downgrade-refused', /never downgrades/);
  });

  it('the phase-in update the plan makes is one the policy accepts', () => {
    const current = decidePolicyUpdate({ current: null, releases: ALL, update: { accept: ['1.0.0'], reason: 'x' }, actor: 'member:alice', now: T0, tenant: TENANT, workload: WORKLOAD, checkRule });
    const next = decidePolicyUpdate({ current, releases: ALL, update: plan({ deadline: at(60).toISOString() }).policy, actor: 'member:alice', now: at(1), tenant: TENANT, workload: WORKLOAD, checkRule });
    expect(next.document.accepted).toEqual([
      { version: '1.0.0', digest: A.digest, until: at(60).toISOString(), why: `rollout #1: replace with 1.1.0 by ${at(60).toISOString()}` },
      { version: '1.1.0', digest: B.digest },
    ]);
  });
});

describe('ending a rollout', () => {
  const during = policyAccepting('1.0.0', '1.1.0');

  it('completion drops A for good and raises the floor only when asked', () => {
    expect(decideCompletion(active(), WORKLOAD, during, B, outcome)).toEqual({
      outcome,
      policy: { remove: ['1.0.0'], reason: 'rollout #1 completed: 1.1.0 only (done)' },
      releaseStatus: [
        { version: '1.1.0', status: 'accepted' },
        { version: '1.0.0', status: 'retired' },
      ],
    });
    expect(decideCompletion(active({ raiseFloor: true }), WORKLOAD, during, B, outcome).policy).toMatchObject({ remove: ['1.0.0'], floor: 2 });
  });

  it('completion without anything left to drop changes no policy', () => {
    const first = { ...active(), document: { ...active().document, from: [] } };
    expect(decideCompletion(first, WORKLOAD, policyAccepting('1.1.0'), B, outcome)).toEqual({ outcome, releaseStatus: [{ version: '1.1.0', status: 'accepted' }] });
  });

  it('rollback drops B, lifts the deadline the rollout set, and keeps a revocation deadline', () => {
    const deadline = at(60).toISOString();
    const rollout = active({ deadline });
    const withDeadline: PolicyDocument = { ...during, accepted: during.accepted.map((e) => (e.version === '1.0.0' ? { ...e, until: deadline, why: 'rollout #1: …' } : e)) };
    expect(decideRollback(rollout, WORKLOAD, withDeadline, outcome).policy).toEqual({ remove: ['1.1.0'], clearDeadlines: ['1.0.0'], reason: 'rollout #1 rolled back: 1.0.0 only (done)' });
    const revoked: PolicyDocument = { ...during, accepted: during.accepted.map((e) => (e.version === '1.0.0' ? { ...e, until: at(30).toISOString(), why: 'revoked: CVE' } : e)) };
    expect(decideRollback(rollout, WORKLOAD, revoked, outcome).policy).toEqual({ remove: ['1.1.0'], reason: 'rollout #1 rolled back: 1.0.0 only (done)' });
    expect(decideRollback(rollout, WORKLOAD, during, outcome).releaseStatus).toEqual([{ version: '1.1.0', status: 'registered' }]);
  });

  it('refuses to end what is not in progress', () => {
    expectRejected(() => decideRollback(undefined, WORKLOAD, during, outcome), 'not-found');
    expectRejected(() => decideCompletion({ ...active(), status: 'completed' }, WORKLOAD, during, B, outcome), 'not-found');
  });
});

describe('evaluateGate', () => {
  const gated = (gate: unknown, wave = 0, started = at(1)) => active({ waves: [10, 100], gate }, wave, started);

  it('without a gate, every wave passes', () => {
    expect(evaluateGate(active(), stats(0), [], at(2))).toEqual({ verdict: 'pass', wave: 0, conditions: [] });
  });

  it('waits for affirming instances and soak time, per wave', () => {
    const rollout = gated({ minAffirming: [2, 10], minSoak: ['5m', '1h'] });
    const early = evaluateGate(rollout, stats(1), [], at(3));
    expect(early.verdict).toBe('pending');
    expect(early.conditions).toEqual([
      { name: 'min-affirming', required: '≥ 2', actual: '1', status: 'pending' },
      { name: 'min-soak', required: '≥ 300s', actual: '120s', status: 'pending' },
    ]);
    expect(evaluateGate(rollout, stats(1, 0, 1), [], at(6)).verdict).toBe('pass');
    expect(evaluateGate(gated({ minAffirming: [2, 10], minSoak: ['5m', '1h'] }, 1), stats(9), [], at(100)).verdict).toBe('pending');
  });

  it('fails on too many contraindicated B instances, whatever else holds', () => {
    const rollout = gated({ minAffirming: 1, maxContraindicatedPercent: 10 });
    expect(evaluateGate(rollout, stats(9, 1), [], at(2)).verdict).toBe('pass');
    const failed = evaluateGate(rollout, stats(8, 2), [], at(2));
    expect(failed.verdict).toBe('fail');
    expect(failed.conditions.find((c) => c.name === 'max-contraindicated')).toEqual({ name: 'max-contraindicated', required: '≤ 10%', actual: '20% (2 of 10)', status: 'failed' });
    expect(evaluateGate(rollout, stats(0, 0), [], at(2)).conditions.find((c) => c.name === 'max-contraindicated')?.status).toBe('met');
  });

  it('reads the newest health signal of its source: fresh and healthy passes, unhealthy fails, stale waits', () => {
    const rollout = gated({ health: { source: 'prom', maxAge: '5m' } });
    const signal = (healthy: boolean, minutes: number, source = 'prom') => ({ source, healthy, detail: '', at: at(minutes).toISOString() });
    expect(evaluateGate(rollout, stats(0), [], at(2)).verdict).toBe('pending');
    expect(evaluateGate(rollout, stats(0), [signal(true, 2)], at(3)).verdict).toBe('pass');
    expect(evaluateGate(rollout, stats(0), [signal(true, 2), signal(false, 3)], at(4)).verdict).toBe('fail');
    expect(evaluateGate(rollout, stats(0), [signal(true, 2)], at(10)).verdict).toBe('pending');
    expect(evaluateGate(rollout, stats(0), [signal(false, 2, 'other')], at(3)).verdict).toBe('pending');
  });
});

describe('driverAction and manual advance', () => {
  const evaluation = (verdict: GateEvaluation['verdict']): GateEvaluation => ({ verdict, wave: 0, conditions: [] });
  /** The whole live fleet on B (the share itself: test/rollout/fleet-share.test.ts). */
  const onB: FleetShare = { onTarget: 10, live: 10, liveWindowSeconds: 3600 };

  it('a due deadline comes first: enforce completes, rollback rolls back', () => {
    const deadline = at(60).toISOString();
    expect(driverAction(active({ deadline }), evaluation('pending'), onB, at(60))).toMatchObject({ kind: 'complete', trigger: 'deadline' });
    expect(driverAction(active({ deadline, onDeadline: 'rollback' }), evaluation('pass'), onB, at(61))).toMatchObject({ kind: 'rollback', trigger: 'deadline' });
    expect(driverAction(active({ deadline }), evaluation('pending'), onB, at(59))).toBeNull();
  });

  it('follows the gate only as far as the gate file allows', () => {
    const waves = { waves: [10, 100] };
    expect(driverAction(active({ ...waves, gate: {} }), evaluation('pass'), onB, at(2))).toMatchObject({ kind: 'advance', toWave: 1 });
    expect(driverAction(active({ ...waves, gate: {} }, 1), evaluation('pass'), onB, at(2))).toMatchObject({ kind: 'complete', trigger: 'gate' });
    expect(driverAction(active({ ...waves, gate: {} }), evaluation('fail'), onB, at(2))).toMatchObject({ kind: 'rollback', trigger: 'gate' });
    expect(driverAction(active({ ...waves, gate: { autoAdvance: false, autoRollback: false } }), evaluation('pass'), onB, at(2))).toBeNull();
    expect(driverAction(active({ ...waves, gate: { autoAdvance: false, autoRollback: false } }), evaluation('fail'), onB, at(2))).toBeNull();
    expect(driverAction(active(waves), evaluation('pass'), onB, at(2))).toBeNull();
    expect(driverAction({ ...active(waves), status: 'completed' }, evaluation('pass'), onB, at(2))).toBeNull();
  });

  it('a person may move past a pending gate, never past a failed one, and only from the wave they saw', () => {
    const rollout = active({ waves: [10, 100] });
    expect(decideManualAdvance(rollout, WORKLOAD, evaluation('pending'), onB)).toMatchObject({ step: { kind: 'advance', toWave: 1 }, forced: false });
    expect(decideManualAdvance({ ...rollout, wave: 1 }, WORKLOAD, evaluation('pass'), onB)).toMatchObject({ step: { kind: 'complete' }, forced: false });
    expectRejected(() => decideManualAdvance(rollout, WORKLOAD, evaluation('fail'), onB), 'conflict', /roll back instead/);
    expectRejected(() => decideManualAdvance(rollout, WORKLOAD, evaluation('pass'), onB, { expectedWave: 1 }), 'conflict', /at wave 1, not 2/);
  });
});

describe('policy deadlines and re-admission', () => {
  const decide = (current: Parameters<typeof decidePolicyUpdate>[0]['current'], update: PolicyUpdate, now: Date, list = ALL) =>
    decidePolicyUpdate({ current, releases: list, update, actor: 'member:alice', now, tenant: TENANT, workload: WORKLOAD, checkRule });

  it('never accepts a retired or revoked release again', () => {
    expectRejected(() => decide(null, { accept: ['0.9.0'], reason: 'back' }, T0), 'readmission-refused', /retired/);
    const revoked = releases(A, B, release('0.9.0', 0, 'revoked'));
    expectRejected(() => decide(null, { accept: ['0.9.0'], reason: 'back' }, T0, revoked), 'readmission-refused', /revoked/);
  });

  it('sets, keeps and lifts deadlines; a revoked release stays only while its deadline runs', () => {
    const v1 = decide(null, { accept: ['1.0.0', '1.1.0'], reason: 'both' }, T0);
    const v2 = decide(v1, { deadlines: [{ version: '1.0.0', until: at(60).toISOString(), why: 'CVE-2026-1' }], reason: 'deadline' }, at(1));
    expect(v2.document.accepted[0]).toEqual({ version: '1.0.0', digest: A.digest, until: at(60).toISOString(), why: 'CVE-2026-1' });
    expect(expiredDeadlines(v2.document, at(59))).toEqual([]);
    expect(expiredDeadlines(v2.document, at(60))).toEqual(['1.0.0']);
    // Carried over by an unrelated change, and accepted again without losing it.
    const v3 = decide(v2, { accept: ['1.0.0'], floor: 1, reason: 'floor' }, at(2), releases({ ...A, status: 'revoked' }, B));
    expect(v3.document.accepted[0]?.until).toBe(at(60).toISOString());
    const v4 = decide(v3, { clearDeadlines: ['1.0.0'], reason: 'lift' }, at(3));
    expect(v4.document.accepted[0]).toEqual({ version: '1.0.0', digest: A.digest });
    expectRejected(() => decide(v4, { rules: { x: 'true' }, reason: 'r' }, at(4), releases({ ...A, status: 'revoked' }, B)), 'invalid-policy', /revoked; remove it/);
  });

  it('refuses deadlines in the past, on releases not accepted, without a reason, and lifting none', () => {
    const v1 = decide(null, { accept: ['1.0.0'], reason: 'one' }, T0);
    expectRejected(() => decide(v1, { deadlines: [{ version: '1.0.0', until: T0.toISOString(), why: 'x' }], reason: 'r' }, at(1)), 'validation-failed', /not in the future/);
    expectRejected(() => decide(v1, { deadlines: [{ version: '1.1.0', until: at(9).toISOString(), why: 'x' }], reason: 'r' }, at(1)), 'invalid-policy', /not accepted/);
    expectRejected(() => decide(v1, { deadlines: [{ version: '1.0.0', until: at(9).toISOString(), why: ' ' }], reason: 'r' }, at(1)), 'validation-failed', /needs a reason/);
    expectRejected(() => decide(v1, { clearDeadlines: ['1.0.0'], reason: 'r' }, at(1)), 'invalid-policy', /no deadline to lift/);
  });
});

describe('durations', () => {
  it('parses the units people write and bounds them', () => {
    expect(['90s', '10m', '2h', '3d', '45', 30].map((v) => parseDuration(v, 'x'))).toEqual([90, 600, 7200, 259_200, 45, 30]);
    for (const bad of ['', '1w', '-5m', 'ten minutes', 1.5, 400 * 86_400, null]) expectRejected(() => parseDuration(bad, 'gate.minSoak'), 'validation-failed', /gate\.minSoak/);
  });

  it('formats two units at most, and says overdue', () => {
    expect(formatDuration(0)).toBe('0s');
    expect(formatDuration(3 * 3600 + 5 * 60 + 7)).toBe('3h 5m');
    expect(formatDuration(90_061)).toBe('1d 1h');
    expect(formatDuration(-61)).toBe('1m 1s overdue');
  });
});
