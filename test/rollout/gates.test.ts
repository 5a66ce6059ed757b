/**
 * Argo Rollouts' web metric provider and Flagger's webhooks, with the payloads those
 * tools send (shared/reference formats §3): the answers follow Covenant's rollout and
 * gate, Argo always gets 200, Flagger a status it acts on, and every call is ledgered.
 */
import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../src/core/rollout.js';
import { answerGate, type GateSituation } from '../../src/rollout/integrations.js';
import { describeEachBackend } from '../store/backends.js';
import { WORKLOAD_PATH, expectProblem, useTestServer } from '../server/support.js';
import { A, B, BROKEN_B, VERIFIERS, World } from './world.js';

const flaggerPayload = (metadata: Record<string, string> = {}) => ({ name: 'podinfo', namespace: 'test', phase: 'Progressing', checksum: '85d557f47b', metadata });
const argoPayload = (release?: string) => ({ rollout: 'podinfo', namespace: 'test', image: 'registry/podinfo@sha256:abc', podTemplateHash: '5f7d9', step: '2', ...(release ? { release } : {}) });

describeEachBackend('deployment controller gates', (backend) => {
  const fixture = useTestServer(backend, VERIFIERS);

  async function ask(world: World, hook: string, body: unknown) {
    return world.app.inject({ method: 'POST', url: `${WORKLOAD_PATH}/gates/${hook}`, payload: body as object });
  }

  it('before a rollout starts, nothing may be deployed: Argo gets 200 allowed=false, Flagger a 412 problem', async () => {
    const world = new World(fixture());
    await world.seed();
    const argo = await ask(world, 'argo', argoPayload(B.version));
    expect(argo.statusCode).toBe(200);
    expect(argo.json()).toMatchObject({ decision: { allowed: false, reason: expect.stringMatching(/no rollout is in progress/), ledgerIndex: expect.any(Number) } });
    const flagger = await ask(world, 'flagger/confirm-rollout', flaggerPayload({ release: B.version }));
    const problem = expectProblem(flagger, 412, 'gate-closed');
    expect(problem.detail).toMatch(/covenant rollout start/);
  });

  it('follows the rollout: confirm and check while healthy, hold promotion until the last wave passes, then roll back on a failed gate', async () => {
    const world = new World(fixture());
    await world.seed();
    expect((await world.post('/rollout', { to: B.version, waves: [50, 100], gate: { maxContraindicatedPercent: 0, autoRollback: false }, reason: 'upgrade' })).statusCode).toBe(201);
    for (const hook of ['confirm-rollout', 'pre-rollout', 'rollout']) {
      const res = await ask(world, `flagger/${hook}`, flaggerPayload({ release: B.version }));
      expect(res.statusCode, `${hook}: ${res.body}`).toBe(200);
    }
    expect((await ask(world, 'argo', argoPayload(B.version))).json()).toMatchObject({ decision: { allowed: true } });
    expect((await ask(world, 'argo', argoPayload(A.version))).json()).toMatchObject({ decision: { allowed: false, reason: 'rollout #1 moves to 1.1.0, not 1.0.0' } });
    expectProblem(await ask(world, 'flagger/confirm-promotion', flaggerPayload()), 412, 'gate-closed');
    expectProblem(await ask(world, 'flagger/rollback', flaggerPayload()), 412, 'gate-closed');

    await world.attestAll(world.spawn(BROKEN_B, 1));
    expect((await ask(world, 'argo', argoPayload())).json()).toMatchObject({ decision: { allowed: false, reason: expect.stringMatching(/failed/) } });
    expectProblem(await ask(world, 'flagger/rollout', flaggerPayload()), 412, 'gate-closed');
    expect((await ask(world, 'flagger/rollback', flaggerPayload())).json()).toMatchObject({ allowed: true, reason: expect.stringMatching(/gate of wave 1 failed/) });

    const queried = await world.ledger('rollout.gate-queried');
    expect(queried).toHaveLength(10);
    expect(queried.at(-1)).toMatchObject({ actor: 'system:flagger', payload: { integration: 'flagger', hook: 'rollback', run: '85d557f47b', allowed: true, rollout: 1, wave: 0 } });
    expect(queried[0]).toMatchObject({ actor: 'system:flagger', payload: { hook: 'confirm-rollout', allowed: true } });
  });

  it('promotion is confirmed once the rollout completes; rollback is asked for once it is rolled back', async () => {
    const world = new World(fixture());
    await world.seed();
    expect((await world.post('/rollout', { to: B.version, reason: 'upgrade' })).statusCode).toBe(201);
    expect((await world.post('/rollout/complete', { reason: 'done' })).statusCode).toBe(200);
    expect((await ask(world, 'flagger/confirm-promotion', flaggerPayload({ release: B.version }))).statusCode).toBe(200);
    expectProblem(await ask(world, 'flagger/confirm-promotion', flaggerPayload({ release: A.version })), 412, 'gate-closed');

    expect((await world.post('/rollout', { to: '9.9.9', reason: 'x' })).statusCode).toBe(422);
  });

  it('refuses malformed controller requests with a 400 and an unknown hook with a 400, writing nothing', async () => {
    const world = new World(fixture());
    await world.seed();
    const before = (await world.ledger()).length;
    expectProblem(await ask(world, 'flagger/rollout', { name: 'x' }), 400, 'validation-failed');
    expectProblem(await ask(world, 'flagger/post-rollout', flaggerPayload()), 400, 'validation-failed');
    expectProblem(await ask(world, 'argo', { step: { nested: true } }), 400, 'validation-failed');
    expect((await world.ledger()).length).toBe(before);
  });
});

describe('answerGate', () => {
  const rollout = (status: Rollout['status'], wave = 0): Rollout => ({
    document: {
      tenant: 'default',
      workload: 'w',
      number: 3,
      from: ['1.0.0'],
      to: '1.1.0',
      waves: [50, 100],
      gate: null,
      deadline: null,
      onDeadline: 'enforce',
      raiseFloor: false,
      reason: 'r',
      actor: 'member:a',
      startedAt: '2026-01-01T00:00:00.000Z',
    },
    status,
    wave,
    waveStartedAt: '2026-01-01T00:00:00.000Z',
    ...(status === 'active' ? {} : { outcome: { trigger: 'manual', reason: 'bad canary', actor: 'member:a', at: '2026-01-01T01:00:00.000Z' } }),
  });
  const situation = (r: Rollout | undefined, verdict?: 'pass' | 'pending' | 'fail'): GateSituation => ({
    rollout: r,
    gate: verdict === undefined ? undefined : { verdict, wave: r?.wave ?? 0, conditions: [] },
    policy: null,
  });

  it('answers each hook from the rollout and its gate', () => {
    expect(answerGate({ hook: 'pre-rollout' }, situation(rollout('active'), 'pending')).allowed).toBe(true);
    expect(answerGate({ hook: 'rollout' }, situation(rollout('active'), 'fail')).allowed).toBe(false);
    expect(answerGate({ hook: 'confirm-promotion' }, situation(rollout('active', 1), 'pending')).allowed).toBe(false);
    expect(answerGate({ hook: 'confirm-promotion' }, situation(rollout('active', 0), 'pass')).allowed).toBe(false);
    expect(answerGate({ hook: 'confirm-promotion' }, situation(rollout('active', 1), 'pass')).allowed).toBe(true);
    expect(answerGate({ hook: 'confirm-promotion' }, situation(rollout('completed'))).allowed).toBe(true);
    expect(answerGate({ hook: 'rollback' }, situation(rollout('rolled-back')))).toEqual({ allowed: true, reason: 'rollout #3 was rolled back: bad canary' });
    expect(answerGate({ hook: 'rollback' }, situation(rollout('active'), 'pass')).allowed).toBe(false);
    expect(answerGate({ hook: 'confirm-rollout' }, situation(rollout('rolled-back')))).toEqual({ allowed: false, reason: 'rollout #3 was rolled back' });
    expect(answerGate({ hook: 'argo' }, situation(undefined)).allowed).toBe(false);
    // A release the policy does not accept is never confirmed, and is a reason to roll back.
    expect(answerGate({ hook: 'confirm-rollout', release: '1.1.0' }, situation(rollout('active'), 'pass'))).toEqual({ allowed: false, reason: 'release 1.1.0 is not accepted by the policy in force' });
    expect(answerGate({ hook: 'rollback', release: '2.0.0' }, situation(rollout('active'), 'pass')).allowed).toBe(true);
  });
});
