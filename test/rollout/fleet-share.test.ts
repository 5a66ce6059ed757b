/**
 * Issue 13: a rollout's waves are shares of the fleet, so moving past a wave — or
 * completing — needs that share of the live instances (A ∪ B, seen within the live
 * window) on B. A person may force it with a reason (ledgered, flagged in the audit
 * report); the driver never does. Rollback is never held back. `fleet status` shows
 * instances on a release the policy has since dropped by their standing now.
 */
import { describe, expect, it } from 'vitest';
import { checkFleet, DEFAULT_LIVE_WINDOW_SECONDS, parseGate, type FleetShare, type Rollout } from '../../src/core/rollout.js';
import { describeEachBackend } from '../store/backends.js';
import { WORKLOAD_PATH, expectProblem, useTestServer } from '../server/support.js';
import { A, B, VERIFIERS, World } from './world.js';

const MINUTE = 60_000;

function rollout(waves: number[], wave: number): Rollout {
  const document = { tenant: 't', workload: 'w', number: 1, from: ['1.0.0'], to: '2.0.0', waves, gate: null, deadline: null, onDeadline: 'enforce' as const, raiseFloor: false, reason: 'r', actor: 'member:a', startedAt: '2026-01-01T00:00:00.000Z' };
  return { document, status: 'active', wave, waveStartedAt: document.startedAt };
}
const share = (onTarget: number, live: number): FleetShare => ({ onTarget, live, liveWindowSeconds: DEFAULT_LIVE_WINDOW_SECONDS });

describe('checkFleet (pure)', () => {
  it('names the observed share and what the wave needs', () => {
    const check = checkFleet(rollout([10, 50, 90, 100], 3), { kind: 'complete' }, share(43, 94));
    expect(check).toMatchObject({ met: false, requiredPercent: 100, onTarget: 43, live: 94 });
    expect(check.detail).toBe('43 of 94 live instances (45 %) are on 2.0.0; wave 4 needs 100 %');
  });

  it('measures an advance against the wave being left, a completion against the whole fleet', () => {
    expect(checkFleet(rollout([10, 50, 100], 0), { kind: 'advance', toWave: 1 }, share(10, 100)).met).toBe(true);
    expect(checkFleet(rollout([10, 50, 100], 0), { kind: 'advance', toWave: 1 }, share(9, 100)).met).toBe(false);
    const early = checkFleet(rollout([10, 50, 100], 0), { kind: 'complete' }, share(60, 100));
    expect(early).toMatchObject({ met: false, requiredPercent: 100 });
    expect(early.detail).toMatch(/completion needs 100 %$/);
    // Never rounded up into a pass: 999 of 1,000 is not the whole fleet.
    expect(checkFleet(rollout([100], 0), { kind: 'complete' }, share(999, 1000))).toMatchObject({ met: false, detail: expect.stringMatching(/\(99 %\)/) });
  });

  it('with no live instance there is nobody to move, and nobody to lose standing', () => {
    expect(checkFleet(rollout([100], 0), { kind: 'complete' }, share(0, 0))).toMatchObject({ met: true, detail: expect.stringMatching(/no live instance/) });
  });

  it('takes the live window from the gates file, at least a second', () => {
    expect(parseGate({ liveWindow: '15m' }, 1)).toMatchObject({ liveWindowSeconds: 900 });
    expect(() => parseGate({ liveWindow: '0s' }, 1)).toThrow(/gate.liveWindow/);
  });
});

describeEachBackend('rollout waves follow the fleet', (backend) => {
  const fixture = useTestServer(backend, VERIFIERS);

  /** 27 instances on A, 23 on B: 46 % of the live fleet. */
  async function halfway(world: World, body: Record<string, unknown> = {}): Promise<void> {
    await world.seed();
    await world.attestAll(world.spawn(A, 27));
    expect((await world.post('/rollout', { to: B.version, reason: 'upgrade', ...body })).statusCode).toBe(201);
    await world.attestAll(world.spawn(B, 23));
  }

  it('refuses to complete with 46 % of the live fleet on B, naming the share; completes at 100 %', async () => {
    const world = new World(fixture());
    const { clock } = fixture();
    await halfway(world);
    const refused = expectProblem(await world.post('/rollout/complete', { reason: 'done' }), 409, 'conflict');
    expect(refused.detail).toMatch(/^23 of 50 live instances \(46 %\) are on 1\.1\.0; wave 1 needs 100 %/);
    expect((await world.policy()).accepted.map((a) => a.version)).toEqual([A.version, B.version]);

    // The A instances are gone: past the live window only the B instances that still attest count.
    clock.advance(DEFAULT_LIVE_WINDOW_SECONDS * 1000 + MINUTE);
    const bFleet = world.spawn(B, 5);
    await world.attestAll(bFleet);
    const completed = await world.post('/rollout/complete', { reason: 'done' });
    expect(completed.statusCode, completed.body).toBe(200);
    const [entry] = await world.ledger('rollout.completed');
    expect(entry?.payload).toMatchObject({ fleet: { onTarget: 5, live: 5, requiredPercent: 100, met: true } });
    expect(entry?.payload).not.toHaveProperty('forced');
  });

  it('--force with a reason goes through, ledgered as forced with the observed share, and flagged in the audit report', async () => {
    const world = new World(fixture());
    const { clock } = fixture();
    const since = clock().toISOString();
    await halfway(world);
    expectProblem(await world.post('/rollout/advance', { force: true }), 400, 'validation-failed');
    const forced = await world.post('/rollout/complete', { reason: 'CVE in A: cut over now', force: true });
    expect(forced.statusCode, forced.body).toBe(200);
    expect((await world.policy()).accepted.map((a) => a.version)).toEqual([B.version]);
    const [entry] = await world.ledger('rollout.completed');
    expect(entry?.payload).toMatchObject({ forced: true, outcome: { reason: 'CVE in A: cut over now', trigger: 'manual' }, fleet: { onTarget: 23, live: 50, requiredPercent: 100, met: false } });

    const report = await world.app.inject({ method: 'GET', url: `/v1/audit/report?since=${encodeURIComponent(since)}&format=markdown` });
    expect(report.statusCode, report.body).toBe(200);
    expect(report.body).toMatch(/FORCED past the fleet \(23 of 50 live instances \(46 %\) are on 1\.1\.0; wave 1 needs 100 %\)/);
  });

  it('the driver does not advance a wave whose gate passed while the share is short', async () => {
    const world = new World(fixture());
    const { clock } = fixture();
    await world.seed();
    const aFleet = world.spawn(A, 10);
    await world.attestAll(aFleet);
    expect((await world.post('/rollout', { to: B.version, waves: [50, 100], gate: { minAffirming: 1 }, reason: 'upgrade' })).statusCode).toBe(201);
    await world.attestAll(world.spawn(B, 4));
    expect((await world.status()).rollout?.evaluation?.verdict).toBe('pass');
    expect(await world.tick()).toEqual([]);
    expect((await world.status()).rollout?.wave).toBe(1);

    // 4 of 14 live instances are on B; six more make it 10 of 20, the wave's 50 %.
    await world.attestAll(world.spawn(B, 6));
    clock.advance(MINUTE);
    const [report] = await world.tick();
    expect(report?.transition).toMatchObject({ action: 'advance', rollout: { wave: 1 } });
    const [advanced] = await world.ledger('rollout.advanced');
    expect(advanced?.payload).toMatchObject({ trigger: 'gate', fleet: { onTarget: 10, live: 20, requiredPercent: 50, met: true } });
    // A rollback is never held back by the fleet.
    expect((await world.post('/rollout/rollback', { reason: 'changed our mind' })).statusCode).toBe(200);
  });

  it('fleet status shows instances on a release the policy dropped as no longer accepted, not affirming', async () => {
    const world = new World(fixture());
    await halfway(world);
    expect((await world.post('/rollout/complete', { reason: 'cut over', force: true })).statusCode).toBe(200);
    const res = await world.app.inject({ method: 'GET', url: `${WORKLOAD_PATH}/fleet` });
    expect(res.statusCode, res.body).toBe(200);
    expect((res.json() as { fleet: unknown[] }).fleet).toEqual([
      { release: A.version, status: 'no-longer-accepted', instances: 27 },
      { release: B.version, status: 'affirming', instances: 23 },
    ]);
    // The rollout view counts the fleet the same way.
    expect((await world.status()).fleet).toContainEqual({ release: A.version, status: 'no-longer-accepted', instances: 27 });
  });
});
