/**
 * Trust anchors members add (issue 6's `trust-anchors` class): a governed, ledgered
 * change that makes a class trust a root beside its shipped ones, seen by the next
 * verification, and undone by removing it.
 */
import { beforeAll, expect, it } from 'vitest';
import type { TrustAnchorAdded } from '../../src/anchors/events.js';
import { signDecision } from '../../src/ceremony/decision-signature.js';
import { sgxPlugin } from '../../src/evidence/dcap/index.js';
import { NOW, world } from '../evidence/dcap/synthetic.js';
import { describeEachBackend } from '../store/backends.js';
import { attestSgx, seedSgxWorkload, type SgxWorld } from './sgx-attestation.js';
import { newMember } from '../support/control-plane.js';
import { entriesSince, expectChange, expectNoEntry, expectProblem, get, treeSize, useTestServer, type ServerFixture } from './support.js';

let dcap: SgxWorld;
beforeAll(async () => {
  dcap = await world('sgx');
});

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

describeEachBackend('trust anchors members add', (backend) => {
  // The shipped Intel root only: the synthetic PKI's quotes do not chain to it.
  const fixture = useTestServer(backend, { verifiers: [{ plugin: sgxPlugin }] });

  const seed = (f: ServerFixture) => seedSgxWorkload(f, [['/v1/collateral', { collateral: b64(dcap.collateral()) }]]);
  const attest = (f: ServerFixture) => attestSgx(f, dcap);


  const adding = (f: ServerFixture, tee: string, bytes: Uint8Array) => f.server.signed('POST', '/v1/anchors', { class: tee, certificate: b64(bytes) });

  it('an added root is trusted by the next verification, beside the shipped one, until it is removed', async () => {
    const f = fixture();
    await seed(f);
    expect(expectProblem(await attest(f), 422, 'evidence-invalid').detail).toMatch(/chain|root/i);

    const { res, entry } = await expectChange(f.server.app, { type: 'trust-anchor.added' }, () => adding(f, 'sgx', dcap.pki.root.der));
    expect(res.statusCode, res.body).toBe(201);
    const added = entry.payload as TrustAnchorAdded;
    expect(added).toMatchObject({ tee: 'sgx', digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) as unknown, certificate: b64(dcap.pki.root.der) });
    expect(added.subject).toMatch(/^1 certificate\(s\), first /);

    const attested = await attest(f);
    expect(attested.statusCode, attested.body).toBe(200);
    expect(attested.json()).toMatchObject({ appraisal: { status: expect.stringMatching(/affirming|warning/) as unknown } });

    const listed = (await get(f.server.app, '/v1/anchors')).json() as { anchors: { tee: string; digest: string; valid: boolean; addedBy: string }[] };
    expect(listed.anchors).toEqual([expect.objectContaining({ tee: 'sgx', digest: added.digest, valid: true, addedBy: 'member:admin' })]);
    expectProblem(await expectNoEntry(f.server.app, () => adding(f, 'sgx', dcap.pki.root.der)), 409, 'conflict');

    // The auditor's report says which root became trusted, by whom.
    const report = (await get(f.server.app, '/v1/audit/report?since=2000-01-01T00:00:00Z')).json() as { changes: { command: string; proposer: string; effects: string[] }[] };
    expect(report.changes.find((c) => c.command === 'anchor.add')).toMatchObject({ proposer: 'admin', effects: [expect.stringMatching(/^TRUST ANCHOR added for sgx: 1 certificate\(s\), first .*, valid until /)] });

    const removed = await expectChange(f.server.app, { type: 'trust-anchor.removed' }, () => f.server.signed('DELETE', `/v1/anchors/sgx/${added.digest}`));
    expect(removed.res.statusCode, removed.res.body).toBe(200);
    expect(expectProblem(await attest(f), 422, 'evidence-invalid').detail).toMatch(/chain|root/i);
    expect(((await get(f.server.app, '/v1/anchors')).json() as { anchors: unknown[] }).anchors).toEqual([]);
  });

  it('is governed by its own class: under a two-signature rule an addition waits for the second member', async () => {
    const f = fixture();
    await seed(f);
    const bob = newMember('bob');
    expect((await f.server.signed('POST', '/v1/members', { name: bob.name, publicKey: bob.publicKey, roles: ['admin'] })).statusCode).toBe(201);
    expect((await f.server.signed('POST', '/v1/constitution/trust-anchors', { threshold: 2, role: 'admin', proposerCounts: true })).statusCode).toBe(200);

    const before = await treeSize(f.server.app);
    const pending = await adding(f, 'sgx', dcap.pki.root.der);
    expect(pending.statusCode, pending.body).toBe(202);
    const proposed = (await entriesSince(f.server.app, before)).map((e) => e.type);
    expect(proposed[0]).toBe('proposal.created');
    expect(proposed).not.toContain('trust-anchor.added');
    expectProblem(await attest(f), 422, 'evidence-invalid');

    const { id } = (pending.json() as { proposal: { id: string } }).proposal;
    const message = new Uint8Array((await get(f.server.app, `/v1/proposals/${id}/message?decision=approve`)).rawPayload);
    const signature = Buffer.from(signDecision({ alg: bob.alg, key: bob.privateKey }, message)).toString('base64');
    const approved = await f.server.app.inject({ method: 'POST', url: `/v1/proposals/${id}/votes`, payload: { member: 'bob', decision: 'approve', signature } });
    expect(approved.json()).toMatchObject({ status: 'executed', result: { tee: 'sgx' } });
    expect((await attest(f)).statusCode).toBe(200);
  });

  it('refuses what is no certificate, an unknown class and an unknown anchor, recording nothing; reading needs no signature, changing does', async () => {
    const f = fixture();
    f.clock.set(NOW);
    for (const junk of [new TextEncoder().encode('hello'), new Uint8Array([0x30, 0x03, 0x02, 0x01])]) {
      expectProblem(await expectNoEntry(f.server.app, () => adding(f, 'sgx', junk)), 400, 'validation-failed');
    }
    expectProblem(await expectNoEntry(f.server.app, () => adding(f, 'sim', dcap.pki.root.der)), 400, 'validation-failed');
    expectProblem(await expectNoEntry(f.server.app, () => adding(f, 'tpm', dcap.pki.root.der)), 400, 'validation-failed');
    expectProblem(await expectNoEntry(f.server.app, () => f.server.signed('DELETE', `/v1/anchors/sgx/sha256:${'0'.repeat(64)}`)), 404, 'not-found');
    expectProblem(await f.server.app.inject({ method: 'POST', url: '/v1/anchors', payload: { class: 'sgx', certificate: b64(dcap.pki.root.der) } }), 401);
    expect((await get(f.server.app, '/v1/anchors')).statusCode).toBe(200);
  });
});
