/**
 * Issue 13 over HTTP, on both backends: a change of what a workload accepts is never
 * authorised by a weaker rule than the policy class's (rollout start, advance and
 * completion, revocation, break-glass), while a rollback keeps its own rule; and a
 * proposal nobody will approve cannot squat its target (the quorum that could approve
 * it may reject it).
 */
import { expect, it } from 'vitest';
import { signDecision } from '../../src/ceremony/decision-signature.js';
import { describeEachBackend } from '../store/backends.js';
import { newMember, type TestMember } from '../support/control-plane.js';
import { WORKLOAD_PATH, entries, expectProblem, get, seedWorkload, useTestServer, type ServerFixture } from '../server/support.js';

interface Pending {
  id: string;
  approvals: string[];
  needed: number;
}

async function vote(fixture: ServerFixture, id: string, member: TestMember, decision: 'approve' | 'reject' = 'approve') {
  const message = await get(fixture.server.app, `/v1/proposals/${id}/message?decision=${decision}`);
  expect(message.statusCode, message.body).toBe(200);
  const signature = Buffer.from(signDecision({ alg: member.alg, key: member.privateKey }, new Uint8Array(message.rawPayload))).toString('base64');
  return fixture.server.app.inject({ method: 'POST', url: `/v1/proposals/${id}/votes`, payload: { member: member.name, decision, signature } });
}

describeEachBackend('changes of acceptance and the policy rule', (backend) => {
  const fx = useTestServer(backend);

  async function withMembers(members: readonly (readonly [string, readonly string[]])[]) {
    const fixture = fx();
    await seedWorkload(fixture.server);
    const made = new Map<string, TestMember>();
    for (const [name, roles] of members) {
      const member = newMember(name);
      const res = await fixture.server.signed('POST', '/v1/members', { name, publicKey: member.publicKey, roles });
      expect(res.statusCode, res.body).toBe(201);
      made.set(name, member);
    }
    return { fixture, server: fixture.server, member: (name: string) => made.get(name)! };
  }

  async function setRule(fixture: ServerFixture, action: string, rule: Record<string, unknown>): Promise<void> {
    const res = await fixture.server.signed('POST', `/v1/constitution/${action}`, rule);
    expect(res.statusCode, res.body).toBe(200);
  }

  /** A signed request by `by` (default the admin) that must become a proposal. */
  async function pending(fixture: ServerFixture, path: string, body: unknown, by?: TestMember): Promise<Pending> {
    const res = await fixture.server.signed('POST', `${WORKLOAD_PATH}${path}`, body, by);
    expect(res.statusCode, res.body).toBe(202);
    return (res.json() as { proposal: Pending }).proposal;
  }

  async function executes(fixture: ServerFixture, proposal: Pending, by: TestMember): Promise<void> {
    const res = await vote(fixture, proposal.id, by);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'executed' });
  }

  it('under 2 of admin for policy, one admin cannot start, advance or complete a rollout alone; a second admin executes it, and who-approved names both', async () => {
    const { fixture, server, member } = await withMembers([['bob', ['admin']]]);
    await setRule(fixture, 'policy', { threshold: 2, role: 'admin', proposerCounts: true });
    const bob = member('bob');

    // The workload has no policy: the rollout would make its first one.
    const start = await pending(fixture, '/rollout', { to: '1.0.0', reason: 'first' });
    expect(start).toMatchObject({ approvals: ['admin'], needed: 2 });
    expect((await get(server.app, `/v1/proposals/${start.id}`)).json()).toMatchObject({ action: 'rollout-start', rule: { threshold: 2, role: 'admin', proposerCounts: true } });
    expectProblem(await get(server.app, `${WORKLOAD_PATH}/policy`), 404, 'not-found');
    await executes(fixture, start, bob);

    const policy = (await get(server.app, `${WORKLOAD_PATH}/policy`)).json() as { id: string; accepted: { version: string }[] };
    expect(policy.accepted.map((a) => a.version)).toEqual(['1.0.0']);
    const who = (await get(server.app, `/v1/audit/who-approved?policy=${policy.id.slice(0, 16)}`)).json() as { authorization: Record<string, unknown> };
    expect(who.authorization).toMatchObject({ command: 'rollout.start', action: 'rollout-start', proposer: 'admin', approvers: ['admin', 'bob'], rule: { threshold: 2, role: 'admin' } });

    await executes(fixture, await pending(fixture, '/rollout/complete', { reason: 'done' }), bob);
    await executes(fixture, await pending(fixture, '/rollout', { to: '2.0.0', reason: 'upgrade' }), bob);
    // A manual advance completes the rollout after the last wave: its class needs the policy quorum too.
    expect(await pending(fixture, '/rollout/advance', { reason: 'next' })).toMatchObject({ approvals: ['admin'], needed: 2 });

    const authorized = await entries(server.app, 'type=change.authorized');
    const changes = authorized.map((e) => e.payload as { action: string; approvers: string[] }).filter((p) => p.action.startsWith('rollout') || p.action === 'policy');
    expect(changes.map((p) => [p.action, p.approvers])).toEqual([
      ['rollout-start', ['admin', 'bob']],
      ['rollout-complete', ['admin', 'bob']],
      ['rollout-start', ['admin', 'bob']],
    ]);
  });

  it('revocation and break-glass wait for the policy quorum; a rollback keeps its own rule and runs on one signature', async () => {
    const { fixture, server, member } = await withMembers([['bob', ['admin']]]);
    const bob = member('bob');
    expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'first' })).statusCode).toBe(201);
    await setRule(fixture, 'policy', { threshold: 2, role: 'admin', proposerCounts: true });

    const revoke = await pending(fixture, '/releases/1.0.0/revoke', { reason: 'CVE', deadline: '2100-01-01T00:00:00Z' });
    expect(revoke).toMatchObject({ approvals: ['admin'], needed: 2 });
    expect((await vote(fixture, revoke.id, fixture.server.admin, 'reject')).json()).toMatchObject({ status: 'rejected' });

    // 2.0.0 was never accepted: break-glass would admit it, which is a policy change.
    expect(await pending(fixture, '/break-glass', { accept: ['2.0.0'], reason: 'incident 7' })).toMatchObject({ approvals: ['admin'], needed: 2 });

    await executes(fixture, await pending(fixture, '/rollout', { to: '2.0.0', reason: 'upgrade' }), bob);
    const rollback = await server.signed('POST', `${WORKLOAD_PATH}/rollout/rollback`, { reason: '2.0.0 misbehaves' });
    expect(rollback.statusCode, rollback.body).toBe(200);
    const last = (await entries(server.app, 'type=change.authorized')).at(-1)!.payload;
    expect(last).toMatchObject({ action: 'rollout-rollback', approvers: ['admin'], proposal: null, rule: { threshold: 1, role: 'admin' } });
  });

  it('when the class names another role, the change needs a quorum of each: the proposal and the ledger show both', async () => {
    const { fixture, server, member } = await withMembers([['olga', ['oncall']]]);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['2.0.0'], reason: 'first' })).statusCode).toBe(201);
    await setRule(fixture, 'break-glass', { threshold: 1, role: 'oncall', proposerCounts: true, expiry: '2h' });
    const olga = member('olga');

    const glass = await pending(fixture, '/break-glass', { accept: ['1.0.0'], reason: 'incident 9' }, olga);
    expect(glass).toMatchObject({ approvals: ['olga'], needed: 2 });
    const rule = { threshold: 1, role: 'oncall', proposerCounts: true, expirySeconds: 7200, vetoRoles: [], also: [{ threshold: 1, role: 'admin', proposerCounts: true, from: 'policy' }] };
    expect((await get(server.app, `/v1/proposals/${glass.id}`)).json()).toMatchObject({ rule });
    await executes(fixture, glass, fixture.server.admin);
    const last = (await entries(server.app, 'type=change.authorized')).at(-1)!.payload;
    expect(last).toEqual(expect.objectContaining({ action: 'break-glass', proposer: 'olga', approvers: ['admin', 'olga'], rule }));
    const report = await get(server.app, '/v1/audit/report?since=2000-01-01T00:00:00Z&format=markdown');
    expect(report.body).toMatch(/^- rule: 1 of oncall, proposer counts; and 1 of admin, proposer counts \(policy rule\)$/m);
  });

  it('a proposal nobody approves cannot squat its target: as many approvers as the rule needs may reject it; others still may not', async () => {
    const { fixture, server, member } = await withMembers([
      ['bob', ['admin']],
      ['carol', ['admin']],
      ['eve', ['auditor']],
    ]);
    // One admin other than the proposer: the four-eyes rule.
    await setRule(fixture, 'policy', { threshold: 1, role: 'admin' });
    const junk = await pending(fixture, '/policy', { accept: ['2.0.0'], reason: 'junk' });
    expectProblem(await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'real' }, member('bob')), 409, 'conflict');

    expectProblem(await vote(fixture, junk.id, member('eve'), 'reject'), 403, 'forbidden');
    const rejected = await vote(fixture, junk.id, member('bob'), 'reject');
    expect(rejected.statusCode, rejected.body).toBe(200);
    expect(rejected.json()).toMatchObject({ status: 'rejected', reason: 'rejected by bob, as many as its rule needs to approve it' });

    const real = await pending(fixture, '/policy', { accept: ['1.0.0'], reason: 'real' }, member('bob'));
    await executes(fixture, real, member('carol'));
  });
});
