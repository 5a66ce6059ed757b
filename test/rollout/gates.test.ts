/**
 * Argo Rollouts' web metric provider and Flagger's webhooks, with the payloads those
 * tools send (shared/reference formats §3): the answers follow Covenant's rollout and
 * gate, Argo gets 200, Flagger a status it acts on; only holders of the rollout's gate
 * credential are answered, and only a changed answer is ledgered.
 */
import { describe, expect, it } from 'vitest';
import type { Rollout } from '../../src/core/rollout.js';
import { answerGate, type GateSituation } from '../../src/rollout/integrations.js';
import { describeEachBackend } from '../store/backends.js';
import { refusalCount } from '../server/refusal-metrics.js';
import { WORKLOAD_PATH, expectProblem, signatureHeaders, useTestServer } from '../server/support.js';
import { newMember } from '../support/control-plane.js';
import { A, B, BROKEN_B, VERIFIERS, World } from './world.js';

const flaggerPayload = (metadata: Record<string, string> = {}) => ({ name: 'podinfo', namespace: 'test', phase: 'Progressing', checksum: '85d557f47b', metadata });
const argoPayload = (release?: string) => ({ rollout: 'podinfo', namespace: 'test', image: 'registry/podinfo@sha256:abc', podTemplateHash: '5f7d9', step: '2', ...(release ? { release } : {}) });

describeEachBackend('deployment controller gates', (backend) => {
  const fixture = useTestServer(backend, VERIFIERS);

  /** The gate credential of the latest rollout, as `covenant rollout gate-token` issues it. */
  async function issue(world: World): Promise<string> {
    const res = await world.post('/rollout/gate-credential', {});
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers['cache-control']).toBe('no-store');
    return (res.json() as { credential: string }).credential;
  }

  let credential: string | undefined;
  async function ask(world: World, hook: string, body: unknown, token = credential) {
    return world.app.inject({ method: 'POST', url: `${WORKLOAD_PATH}/gates/${hook}`, payload: body as object, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
  }

  it('before a rollout starts there is no gate credential, and a call without one is a 401 that writes nothing', async () => {
    const world = new World(fixture());
    await world.seed();
    credential = undefined;
    expectProblem(await world.post('/rollout/gate-credential', {}), 404, 'not-found');
    const before = (await world.ledger()).length;
    expectProblem(await ask(world, 'argo', argoPayload(B.version)), 401, 'unauthenticated');
    expectProblem(await ask(world, 'flagger/confirm-rollout', flaggerPayload({ release: B.version })), 401, 'unauthenticated');
    expect((await world.ledger()).length).toBe(before);
  });

  it('only a member who may start rollouts issues (and so supersedes) the gate credential', async () => {
    const world = new World(fixture());
    await world.seed();
    expect((await world.post('/rollout', { to: B.version, reason: 'upgrade' })).statusCode).toBe(201);
    const valid = await issue(world);
    const auditor = newMember('audra');
    const added = await fixture().server.signed('POST', '/v1/members', { name: auditor.name, publicKey: auditor.publicKey, roles: ['auditor'] });
    expect(added.statusCode, added.body).toBe(201);
    const url = `${WORKLOAD_PATH}/rollout/gate-credential`;
    const payload = '{}';
    const before = (await world.ledger()).length;
    const res = await world.app.inject({ method: 'POST', url, payload, headers: { 'content-type': 'application/json', ...signatureHeaders(fixture(), 'POST', url, payload, auditor) } });
    expect(expectProblem(res, 403, 'forbidden').detail).toContain('audra');
    expect((await world.ledger()).slice(before).map((e) => [e.type, e.actor])).toEqual([['authorization.denied', 'member:audra']]);
    // The credential the controllers hold still answers.
    expect((await ask(world, 'argo', argoPayload(B.version), valid)).statusCode).toBe(200);
  });

  it('without the rollout’s credential, or with another, a gate call is a 401: counted, never ledgered, whatever its text', async () => {
    const world = new World(fixture());
    await world.seed();
    expect((await world.post('/rollout', { to: B.version, reason: 'upgrade' })).statusCode).toBe(201);
    const issued = await issue(world);
    const before = (await world.ledger()).length;
    const forged = `covgate_${'A'.repeat(43)}`;
    for (let i = 0; i < 50; i++) {
      expectProblem(await ask(world, 'argo', { rollout: `ANY-TEXT-${i}` }, undefined), 401, 'unauthenticated');
      expectProblem(await ask(world, 'argo', { rollout: `ANY-TEXT-${i}` }, forged), 401, 'unauthenticated');
      expectProblem(await ask(world, 'flagger/rollback', flaggerPayload({ covenantGateToken: forged }), undefined), 401, 'unauthenticated');
    }
    expect((await world.ledger()).length).toBe(before);
    expect(await refusalCount(world.app, 'gate', 'missing-credential')).toBe(50);
    expect(await refusalCount(world.app, 'gate', 'wrong-credential')).toBe(100);

    // Flagger has no header setting: its webhook metadata carries the credential.
    expect((await ask(world, 'flagger/confirm-rollout', flaggerPayload({ covenantGateToken: issued }), undefined)).statusCode).toBe(200);
    // A newer rollout supersedes the credential; a reissued one supersedes the old one too.
    expect((await world.post('/rollout/rollback', { reason: 'stop' })).statusCode).toBe(200);
    expect((await world.post('/rollout', { to: B.version, reason: 'again' })).statusCode).toBe(201);
    expectProblem(await ask(world, 'argo', argoPayload(), issued), 401, 'unauthenticated');
    expect(await refusalCount(world.app, 'gate', 'superseded-credential')).toBe(1);
    const second = await issue(world);
    expect((await issue(world)) === second).toBe(false);
    expectProblem(await ask(world, 'argo', argoPayload(), second), 401, 'unauthenticated');
  });

  it('an authenticated controller polling an unchanged gate adds at most one entry per answer, and is rate-limited', async () => {
    const world = new World(fixture());
    await world.seed();
    expect((await world.post('/rollout', { to: B.version, waves: [50, 100], gate: { autoRollback: false }, reason: 'upgrade' })).statusCode).toBe(201);
    credential = await issue(world);
    const before = (await world.ledger()).length;
    for (let i = 0; i < 200; i++) {
      world.fixture.clock.advance(1000);
      const res = await ask(world, 'argo', argoPayload(B.version));
      expect(res.statusCode, res.body).toBe(200);
      expect(res.json()).toMatchObject({ decision: { allowed: true, ledgerIndex: before } });
    }
    expect((await world.ledger()).length).toBe(before + 1);

    const burst = await Promise.all(Array.from({ length: 40 }, () => ask(world, 'argo', argoPayload(B.version))));
    expect(burst.filter((res) => res.statusCode === 429).length).toBeGreaterThan(0);
    expect(await refusalCount(world.app, 'gate', 'rate-limited')).toBe(burst.filter((res) => res.statusCode === 429).length);
    expect((await world.ledger()).length).toBe(before + 1);
  });

  it('follows the rollout: confirm and check while healthy, hold promotion until the last wave passes, then roll back on a failed gate', async () => {
    const world = new World(fixture());
    await world.seed();
    expect((await world.post('/rollout', { to: B.version, waves: [50, 100], gate: { maxContraindicatedPercent: 0, autoRollback: false }, reason: 'upgrade' })).statusCode).toBe(201);
    credential = await issue(world);
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

    // Asked again, an unchanged answer adds nothing; each of the ten above was a new answer.
    expect((await ask(world, 'flagger/rollback', flaggerPayload())).json()).toMatchObject({ allowed: true });
    const queried = await world.ledger('rollout.gate-queried');
    expect(queried).toHaveLength(10);
    expect(queried.at(-1)).toMatchObject({ actor: 'system:flagger', payload: { integration: 'flagger', hook: 'rollback', run: '85d557f47b', allowed: true, rollout: 1, wave: 0 } });
    expect(queried[0]).toMatchObject({ actor: 'system:flagger', payload: { hook: 'confirm-rollout', allowed: true } });
  });

  it('promotion is confirmed once the rollout completes; rollback is asked for once it is rolled back', async () => {
    const world = new World(fixture());
    await world.seed();
    expect((await world.post('/rollout', { to: B.version, reason: 'upgrade' })).statusCode).toBe(201);
    credential = await issue(world);
    expect((await world.post('/rollout/complete', { reason: 'done' })).statusCode).toBe(200);
    expect((await ask(world, 'flagger/confirm-promotion', flaggerPayload({ release: B.version }))).statusCode).toBe(200);
    expectProblem(await ask(world, 'flagger/confirm-promotion', flaggerPayload({ release: A.version })), 412, 'gate-closed');

    expect((await world.post('/rollout', { to: '9.9.9', reason: 'x' })).statusCode).toBe(422);
  });

  it('refuses malformed controller requests with a 400 and an unknown hook with a 400, writing nothing', async () => {
    const world = new World(fixture());
    await world.seed();
    expect((await world.post('/rollout', { to: B.version, reason: 'upgrade' })).statusCode).toBe(201);
    credential = await issue(world);
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
