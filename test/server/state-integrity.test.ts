/**
 * The running server does not simply obey its state tables, on both backends: a policy
 * row edited in the store is a 500 integrity problem where it is used, a member row the
 * ledger never made signs nothing (and a start refuses the store), and a spent session
 * whose row was deleted still cannot be spent again.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { base64url } from 'jose';
import { expect, it } from 'vitest';
import { createTenantKeys, defaultOrigin } from '../../src/app/tenant-keys.js';
import { DEFAULT_TENANT } from '../../src/core/model.js';
import { simPlugin, SIM_MEDIA_TYPE } from '../../src/evidence/sim/index.js';
import { startServer } from '../../src/server/serve.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity } from '../../src/sim/vendor.js';
import { ATTESTATION_MEDIA_TYPE, encodeEnvelope } from '../../src/verifier/envelope.js';
import { describeEachBackend, useFreshInstance } from '../store/backends.js';
import { asyncRejection } from '../support/errors.js';
import { newMember, testServeOptions } from '../support/control-plane.js';
import { WORKLOAD, WORKLOAD_PATH, expectProblem, get, sha256, treeSize, useTestServer } from './support.js';

const MEASUREMENT = sha256('a');
const T0 = new Date('2026-11-22T12:00:00.000Z');
const root = createVendorRoot({ now: new Date(T0.getTime() - 86_400_000) });
const platform = issuePlatformIdentity(root, { now: new Date(T0.getTime() - 86_400_000), platformId: 'rack1.node1' });

const strangerRow = (tenant: string, stranger: ReturnType<typeof newMember>) => ({
  tenant,
  name: stranger.name,
  public_key: stranger.publicKey,
  alg: stranger.alg,
  roles: JSON.stringify(['admin']),
  status: 'active',
  created_at: T0.toISOString(),
});

async function postEvidence(app: FastifyInstance, location: string, nonce: Uint8Array) {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' }));
  const evidence = new SimulatedTee(platform, { measurement: MEASUREMENT, svn: 1, debug: false, configDigests: {} }).report(nonce, spki);
  const payload = Buffer.from(encodeEnvelope({ evidenceType: SIM_MEDIA_TYPE, evidence, instanceKey: spki, collateral: [] }));
  return app.inject({ method: 'POST', url: `/challenge-response/v1/${location}`, headers: { 'content-type': ATTESTATION_MEDIA_TYPE }, payload });
}

describeEachBackend('state tables are not simply trusted', (backend) => {
  const fixture = useTestServer(backend, { verifiers: [{ plugin: simPlugin, trustAnchors: [root.certificate] }] });

  async function seed(): Promise<void> {
    const { server } = fixture();
    expect((await server.signed('POST', '/v1/workloads', { name: WORKLOAD })).statusCode).toBe(201);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/releases`, { version: '1.0.0', class: 'sim', measurements: [MEASUREMENT], securityVersion: 1 })).statusCode).toBe(201);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/releases`, { version: '2.0.0', class: 'sim', measurements: [sha256('b')], securityVersion: 1 })).statusCode).toBe(201);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'first release' })).statusCode).toBe(201);
  }

  it('a policy row edited to accept another release is refused with a 500 integrity problem where it is used', async () => {
    const { server } = fixture();
    await seed();
    // Read once (and so memoised) before the edit: the memo must not outlive the row.
    expect((await get(server.app, `${WORKLOAD_PATH}/policy`)).statusCode).toBe(200);
    const row = await server.cp.store.db.selectFrom('policy_versions').select(['id', 'doc']).executeTakeFirstOrThrow();
    const release = await server.cp.store.db.selectFrom('releases').select('digest').where('version', '=', '2.0.0').executeTakeFirstOrThrow();
    const doc = JSON.parse(row.doc) as { accepted: { version: string; digest: string }[] };
    doc.accepted.push({ version: '2.0.0', digest: release.digest });
    await server.cp.store.db.updateTable('policy_versions').set({ doc: JSON.stringify(doc) }).where('id', '=', row.id).execute();

    const body = expectProblem(await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['2.0.0'], reason: 'next' }), 500, 'integrity');
    expect(body.detail).toBe(`policy version ${row.id} (number 1) of workload ${WORKLOAD} does not match its content address: the state table was altered outside the ledger`);
    expectProblem(await get(server.app, `${WORKLOAD_PATH}/policy`), 500, 'integrity');
  });

  it('a member row inserted for an unknown admin signs nothing', async () => {
    const { server } = fixture();
    const stranger = newMember('mallory');
    await server.cp.store.db.insertInto('members').values(strangerRow(server.tenant, stranger)).execute();
    const before = await treeSize(server.app);
    expectProblem(await server.signed('POST', '/v1/workloads', { name: WORKLOAD }, stranger), 401, 'unauthenticated');
    expect(await treeSize(server.app)).toBe(before);
    // The ledger's own members still sign.
    expect((await server.signed('POST', '/v1/workloads', { name: WORKLOAD })).statusCode).toBe(201);
  });

  it('a spent session whose row was deleted cannot be spent again', async () => {
    const { server } = fixture();
    await seed();
    const session = await server.app.inject({ method: 'POST', url: `/challenge-response/v1/newSession?workload=${encodeURIComponent(WORKLOAD)}` });
    const location = String(session.headers.location);
    const nonce = base64url.decode((session.json() as { nonce: string }).nonce);
    expect((await postEvidence(server.app, location, nonce)).statusCode).toBe(200);
    await server.cp.store.db.deleteFrom('attestation_sessions').execute();
    const before = await treeSize(server.app);
    expectProblem(await postEvidence(server.app, location, nonce), 409, 'conflict');
    expect(await treeSize(server.app)).toBe(before);
  });
});

describeEachBackend('server start', (backend) => {
  const instance = useFreshInstance(backend);

  it('refuses a store holding a member row the ledger never made', async () => {
    const { dataDir, url } = instance();
    const admin = newMember('admin');
    await createTenantKeys(dataDir, DEFAULT_TENANT, defaultOrigin(DEFAULT_TENANT), [{ name: admin.name, publicKey: admin.publicKey, alg: admin.alg, roles: ['admin'] }]);
    // SQLite: one process (here, one store) holds the data directory at a time.
    await instance().store.close();
    const start = () =>
      startServer(testServeOptions(dataDir, url === undefined ? {} : { storeUrl: url }));
    await (await start()).close();
    const store = await instance().open();
    await store.db.insertInto('members').values(strangerRow(DEFAULT_TENANT, newMember('mallory'))).execute();
    await store.close();
    const refused = await asyncRejection(start());
    expect(refused.type).toBe('integrity');
    expect(refused.message).toMatch(/^state does not match the ledger: members \[tenant="default", name="mallory"\]: row is in the store but no ledger entry made it;/);
  });
});
