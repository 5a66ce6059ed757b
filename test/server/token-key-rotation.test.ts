/**
 * Issue 13: rotating the token-signing key is an online, governed change through the
 * API. The next token this replica signs carries the new kid, another replica's within
 * the refresh interval; a token signed by the old key (on any replica) still verifies
 * against the JWKS until its exp, and the old key drops out once every such token has
 * expired. On both backends; two control planes on one PostgreSQL database for replicas.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { describe, expect, it } from 'vitest';
import { TokenKeyRing } from '../../src/app/token-key-ring.js';
import { simPlugin } from '../../src/evidence/sim/index.js';
import { FileKms } from '../../src/keys/kms.js';
import { SimAttester } from '../../src/sim/attester.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity } from '../../src/sim/vendor.js';
import type { Store } from '../../src/store/store.js';
import { verifyEar } from '../../src/verifier/ear.js';
import { signingPublicJwk, thumbprintOf } from '../../src/verifier/token-keys.js';
import { describeEachBackend, postgresBackend, useFreshInstance } from '../store/backends.js';
import { injectTransport } from '../support/fleet.js';
import { createTestReplica, createTestServer, manualClock, newMember, type TestServer } from '../support/control-plane.js';
import { signDecision } from '../../src/ceremony/decision-signature.js';
import { DEFAULT_TENANT } from '../../src/core/model.js';
import { WORKLOAD, WORKLOAD_PATH, entries, expectProblem, get, sha256 } from './support.js';

const MEASUREMENT = sha256('a');
const T0 = new Date('2026-11-22T12:00:00.000Z');
const LIFETIME = 600;
const root = createVendorRoot({ now: new Date(T0.getTime() - 86_400_000) });
const platform = issuePlatformIdentity(root, { now: new Date(T0.getTime() - 86_400_000), platformId: 'rack1.node1' });
const OPTIONS = { verifiers: [{ plugin: simPlugin, trustAnchors: [root.certificate] }], tokenLifetimeSeconds: LIFETIME };

/** What every replica of the tenant shares: the KEK and the key `covenant init` made. */
interface TenantFiles {
  readonly kek: Uint8Array;
  readonly first: KeyObject;
}

const tenantFiles = (): TenantFiles => ({ kek: randomBytes(32), first: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey });

const ringOn = (store: Store, clock: () => Date, files: TenantFiles) =>
  TokenKeyRing.open({ store, tenant: DEFAULT_TENANT, clock, kms: new FileKms(files.kek), first: files.first, tokenLifetimeSeconds: LIFETIME, tokenJitter: 0 });

async function seed(server: TestServer): Promise<void> {
  for (const [url, body] of [
    ['/v1/workloads', { name: WORKLOAD }],
    [`${WORKLOAD_PATH}/releases`, { version: '1.0.0', class: 'sim', measurements: [MEASUREMENT], securityVersion: 1 }],
    [`${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'first release' }],
  ] as const) {
    const res = await server.signed('POST', url, body);
    expect(res.statusCode, res.body).toBe(201);
  }
}

/** A fresh attestation through `app`: its token. */
async function token(app: FastifyInstance): Promise<string> {
  const tee = new SimulatedTee(platform, { measurement: MEASUREMENT, svn: 1, debug: false, configDigests: {} });
  const result = await new SimAttester({ server: 'http://covenant.test', workload: WORKLOAD, tee, transport: injectTransport(app) }).attest();
  expect(result.status).toBe('complete');
  return result.token;
}

const kidOfToken = (jwt: string): string => String(decodeProtectedHeader(jwt).kid);
const kidOfKey = (key: KeyObject): Promise<string> => thumbprintOf(signingPublicJwk(key));

async function jwks(app: FastifyInstance): Promise<{ keys: { kid: string }[] }> {
  return (await get(app, '/.well-known/jwks.json')).json();
}

const rotate = (server: TestServer, by = server.admin) => server.signed('POST', '/v1/token-keys/rotations', {}, by);

describeEachBackend('token key rotation through the API', (backend) => {
  const instance = useFreshInstance(backend);

  it('signs the next token with the new kid, keeps the old key published until its last token expired, then drops it', async () => {
    const clock = manualClock(T0);
    const files = tenantFiles();
    const server = await createTestServer(instance().store, clock, { ...OPTIONS, tokenKeyRing: await ringOn(instance().store, clock, files) });
    try {
      await seed(server);
      const before = await token(server.app);
      expect(kidOfToken(before)).toBe(await kidOfKey(files.first));

      clock.advance(5_000);
      const res = await rotate(server);
      expect(res.statusCode, res.body).toBe(201);
      const rotated = res.json() as { kid: string; rotatedAt: string; everyReplicaBy: string; previousPublishedUntil: string };
      const rotatedAt = clock().getTime();
      expect(rotated).toEqual({
        kid: expect.not.stringMatching(await kidOfKey(files.first)),
        rotatedAt: new Date(rotatedAt).toISOString(),
        everyReplicaBy: new Date(rotatedAt + 30_000).toISOString(),
        previousPublishedUntil: new Date(rotatedAt + (30 + LIFETIME) * 1000).toISOString(),
      });

      // The ledger holds the public key and its kid; the private key only sealed, beside it.
      const [entry] = await entries(server.app, 'type=token-key.rotated');
      expect(entry).toMatchObject({ actor: 'member:admin', time: rotated.rotatedAt, payload: { kid: rotated.kid, jwk: { kty: 'EC', crv: 'P-256' }, sealed: expect.stringMatching(/^sha256:/) } });
      expect(Object.keys((entry!.payload as { jwk: object }).jwk).sort()).toEqual(['crv', 'kty', 'x', 'y']);
      expect(await thumbprintOf((entry!.payload as { jwk: Parameters<typeof thumbprintOf>[0] }).jwk)).toBe(rotated.kid);

      const after = await token(server.app);
      expect(kidOfToken(after)).toBe(rotated.kid);
      expect((await jwks(server.app)).keys.map((k) => k.kid)).toEqual([await kidOfKey(files.first), rotated.kid]);
      await expect(verifyEar(after, await jwks(server.app), clock())).resolves.toBeDefined();

      // The token signed before the rotation verifies until its exp...
      const { exp } = decodeJwt(before);
      clock.set(new Date(exp! * 1000 - 1000));
      await expect(verifyEar(before, await jwks(server.app), clock())).resolves.toBeDefined();
      // ...and the old key stays listed until a token another replica signed before refreshing expired.
      clock.set(new Date(Date.parse(rotated.previousPublishedUntil) - 1));
      expect((await jwks(server.app)).keys.map((k) => k.kid)).toEqual([await kidOfKey(files.first), rotated.kid]);
      clock.set(new Date(rotated.previousPublishedUntil));
      expect((await jwks(server.app)).keys.map((k) => k.kid)).toEqual([rotated.kid]);
    } finally {
      await server.app.close();
    }
  });

  it('is a governed change of class token-key: refused unsigned, and a proposal under a quorum rule until approved', async () => {
    const clock = manualClock(T0);
    const files = tenantFiles();
    const server = await createTestServer(instance().store, clock, { ...OPTIONS, tokenKeyRing: await ringOn(instance().store, clock, files) });
    try {
      await seed(server);
      const unsigned = await server.app.inject({ method: 'POST', url: '/v1/token-keys/rotations', payload: {} });
      expectProblem(unsigned, 401);
      expect(await entries(server.app, 'type=token-key.rotated')).toEqual([]);

      const bob = newMember('bob');
      expect((await server.signed('POST', '/v1/members', { name: 'bob', publicKey: bob.publicKey, roles: ['admin'] })).statusCode).toBe(201);
      const rule = await server.signed('POST', '/v1/constitution/token-key', { threshold: 2, role: 'admin', proposerCounts: true });
      expect(rule.statusCode, rule.body).toBe(200);

      const proposed = await rotate(server);
      expect(proposed.statusCode, proposed.body).toBe(202);
      const { proposal } = proposed.json() as { proposal: { id: string; action: string; needed: number } };
      expect(proposal).toMatchObject({ action: 'token-key', needed: 2 });
      expect(await entries(server.app, 'type=token-key.rotated')).toEqual([]);
      // The proposal records the public key and the sealed key's digest, never a private key.
      expect(JSON.stringify((await get(server.app, `/v1/proposals/${proposal.id}`)).json())).not.toMatch(/"sealed":"|"d":/);
      expect(kidOfToken(await token(server.app))).toBe(await kidOfKey(files.first));

      const message = await get(server.app, `/v1/proposals/${proposal.id}/message?decision=approve`);
      const signature = Buffer.from(signDecision({ alg: bob.alg, key: bob.privateKey }, new Uint8Array(message.rawPayload))).toString('base64');
      const vote = await server.app.inject({ method: 'POST', url: `/v1/proposals/${proposal.id}/votes`, payload: { member: 'bob', decision: 'approve', signature } });
      expect(vote.json()).toMatchObject({ status: 'executed' });
      const [entry] = await entries(server.app, 'type=token-key.rotated');
      const kid = (entry!.payload as { kid: string }).kid;
      // Executed by an approval on this replica: its next token is signed by the new key at once.
      expect(kidOfToken(await token(server.app))).toBe(kid);
    } finally {
      await server.app.close();
    }
  });
});

describe('[postgres] token key rotation on two replicas of one database', () => {
  it('the other replica signs with the new key after its refresh, and what it signed with the old one verifies until exp', async () => {
    const instance = await postgresBackend.create();
    try {
      const clock = manualClock(T0);
      const files = tenantFiles();
      const primary = await createTestServer(instance.store, clock, { ...OPTIONS, tokenKeyRing: await ringOn(instance.store, clock, files) });
      const otherStore = await instance.open();
      const replica = await createTestReplica(otherStore, primary, clock, { ...OPTIONS, tokenKeyRing: await ringOn(otherStore, clock, files) });
      try {
        await seed(primary);
        const firstKid = await kidOfKey(files.first);
        expect(kidOfToken(await token(replica.app))).toBe(firstKid);

        const res = await rotate(primary);
        expect(res.statusCode, res.body).toBe(201);
        const { kid } = res.json() as { kid: string };
        expect(kidOfToken(await token(primary.app))).toBe(kid);

        // Until its next read the replica still signs with the old key...
        clock.advance(29_000);
        const late = await token(replica.app);
        expect(kidOfToken(late)).toBe(firstKid);
        // ...and that token verifies against either replica's JWKS until its own exp.
        clock.set(new Date(decodeJwt(late).exp! * 1000 - 1));
        await expect(verifyEar(late, await jwks(primary.app), clock())).resolves.toBeDefined();
        clock.set(new Date(T0.getTime() + 29_000));

        clock.advance(1_000);
        expect(kidOfToken(await token(replica.app))).toBe(kid);
        expect((await jwks(replica.app)).keys.map((k) => k.kid)).toEqual([firstKid, kid]);
      } finally {
        await replica.app.close();
        await primary.app.close();
      }
    } finally {
      await instance.destroy();
    }
  });
});
