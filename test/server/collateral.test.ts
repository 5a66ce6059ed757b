/**
 * Imported collateral (issue 7): recognised by content, ledgered by digest with its
 * validity, listed, and used by verification when an instance posts none — so that
 * DCAP verification runs offline — until it expires.
 */
import { beforeAll, expect, it } from 'vitest';
import type { CollateralImported } from '../../src/collateral/events.js';
import { sgxPlugin } from '../../src/evidence/dcap/index.js';
import { NEXT_UPDATE, NOW, sgxLevels, tcbInfoText, world } from '../evidence/dcap/synthetic.js';
import { describeEachBackend } from '../store/backends.js';
import { attestSgx, seedSgxWorkload, type SgxWorld } from './sgx-attestation.js';
import { signDecision } from '../../src/ceremony/decision-signature.js';
import { newMember } from '../support/control-plane.js';
import { entriesSince, expectChange, expectNoEntry, expectProblem, get, treeSize, useTestServer, type ServerFixture } from './support.js';

let dcap: SgxWorld;
beforeAll(async () => {
  dcap = await world('sgx');
});

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

describeEachBackend('imported collateral', (backend) => {
  const fixture = useTestServer(backend, { verifiers: [{ plugin: sgxPlugin, get trustAnchors() { return [dcap.pki.root.der]; } }] });

  const seed = (f: ServerFixture) => seedSgxWorkload(f);
  const attest = (f: ServerFixture) => attestSgx(f, dcap);


  const importing = (f: ServerFixture, bytes: Uint8Array) => f.server.signed('POST', '/v1/collateral', { collateral: b64(bytes) });

  it('lets an instance that posts no collateral verify offline against imported collateral, until it expires', async () => {
    const f = fixture();
    await seed(f);
    expect(expectProblem(await attest(f), 422, 'evidence-invalid').detail).toMatch(/no CRL from|collateral holds no/);

    const bundle = dcap.collateral();
    const { res, entry } = await expectChange(f.server.app, { type: 'collateral.imported' }, () => importing(f, bundle));
    expect(res.statusCode, res.body).toBe(201);
    const imported = entry.payload as CollateralImported;
    // The TCB info's next update is the earliest end among its parts (the CRLs and certificates last longer).
    expect(imported).toMatchObject({ kind: 'intel-dcap', classes: ['sgx', 'tdx'], notAfter: new Date(NEXT_UPDATE).toISOString(), digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) as unknown });
    expect(imported.subject).toMatch(/SGX TCB info, FMSPC 00906ED50000/i);
    expect(JSON.stringify(entry)).not.toContain(b64(bundle).slice(0, 40));

    const attested = await attest(f);
    expect(attested.statusCode, attested.body).toBe(200);
    expect(attested.json()).toMatchObject({ appraisal: { status: 'affirming', release: { version: '1.0.0' } } });

    const listed = (await get(f.server.app, '/v1/collateral')).json() as { collateral: { digest: string; valid: boolean; importedBy: string }[] };
    expect(listed.collateral).toEqual([expect.objectContaining({ digest: imported.digest, valid: true, importedBy: 'member:admin' })]);
    expectProblem(await expectNoEntry(f.server.app, () => importing(f, bundle)), 409, 'conflict');

    // Past the TCB info's next update the collateral is listed as invalid and no longer offered.
    f.clock.set(new Date(new Date(NEXT_UPDATE).getTime() + 31_000));
    expect(((await get(f.server.app, '/v1/collateral')).json() as { collateral: { valid: boolean }[] }).collateral).toEqual([expect.objectContaining({ valid: false })]);
    expect(expectProblem(await attest(f), 422, 'evidence-invalid').detail).toMatch(/no CRL from|collateral holds no/);
    expect(expectProblem(await expectNoEntry(f.server.app, () => importing(f, dcap.collateral({ tcbInfo: tcbInfoText({ levels: sgxLevels(), nextUpdate: '2025-06-10T00:00:00Z' }) }))), 400, 'validation-failed').detail).toMatch(/expired/);
  });

  it('under a two-signature rule, a proposal records only the digest and the approval imports the bytes it kept', async () => {
    const f = fixture();
    f.clock.set(NOW);
    const approvers = [newMember('bob'), newMember('carol')];
    for (const member of approvers) expect((await f.server.signed('POST', '/v1/members', { name: member.name, publicKey: member.publicKey, roles: ['admin'] })).statusCode).toBe(201);
    expect((await f.server.signed('POST', '/v1/constitution/collateral', { threshold: 2, role: 'admin', proposerCounts: true })).statusCode).toBe(200);
    // Refused now, so never proposed.
    expectProblem(await expectNoEntry(f.server.app, () => importing(f, new TextEncoder().encode('not collateral'))), 400, 'validation-failed');

    const before = await treeSize(f.server.app);
    const pending = await importing(f, dcap.pki.root.der);
    expect(pending.statusCode, pending.body).toBe(202);
    const [created] = await entriesSince(f.server.app, before);
    expect((created!.payload as { document: { args: unknown } }).document.args).toEqual({ collateralDigest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) as unknown });
    expect(JSON.stringify(created)).not.toContain(b64(dcap.pki.root.der).slice(0, 40));

    const { id } = (pending.json() as { proposal: { id: string } }).proposal;
    const message = new Uint8Array((await get(f.server.app, `/v1/proposals/${id}/message?decision=approve`)).rawPayload);
    const signature = Buffer.from(signDecision({ alg: approvers[0]!.alg, key: approvers[0]!.privateKey }, message)).toString('base64');
    const approved = await f.server.app.inject({ method: 'POST', url: `/v1/proposals/${id}/votes`, payload: { member: 'bob', decision: 'approve', signature } });
    expect(approved.json()).toMatchObject({ status: 'executed', result: { kind: 'certificates', digest: (created!.payload as { document: { args: { collateralDigest: string } } }).document.args.collateralDigest } });
    expect(((await get(f.server.app, '/v1/collateral')).json() as { collateral: unknown[] }).collateral).toHaveLength(1);
  });

  it('collateral imported by an approval is used by the very next verification', async () => {
    const f = fixture();
    await seed(f);
    const bob = newMember('bob');
    expect((await f.server.signed('POST', '/v1/members', { name: bob.name, publicKey: bob.publicKey, roles: ['admin'] })).statusCode).toBe(201);
    expect((await f.server.signed('POST', '/v1/constitution/collateral', { threshold: 2, role: 'admin', proposerCounts: true })).statusCode).toBe(200);
    // The verifiers have read the (empty) collateral at this time: a refresh is not due.
    expectProblem(await attest(f), 422, 'evidence-invalid');

    const pending = await importing(f, dcap.collateral());
    expect(pending.statusCode, pending.body).toBe(202);
    const { id } = (pending.json() as { proposal: { id: string } }).proposal;
    const message = new Uint8Array((await get(f.server.app, `/v1/proposals/${id}/message?decision=approve`)).rawPayload);
    const signature = Buffer.from(signDecision({ alg: bob.alg, key: bob.privateKey }, message)).toString('base64');
    const approved = await f.server.app.inject({ method: 'POST', url: `/v1/proposals/${id}/votes`, payload: { member: 'bob', decision: 'approve', signature } });
    expect(approved.json()).toMatchObject({ status: 'executed', result: { kind: 'intel-dcap' } });

    const attested = await attest(f);
    expect(attested.statusCode, attested.body).toBe(200);
    expect(attested.json()).toMatchObject({ appraisal: { status: 'affirming' } });
  });

  it('recognises certificates and CRLs by content and refuses what is not collateral, recording nothing', async () => {
    const f = fixture();
    f.clock.set(NOW);
    const certificate = (await expectChange(f.server.app, { type: 'collateral.imported' }, () => importing(f, dcap.pki.root.der))).entry.payload as CollateralImported;
    expect(certificate).toMatchObject({ kind: 'certificates', subject: expect.stringMatching(/^1 certificate\(s\), first .*Intel SGX Root CA/) as unknown });
    const crl = (await expectChange(f.server.app, { type: 'collateral.imported' }, () => importing(f, dcap.pki.pckCrl))).entry.payload as CollateralImported;
    expect(crl).toMatchObject({ kind: 'crl', subject: 'CRL with 0 revoked serial(s)', notAfter: '2025-07-01T00:00:00.000Z' });

    for (const junk of [new TextEncoder().encode('{"tcbInfo": 1}'), new Uint8Array([0x30, 0x03, 0x02, 0x01]), new TextEncoder().encode('hello')]) {
      expectProblem(await expectNoEntry(f.server.app, () => importing(f, junk)), 400, 'validation-failed');
    }
    expectProblem(await expectNoEntry(f.server.app, () => f.server.signed('POST', '/v1/collateral', { collateral: 'not base64!' })), 400, 'validation-failed');
    expectProblem(await f.server.app.inject({ method: 'POST', url: '/v1/collateral', payload: { collateral: b64(dcap.pki.root.der) } }), 401);
  });
});
