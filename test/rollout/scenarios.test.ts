/**
 * Governed rollouts end to end (issue acceptance 1–4), on both backends: simulated
 * instances attest through the real HTTP routes, the clock is injected, and the driver
 * is ticked by hand where the server would tick it on a timer.
 */
import { describe, expect, it } from 'vitest';
import type { SimInstance } from '../support/fleet.js';
import { describeEachBackend } from '../store/backends.js';
import { WORKLOAD, expectProblem, useTestServer } from '../server/support.js';
import { A, B, BROKEN_B, VERIFIERS, World, statuses } from './world.js';

const MINUTE = 60_000;

describeEachBackend('rollout scenarios', (backend) => {
  const fixture = useTestServer(backend, VERIFIERS);

  it('1. success: 1,000 instances move from A to B over 4 waves with no healthy instance ever denied', async () => {
    const world = new World(fixture());
    const { clock } = fixture();
    await world.seed();
    let fleet: SimInstance[] = world.spawn(A, 1000);
    const before = await world.attestAll(fleet);
    expect(statuses(before)).toEqual({ affirming: 1000 });
    const aTokens = before.map((result) => result.token);
    // Each wave's fleet attests, then soaks 10 minutes: with a 15-minute live window the
    // A instances replaced in a wave (last seen the wave before) no longer count as live.
    clock.advance(10 * MINUTE);

    const waves = [10, 30, 60, 100];
    const started = await world.post('/rollout', {
      to: B.version,
      waves,
      gate: { minAffirming: [95, 290, 590, 990], maxContraindicatedPercent: 1, minSoak: '10m', liveWindow: '15m' },
      reason: 'quarterly upgrade',
    });
    expect(started.statusCode, started.body).toBe(201);
    // Phase-in before any B instance exists: A ∪ B, and A's tokens stand untouched.
    expect((await world.policy()).accepted.map((a) => a.version)).toEqual([A.version, B.version]);
    for (const token of aTokens.slice(0, 50)) expect((await world.tokenStands(token)).valid).toBe(true);

    let denied = 0;
    for (const [index, percent] of waves.entries()) {
      // Replace A instances by B instances up to the wave's share of the fleet.
      const onB = fleet.filter((instance) => instance.release === B).length;
      const replace = (1000 * percent) / 100 - onB;
      const [retired, kept] = [fleet.filter((i) => i.release === A).slice(0, replace), fleet.filter((i) => i.release === A).slice(replace)];
      fleet = [...kept, ...fleet.filter((i) => i.release === B), ...world.spawn(B, retired.length)];
      // The whole fleet attests during the wave: replaced A instances are gone.
      const results = await world.attestAll(fleet);
      denied += results.filter((r) => r.appraisal.status === 'contraindicated').length;
      expect(await world.tick(), 'the soak time has not passed').toEqual([]);
      clock.advance(10 * MINUTE);
      const [report] = await world.tick();
      expect(report?.transition?.action).toBe(index < waves.length - 1 ? 'advance' : 'complete');
    }
    expect(denied).toBe(0);

    // Completed: B alone; every old A token refused at once; a straggler on A is denied.
    const policy = await world.policy();
    expect(policy.accepted.map((a) => a.version)).toEqual([B.version]);
    expect(policy.securityVersionFloor).toBe(0);
    for (const token of aTokens.slice(0, 100)) {
      const check = await world.tokenStands(token);
      expect(check.valid).toBe(false);
      expect(check.reasons.join()).toMatch(/release 1\.0\.0 is no longer accepted/);
    }
    const straggler = await world.spawn(A, 1)[0]!.attest();
    expect(straggler.appraisal.status).toBe('contraindicated');
    expect(straggler.appraisal.reasons.map((r) => r.code)).toEqual(['no-matching-release', 'release-not-accepted']);
    expect(statuses(await world.attestAll(fleet.slice(0, 100)))).toEqual({ affirming: 100 });

    const transitions = (await world.ledger()).filter((e) => e.type.startsWith('rollout.') || (e.type === 'policy.version-created' && e.actor === 'system:rollout-driver') || e.type === 'policy.version-created');
    expect(transitions.map((e) => `${e.type} ${e.actor}`)).toEqual([
      'policy.version-created member:admin',
      'rollout.started member:admin',
      'policy.version-created member:admin',
      'rollout.advanced system:rollout-driver',
      'rollout.advanced system:rollout-driver',
      'rollout.advanced system:rollout-driver',
      'rollout.completed system:rollout-driver',
      'policy.version-created system:rollout-driver',
    ]);
    const releases = (await world.app.inject({ method: 'GET', url: `/v1/workloads/${encodeURIComponent(WORKLOAD)}/releases` })).json() as { releases: { version: string; status: string }[] };
    expect(releases.releases.map((r) => [r.version, r.status])).toEqual([
      [A.version, 'retired'],
      [B.version, 'accepted'],
    ]);
    await world.auditVerifies();
  }, 240_000);

  it('2. rollback: B instances failing their gate in wave 2 roll the rollout back; B denied, A accepted, floor unchanged', async () => {
    const world = new World(fixture());
    const { clock } = fixture();
    await world.seed();
    // 100 instances: 90 stay on A, 10 are replaced by wave 1's B instances.
    const aFleet = world.spawn(A, 90);
    await world.attestAll(aFleet);
    const started = await world.post('/rollout', { to: B.version, waves: [10, 50, 100], gate: { minAffirming: [9, 45, 90], maxContraindicatedPercent: 5, minSoak: '5m' }, raiseFloor: true, reason: 'upgrade' });
    expect(started.statusCode, started.body).toBe(201);

    const wave1 = world.spawn(B, 10);
    expect(statuses(await world.attestAll(wave1))).toEqual({ affirming: 10 });
    clock.advance(5 * MINUTE);
    await world.attestAll(wave1);
    expect((await world.tick())[0]?.transition?.action).toBe('advance');

    // Wave 2: 40 more B instances, 8 of them broken (wrong trusted roots).
    const wave2 = [...wave1, ...world.spawn(B, 32), ...world.spawn(BROKEN_B, 8)];
    const results = await world.attestAll(wave2);
    expect(statuses(results)).toEqual({ affirming: 42, contraindicated: 8 });
    expect(results.find((r) => r.appraisal.status === 'contraindicated')?.appraisal).toMatchObject({ release: { version: B.version }, reasons: [{ code: 'config-mismatch' }] });
    const status = await world.status();
    expect(status.rollout?.evaluation?.verdict).toBe('fail');

    const [report] = await world.tick();
    expect(report?.transition?.action).toBe('rollback');
    expect(report?.transition?.rollout.outcome).toMatchObject({ trigger: 'gate', actor: 'system:rollout-driver', reason: expect.stringMatching(/gate of wave 2 failed: .*max-contraindicated 16% \(8 of 50\)/) });

    const policy = await world.policy();
    expect(policy.accepted.map((a) => a.version)).toEqual([A.version]);
    expect(policy.securityVersionFloor).toBe(0);
    expect(statuses(await world.attestAll(wave1))).toEqual({ contraindicated: 10 });
    expect(statuses(await world.attestAll(aFleet))).toEqual({ affirming: 90 });
    // B may be tried again (a fixed build would be a new release; B itself is not retired).
    const releases = (await world.app.inject({ method: 'GET', url: `/v1/workloads/${encodeURIComponent(WORKLOAD)}/releases` })).json() as { releases: { version: string; status: string }[] };
    expect(releases.releases.find((r) => r.version === B.version)?.status).toBe('registered');
    // Nothing further happens on later ticks.
    clock.advance(60 * MINUTE);
    expect(await world.tick()).toEqual([]);
    await world.auditVerifies();
  });

  it('3. deadline: A revoked with a deadline gets warning before, contraindicated after, then leaves the policy', async () => {
    const world = new World(fixture());
    const { clock } = fixture();
    await world.seed();
    const instance = world.spawn(A, 1)[0]!;
    const deadline = new Date(clock().getTime() + 60 * MINUTE).toISOString();
    const revoked = await world.post(`/releases/${A.version}/revoke`, { reason: 'CVE-2026-0001 in the TLS stack', deadline });
    expect(revoked.statusCode, revoked.body).toBe(200);

    const before = await instance.attest();
    expect(before.appraisal.status).toBe('warning');
    expect(before.appraisal.reasons).toEqual([{ code: 'release-deadline', severity: 'warning', message: `release 1.0.0 is accepted only until ${deadline}: revoked: CVE-2026-0001 in the TLS stack` }]);
    expect((await world.tokenStands(before.token)).valid).toBe(true);
    const compliance = (await world.app.inject({ method: 'GET', url: `/v1/workloads/${encodeURIComponent(WORKLOAD)}/fleet/compliance` })).json() as { outstanding: number; groups: { release: string; standing: string; secondsLeft: number; instances: unknown[] }[] };
    expect(compliance).toMatchObject({ outstanding: 1, groups: [{ release: A.version, standing: 'revoked', secondsLeft: 3600, instances: [{ release: A.version }] }] });

    clock.advance(60 * MINUTE);
    const after = await instance.attest();
    expect(after.appraisal.status).toBe('contraindicated');
    expect(after.appraisal.reasons.map((r) => r.code)).toEqual(['release-deadline-passed']);
    expect((await world.tokenStands(before.token)).reasons.join()).toMatch(/accepted only until/);

    const [report] = await world.tick();
    expect(report?.expired).toEqual([A.version]);
    expect((await world.policy()).accepted).toEqual([]);
    expect((await instance.attest()).appraisal.reasons.map((r) => r.code)).toEqual(['no-matching-release', 'release-not-accepted']);
    await world.auditVerifies();
  });

  it('4. a release removed by a completed rollout cannot be accepted again, nor rolled back to: refused and ledgered', async () => {
    const world = new World(fixture());
    await world.seed();
    expect((await world.post('/rollout', { to: B.version, reason: 'upgrade' })).statusCode).toBe(201);
    expect((await world.post('/rollout/complete', { reason: 'all replaced' })).statusCode).toBe(200);

    const readmit = await world.post('/policy', { accept: [A.version], reason: 'go back' });
    expectProblem(readmit, 422, 'readmission-refused');
    const downgrade = await world.post('/rollout', { to: A.version, reason: 'go back' });
    expectProblem(downgrade, 422, 'downgrade-refused');
    const refusals = await world.ledger('policy.change-refused');
    expect(refusals.map((e) => [e.actor, (e.payload as { command: string; type: string }).command, (e.payload as { type: string }).type])).toEqual([
      ['member:admin', 'policy.update', 'readmission-refused'],
      ['member:admin', 'rollout.start', 'downgrade-refused'],
    ]);
    expect((await world.policy()).accepted.map((a) => a.version)).toEqual([B.version]);
  });

  it('manual steps: a pending gate may be advanced by a person, a failed one never; a rollback always goes through', async () => {
    const world = new World(fixture());
    await world.seed();
    expect((await world.post('/rollout', { to: B.version, waves: [50, 100], gate: { minAffirming: 5, maxContraindicatedPercent: 0 }, reason: 'upgrade' })).statusCode).toBe(201);
    expectProblem(await world.post('/rollout', { to: B.version, reason: 'again' }), 409, 'conflict');
    expectProblem(await world.post('/rollout/advance', { wave: 2 }), 409, 'conflict');
    const advanced = await world.post('/rollout/advance', { wave: 1, reason: 'canary looks fine' });
    expect(advanced.statusCode, advanced.body).toBe(200);
    expect(advanced.json()).toMatchObject({ rollout: { wave: 2, wavePercent: 100, evaluation: { verdict: 'pending' } } });
    // Hand edits of the rollout's releases are refused while it runs.
    expectProblem(await world.post('/policy', { remove: [A.version], reason: 'early' }), 409, 'conflict');

    await world.attestAll(world.spawn(BROKEN_B, 1));
    expectProblem(await world.post('/rollout/advance', {}), 409, 'conflict');
    expectProblem(await world.post('/rollout/complete', { reason: 'push on' }), 409, 'conflict');
    const rolledBack = await world.post('/rollout/rollback', { reason: 'broken build' });
    expect(rolledBack.statusCode, rolledBack.body).toBe(200);
    expect(rolledBack.json()).toMatchObject({ rollout: { status: 'rolled-back', outcome: { trigger: 'manual', actor: 'member:admin', reason: 'broken build' } }, policy: { accepted: [{ version: A.version }] } });
    expectProblem(await world.post('/rollout/rollback', { reason: 'twice' }), 404, 'not-found');
    const history = (await world.app.inject({ method: 'GET', url: `/v1/workloads/${encodeURIComponent(WORKLOAD)}/rollouts` })).json() as { rollouts: { number: number; status: string }[] };
    expect(history.rollouts.map((r) => [r.number, r.status])).toEqual([[1, 'rolled-back']]);
  });

  it('an enforced rollout deadline warns A instances, then completes the rollout when it passes', async () => {
    const world = new World(fixture());
    const { clock } = fixture();
    await world.seed();
    const [a] = world.spawn(A, 1);
    const deadline = new Date(clock().getTime() + 24 * 60 * MINUTE).toISOString();
    expect((await world.post('/rollout', { to: B.version, waves: [10, 100], deadline, reason: 'mandatory patch' })).statusCode).toBe(201);
    expect((await a!.attest()).appraisal.reasons.map((r) => r.code)).toEqual(['release-deadline']);
    clock.advance(24 * 60 * MINUTE);
    const [report] = await world.tick();
    expect(report?.transition).toMatchObject({ action: 'complete', rollout: { status: 'completed', outcome: { trigger: 'deadline' } } });
    expect((await world.policy()).accepted.map((e) => e.version)).toEqual([B.version]);
    expect((await a!.attest()).appraisal.status).toBe('contraindicated');
  });

  it('a health signal gates a wave: unhealthy rolls back even while other conditions wait', async () => {
    const world = new World(fixture());
    await world.seed();
    expect((await world.post('/rollout', { to: B.version, waves: [10, 100], gate: { minAffirming: 100, health: { source: 'prometheus', maxAge: '5m' } }, reason: 'upgrade' })).statusCode).toBe(201);
    expect((await world.post('/health', { source: 'prometheus', healthy: true, detail: 'p99 fine' })).statusCode).toBe(201);
    expect(await world.tick()).toEqual([]);
    expect((await world.post('/health', { source: 'prometheus', healthy: false, detail: 'error rate 12%' })).statusCode).toBe(201);
    const [report] = await world.tick();
    expect(report?.transition?.rollout.outcome?.reason).toMatch(/health unhealthy 0s ago: error rate 12%/);
  });
});

describe('[postgres] rollouts on two replicas of one database', () => {
  it('race to start, advance and roll back: each transition happens exactly once', async () => {
    const { postgresBackend } = await import('../store/backends.js');
    const { createTestReplica, createTestServer, manualClock } = await import('../support/control-plane.js');
    const instance = await postgresBackend.create();
    try {
      const clock = manualClock();
      const primary = await createTestServer(instance.store, clock, VERIFIERS);
      const replica = await createTestReplica(await instance.open(), primary, clock, VERIFIERS);
      try {
        const world = new World({ server: primary, clock, instance });
        await world.seed();
        const path = `/v1/workloads/${encodeURIComponent(WORKLOAD)}/rollout`;
        const starts = await Promise.all([primary, replica, primary, replica].map((server, i) => server.signed('POST', path, { to: B.version, waves: [50, 100], reason: `race ${i}` })));
        expect(starts.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409]);
        const advances = await Promise.all([primary, replica, primary, replica].map((server) => server.signed('POST', `${path}/advance`, { wave: 1 })));
        expect(advances.map((r) => r.statusCode).sort()).toEqual([200, 409, 409, 409]);
        const rollbacks = await Promise.all([primary, replica].map((server) => server.signed('POST', `${path}/rollback`, { reason: 'race' })));
        expect(rollbacks.map((r) => r.statusCode).sort()).toEqual([200, 404]);
        const types = (await world.ledger()).map((e) => e.type).filter((t) => t.startsWith('rollout.'));
        expect(types).toEqual(['rollout.started', 'rollout.advanced', 'rollout.rolled-back']);
        await world.auditVerifies();
      } finally {
        await replica.app.close();
        await primary.app.close();
      }
    } finally {
      await instance.destroy();
    }
  });
});
