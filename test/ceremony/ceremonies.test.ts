/**
 * Ceremonies over HTTP, on both backends (issue acceptance): M-of-N approval by members'
 * own signatures, self-approval, expiry, replayed and foreign signatures, invalidation by
 * a change of the trust base, vetoes, break-glass that reverts by itself, and the audit
 * report that shows it all.
 */
import { expect, it } from 'vitest';
import { RolloutDriver } from '../../src/app/rollout-driver.js';
import { signDecision } from '../../src/ceremony/decision-signature.js';
import { decisionMessage, readDecisionMessage } from '../../src/core/proposal.js';
import { describeEachBackend } from '../store/backends.js';
import { newMember, type TestMember } from '../support/control-plane.js';
import { WORKLOAD, WORKLOAD_PATH, entriesSince, expectProblem, get, seedWorkload, treeSize, useTestServer, type ServerFixture } from '../server/support.js';

interface PendingReply {
  status: 'pending';
  proposal: { id: string; approvals: string[]; needed: number; expiresAt: string };
}

async function exported(fixture: ServerFixture, id: string, decision: 'approve' | 'reject' = 'approve'): Promise<Uint8Array> {
  const res = await get(fixture.server.app, `/v1/proposals/${id}/message?decision=${decision}`);
  expect(res.statusCode, res.body).toBe(200);
  return new Uint8Array(res.rawPayload);
}

async function vote(fixture: ServerFixture, id: string, member: TestMember, decision: 'approve' | 'reject' = 'approve', bytes?: Uint8Array) {
  const message = bytes ?? (await exported(fixture, id, decision));
  const signature = Buffer.from(signDecision({ alg: member.alg, key: member.privateKey }, message)).toString('base64');
  return fixture.server.app.inject({ method: 'POST', url: `/v1/proposals/${id}/votes`, payload: { member: member.name, decision, signature } });
}

describeEachBackend('ceremonies', (backend) => {
  const fx = useTestServer(backend);

  /** Three admins (admin, bob, carol, P-256 for carol) and a 2-of-3 rule for policy changes. */
  async function twoOfThree(options: { proposerCounts?: boolean; expiry?: string; vetoRoles?: string[] } = {}) {
    const fixture = fx();
    const { server } = fixture;
    await seedWorkload(server);
    const bob = newMember('bob');
    const carol = newMember('carol', 'ecdsa-p256-sha256');
    const eve = newMember('eve');
    for (const [member, roles] of [[bob, ['admin']], [carol, ['admin']], [eve, ['auditor', 'security']]] as const) {
      const res = await server.signed('POST', '/v1/members', { name: member.name, publicKey: member.publicKey, roles });
      expect(res.statusCode, res.body).toBe(201);
    }
    const rule = await server.signed('POST', '/v1/constitution/policy', { threshold: 2, role: 'admin', proposerCounts: options.proposerCounts ?? false, ...(options.expiry ? { expiry: options.expiry } : {}), ...(options.vetoRoles ? { vetoRoles: options.vetoRoles } : {}) });
    expect(rule.statusCode, rule.body).toBe(200);
    return { fixture, server, bob, carol, eve };
  }

  async function propose(fixture: ServerFixture, body: unknown = { accept: ['1.0.0'], reason: 'first release' }): Promise<PendingReply['proposal']> {
    const res = await fixture.server.signed('POST', `${WORKLOAD_PATH}/policy`, body);
    expect(res.statusCode, res.body).toBe(202);
    const reply = res.json() as PendingReply;
    expect(reply.status).toBe('pending');
    return reply.proposal;
  }

  it('2 of 3: a change waits for a second signature, then runs exactly as proposed, and the ledger says who approved it', async () => {
    const { fixture, server, bob, carol } = await twoOfThree();
    const proposal = await propose(fixture);
    expect(proposal).toMatchObject({ approvals: [], needed: 2 });
    expectProblem(await get(server.app, `${WORKLOAD_PATH}/policy`), 404, 'not-found');

    const first = await vote(fixture, proposal.id, bob);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json()).toMatchObject({ status: 'open', approvals: ['bob'], needed: 2 });
    expectProblem(await get(server.app, `${WORKLOAD_PATH}/policy`), 404, 'not-found');

    const before = await treeSize(server.app);
    const second = await vote(fixture, proposal.id, carol);
    expect(second.statusCode, second.body).toBe(200);
    expect(second.json()).toMatchObject({ status: 'executed', approvals: ['bob', 'carol'], result: { document: { accepted: [{ version: '1.0.0' }], actor: 'member:admin' } } });
    const added = await entriesSince(server.app, before);
    expect(added.map((e) => [e.type, e.actor])).toEqual([
      ['proposal.voted', 'member:carol'],
      ['change.authorized', 'member:admin'],
      ['policy.version-created', 'member:admin'],
    ]);
    expect(added[1]!.payload).toMatchObject({ command: 'policy.update', action: 'policy', proposer: 'admin', approvers: ['bob', 'carol'], proposal: proposal.id, rule: { threshold: 2, role: 'admin' }, produced: 1 });
    const policy = (await get(server.app, `${WORKLOAD_PATH}/policy`)).json() as { id: string; accepted: { version: string }[] };
    expect(policy.accepted.map((a) => a.version)).toEqual(['1.0.0']);

    const who = (await get(server.app, `/v1/audit/who-approved?policy=${policy.id.slice(0, 12)}`)).json() as { authorization: { approvers: string[]; proposal: string } };
    expect(who.authorization).toMatchObject({ approvers: ['bob', 'carol'], proposal: proposal.id });
    const shown = (await get(server.app, `/v1/proposals/${proposal.id.slice(0, 10)}`)).json() as { status: string; votes: { member: string; signature: string }[] };
    expect(shown.status).toBe('executed');
    expect(shown.votes.map((v) => v.member).sort()).toEqual(['bob', 'carol']);
    // A third approval after execution changes nothing.
    expectProblem(await vote(fixture, proposal.id, server.admin), 409, 'conflict');
  });

  it('refuses self-approval where the rule forbids it, counts it where it allows it', async () => {
    const { fixture, bob } = await twoOfThree();
    const proposal = await propose(fixture);
    const before = await treeSize(fixture.server.app);
    const self = await vote(fixture, proposal.id, fixture.server.admin);
    expect(expectProblem(self, 403, 'forbidden').detail).toMatch(/cannot approve their own proposal/);
    // A refused vote changes nothing and writes nothing: anyone could replay it.
    expect(await entriesSince(fixture.server.app, before)).toEqual([]);
    expect((await vote(fixture, proposal.id, bob)).json()).toMatchObject({ status: 'open', approvals: ['bob'] });

    const counting = await fixture.server.signed('POST', '/v1/constitution/release', { threshold: 2, role: 'admin', proposerCounts: true });
    expect(counting.statusCode).toBe(200);
    const release = await fixture.server.signed('POST', `${WORKLOAD_PATH}/releases`, { version: '3.0.0', class: 'sim', measurements: [`sha256:${'e'.repeat(64)}`] });
    expect(release.statusCode, release.body).toBe(202);
    expect((release.json() as PendingReply).proposal.approvals).toEqual(['admin']);
    expect((await vote(fixture, (release.json() as PendingReply).proposal.id, bob)).json()).toMatchObject({ status: 'executed' });
    // A proposer whose request counted may still withdraw it.
    const withdrawn = await fixture.server.signed('POST', `${WORKLOAD_PATH}/releases`, { version: '3.1.0', class: 'sim', measurements: [`sha256:${'d'.repeat(64)}`] });
    const id = (withdrawn.json() as PendingReply).proposal.id;
    expect((await vote(fixture, id, fixture.server.admin, 'reject')).json()).toMatchObject({ status: 'rejected', reason: 'withdrawn by its proposer admin' });
    expect(((await get(fixture.server.app, `/v1/proposals/${id}`)).json() as { votes: { member: string; decision: string }[] }).votes).toEqual([expect.objectContaining({ member: 'admin', decision: 'reject' })]);
  });

  it('refuses at once, without a proposal, a change that would be refused now', async () => {
    const { fixture } = await twoOfThree();
    const before = await treeSize(fixture.server.app);
    const refused = await fixture.server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['9.9.9'], reason: 'no such release' });
    expect(expectProblem(refused, 422).detail).toMatch(/release 9\.9\.9 is not registered/);
    expect((await entriesSince(fixture.server.app, before)).map((e) => e.type)).not.toContain('proposal.created');
    expect(((await get(fixture.server.app, '/v1/proposals')).json() as { proposals: unknown[] }).proposals).toEqual([]);
  });

  it('a proposal past its expiry cannot execute', async () => {
    const { fixture, bob, carol } = await twoOfThree({ expiry: '1h' });
    const proposal = await propose(fixture);
    expect((await vote(fixture, proposal.id, bob)).statusCode).toBe(200);
    fixture.clock.advance(3600_000);
    expect(expectProblem(await vote(fixture, proposal.id, carol), 409, 'conflict').detail).toMatch(/expired at/);
    const listed = (await get(fixture.server.app, '/v1/proposals')).json() as { proposals: { id: string; status: string }[] };
    expect(listed.proposals.find((p) => p.id === proposal.id)?.status).toBe('expired');
    const ids = async (status: string) => ((await get(fixture.server.app, `/v1/proposals?status=${status}`)).json() as { proposals: { id: string }[] }).proposals.map((p) => p.id);
    expect(await ids('open')).toEqual([]);
    expect(await ids('expired')).toEqual([proposal.id]);
    const report = (await get(fixture.server.app, '/v1/audit/report?since=2000-01-01T00:00:00Z')).json() as { unexecuted: { id: string; outcome: string; reason: string }[] };
    expect(report.unexecuted).toEqual([expect.objectContaining({ id: proposal.id, outcome: 'expired', reason: expect.stringMatching(/^expired at /) as unknown })]);
    // Expired, it no longer blocks a new proposal for the same policy.
    await propose(fixture);
  });

  it('rejects a replayed signature, a signature over another proposal, and a member\'s signature claimed by another', async () => {
    const { fixture, bob, carol } = await twoOfThree();
    const one = await propose(fixture);
    expect((await vote(fixture, one.id, bob)).statusCode).toBe(200);
    const message = await exported(fixture, one.id);
    const bobsSignature = Buffer.from(signDecision({ alg: bob.alg, key: bob.privateKey }, message)).toString('base64');
    // The same decision again: a replay.
    expectProblem(await fixture.server.app.inject({ method: 'POST', url: `/v1/proposals/${one.id}/votes`, payload: { member: 'bob', decision: 'approve', signature: bobsSignature } }), 409, 'conflict');
    // Bob's signature presented as Carol's.
    expectProblem(await fixture.server.app.inject({ method: 'POST', url: `/v1/proposals/${one.id}/votes`, payload: { member: 'carol', decision: 'approve', signature: bobsSignature } }), 401, 'signature-invalid');
    // An approval of another proposal's content, or of the reject message.
    const other = await fixture.server.signed('POST', `${WORKLOAD_PATH}/releases`, { version: '4.0.0', class: 'sim', measurements: [`sha256:${'f'.repeat(64)}`] });
    expect(other.statusCode).toBe(201);
    const foreign = await vote(fixture, one.id, carol, 'approve', new TextEncoder().encode('{"purpose":"something else"}'));
    expectProblem(foreign, 401, 'signature-invalid');
    expectProblem(await vote(fixture, one.id, carol, 'approve', await exported(fixture, one.id, 'reject')), 401, 'signature-invalid');
    // None of them wrote to the ledger (the route is open to anyone), not even under a name no member has;
    // the proposal still waits for a genuine second approval.
    const mallory = await fixture.server.app.inject({ method: 'POST', url: `/v1/proposals/${one.id}/votes`, payload: { member: 'mallory', decision: 'approve', signature: bobsSignature } });
    expectProblem(mallory, 401, 'signature-invalid');
    const denied = await (await import('../server/support.js')).entries(fixture.server.app, 'type=authorization.denied');
    expect(denied).toEqual([]);
    expect((await vote(fixture, one.id, carol)).json()).toMatchObject({ status: 'executed' });
  });

  it('a change of members invalidates every other open proposal; a veto closes one', async () => {
    const { fixture, server, bob, eve } = await twoOfThree({ vetoRoles: ['security'] });
    const stale = await propose(fixture);
    const added = await server.signed('POST', '/v1/members', { name: 'frank', publicKey: newMember('frank').publicKey, roles: ['auditor'] });
    expect(added.statusCode).toBe(201);
    const shown = (await get(server.app, `/v1/proposals/${stale.id}`)).json() as { status: string; closedReason: string };
    expect(shown).toMatchObject({ status: 'invalidated', closedReason: expect.stringMatching(/trust base changed \(member\.add\)/) });
    expectProblem(await vote(fixture, stale.id, bob), 409, 'conflict');

    const fresh = await propose(fixture);
    // Bob could approve it: his rejection counts, but one is not the two the rule needs.
    expect((await vote(fixture, fresh.id, bob, 'reject')).json()).toMatchObject({ status: 'open', approvals: [] });
    const veto = await vote(fixture, fresh.id, eve, 'reject');
    expect(veto.json()).toMatchObject({ status: 'rejected', reason: 'vetoed by eve (security)' });
    // One open proposal per target: while one is open, a second is refused.
    const third = await propose(fixture);
    expectProblem(await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['2.0.0'], reason: 'another' }), 409, 'conflict');
    expect((await vote(fixture, third.id, fixture.server.admin, 'reject')).json()).toMatchObject({ status: 'rejected', reason: 'withdrawn by its proposer admin' });
  });

  it('never lets a rule or a removal lock the tenant out', async () => {
    const { server } = await twoOfThree();
    expect(expectProblem(await server.signed('POST', '/v1/constitution/member', { threshold: 4, role: 'admin' }), 409, 'conflict').detail).toMatch(/lock the tenant out: .*member/);
    // Three admins, and a proposer who does not count: three approvals besides the proposer are out of reach.
    expect(expectProblem(await server.signed('POST', '/v1/constitution/constitution', { threshold: 3, role: 'admin' }), 409, 'conflict').detail).toMatch(/lock the tenant out: .*constitution/);
    // The policy rule needs the proposer and two other admins: removing any of the three would make policy changes impossible.
    expect(expectProblem(await server.signed('DELETE', '/v1/members/bob'), 409, 'conflict').detail).toMatch(/lock the tenant out: .*policy/);
    expect((await server.signed('POST', '/v1/constitution/policy', { threshold: 2, role: 'admin', proposerCounts: true })).statusCode).toBe(200);
    expect((await server.signed('DELETE', '/v1/members/bob')).statusCode).toBe(200);
    expect(expectProblem(await server.signed('DELETE', '/v1/members/carol'), 409, 'conflict').detail).toMatch(/lock the tenant out: .*policy/);
  });

  it('the exported decision is canonical JSON carrying the whole proposal, and any edit is caught', async () => {
    const { fixture } = await twoOfThree();
    const proposal = await propose(fixture);
    const bytes = await exported(fixture, proposal.id);
    const read = readDecisionMessage(bytes);
    expect(read).toMatchObject({ id: proposal.id, decision: 'approve', document: { command: 'policy.update', proposer: 'admin', args: { workload: WORKLOAD, update: { accept: ['1.0.0'] } } } });
    expect(decisionMessage(read, 'approve')).toEqual(bytes);
    const edited = new TextDecoder().decode(bytes).replace('"1.0.0"', '"2.0.0"');
    expect(() => readDecisionMessage(new TextEncoder().encode(edited))).toThrow(/altered/);
  });

  it('break-glass re-admits a removed release for its time box, then it leaves by itself unless ratified, and the report flags it', async () => {
    const fixture = fx();
    const { server, clock } = fixture;
    await seedWorkload(server);
    const driver = new RolloutDriver(server.cp, server.tenant);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'first' })).statusCode).toBe(201);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/rollout`, { to: '2.0.0', reason: 'upgrade' })).statusCode).toBe(201);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/rollout/complete`, { reason: 'done' })).statusCode).toBe(200);
    expectProblem(await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'back' }), 422, 'readmission-refused');

    // A release the policy accepts for good cannot be time-boxed (and so removed) by the smaller quorum.
    expectProblem(await server.signed('POST', `${WORKLOAD_PATH}/break-glass`, { accept: ['2.0.0'], reason: 'no' }), 409, 'conflict');
    const opened = await server.signed('POST', `${WORKLOAD_PATH}/break-glass`, { accept: ['1.0.0'], reason: 'incident 42: 2.0.0 corrupts data', duration: '2h' });
    expect(opened.statusCode, opened.body).toBe(201);
    const until = new Date(clock().getTime() + 2 * 3600_000).toISOString();
    expect((opened.json() as { accepted: unknown[] }).accepted).toContainEqual({ version: '1.0.0', digest: expect.any(String), until, why: 'break-glass: incident 42: 2.0.0 corrupts data' });
    clock.advance(3600_000);
    expect(await driver.tick()).toEqual([]);
    clock.advance(3600_000);
    const [reverted] = await driver.tick();
    expect(reverted).toMatchObject({ workload: WORKLOAD, expired: ['1.0.0'] });
    const policy = (await get(server.app, `${WORKLOAD_PATH}/policy`)).json() as { accepted: { version: string }[] };
    expect(policy.accepted.map((a) => a.version)).toEqual(['2.0.0']);
    expectProblem(await server.signed('POST', `${WORKLOAD_PATH}/break-glass/ratify`, { versions: ['1.0.0'], reason: 'too late' }), 422, 'invalid-policy');

    // Opened again and ratified this time: it stays.
    expect((await server.signed('POST', `${WORKLOAD_PATH}/break-glass`, { accept: ['1.0.0'], reason: 'incident 43' })).statusCode).toBe(201);
    const ratified = await server.signed('POST', `${WORKLOAD_PATH}/break-glass/ratify`, { versions: ['1.0.0'], reason: 'post-mortem reviewed' });
    expect(ratified.statusCode, ratified.body).toBe(200);
    clock.advance(2 * 3600_000);
    expect(await driver.tick()).toEqual([]);

    const report = (await get(server.app, '/v1/audit/report?since=2000-01-01T00:00:00Z')).json() as { breakGlass: number; changes: { command: string; breakGlass: boolean; approvers: string[]; effects: string[] }[]; automatic: { actor: string; effect: string }[] };
    expect(report.breakGlass).toBe(2);
    expect(report.changes.filter((c) => c.breakGlass).map((c) => c.effects[0])).toEqual([expect.stringMatching(/^BREAK-GLASS: 1\.0\.0 accepted until .*incident 42/), expect.stringMatching(/^BREAK-GLASS: 1\.0\.0 accepted until .*incident 43/)]);
    expect(report.automatic.map((a) => [a.actor, a.effect])).toContainEqual(['system:rollout-driver', expect.stringMatching(/deadline passed for 1\.0\.0/)]);
    const markdown = await get(server.app, '/v1/audit/report?since=2000-01-01T00:00:00Z&format=markdown');
    expect(markdown.headers['content-type']).toMatch(/^text\/markdown/);
    expect(markdown.body).toMatch(/^### ⚠ BREAK-GLASS: policy\.break-glass on payments\/ingest/m);
    expect(markdown.body).toMatch(/^- rule: 1 of admin, proposer counts$/m);
  });

  it('break-glass may use a revoked release for its time box, but cannot ratify it: revocation is final', async () => {
    const { server } = fx();
    await seedWorkload(server);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0', '2.0.0'], reason: 'both' })).statusCode).toBe(201);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/releases/1.0.0/revoke`, { reason: 'CVE-2026-0001' })).statusCode).toBe(200);
    expectProblem(await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'back' }), 422, 'readmission-refused');
    const opened = await server.signed('POST', `${WORKLOAD_PATH}/break-glass`, { accept: ['1.0.0'], reason: 'incident 44: 2.0.0 down' });
    expect(opened.statusCode, opened.body).toBe(201);
    const refused = expectProblem(await server.signed('POST', `${WORKLOAD_PATH}/break-glass/ratify`, { versions: ['1.0.0'], reason: 'keep it' }), 422, 'invalid-policy');
    expect(refused.detail).toBe('release 1.0.0 is revoked, and revocation is final: its break-glass lasts only its time box; register and roll out a fixed release');
    const policy = (await get(server.app, `${WORKLOAD_PATH}/policy`)).json() as { accepted: { version: string; until?: string }[] };
    expect(policy.accepted.find((a) => a.version === '1.0.0')?.until).toEqual(expect.any(String));
  });
});
