/**
 * Signed-request authentication at the HTTP edge, route by route: every mutating route
 * refuses what is not exactly the request its member signed, inside the replay window,
 * with a fresh nonce, by an active member; a member without the role is refused after
 * authentication, and that refusal is ledgered. Reads need no signature.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { contentDigest } from '../../src/ceremony/signed-request.js';
import { INTEL_SGX_ROOT_CA_SHA256 } from '../../src/evidence/dcap/roots.js';
import { ATTESTATION_MEDIA_TYPE } from '../../src/verifier/envelope.js';
import { describeEachBackend } from '../store/backends.js';
import { newMember, type TestMember, type TestServer } from '../support/control-plane.js';
import {
  WORKLOAD,
  WORKLOAD_PATH,
  entriesSince,
  expectNo5xx,
  expectNoEntry,
  expectProblem,
  get,
  listRoutes,
  mutatingRoutes,
  seedWorkload,
  send,
  signatureHeaders,
  treeSize,
  useTestServer,
  type ServerFixture,
} from './support.js';

const WINDOW_MS = 300_000;
const INTEL_ROOT = (): string => readFileSync(new URL('../fixtures/sgx/intel_sgx_root_ca.der', import.meta.url)).toString('base64');

interface MutatingCase {
  /** `METHOD url-pattern` as the router knows it. */
  readonly route: string;
  readonly method: string;
  readonly url: string;
  /** Builds the body (fresh per call: members need their own keys). */
  readonly body?: () => unknown;
  /** Brings the store to where the request, properly signed by an admin, succeeds. */
  readonly setup: (server: TestServer) => Promise<void>;
  readonly status: number;
  /** The ledger entry a success appends, if any. */
  readonly entry?: { readonly type: string; readonly workload?: string };
  /** Reads that take a body: any active member may ask, no admin role needed. */
  readonly anyMember?: true;
  /** Every entry a success appends after its `change.authorized` (default: just `entry`). */
  readonly produces?: readonly string[];
  /** False for requests that change no trust (a checkpoint, a gate credential): no `change.authorized`. */
  readonly authorizes?: false;
}

const CASES: readonly MutatingCase[] = [
  {
    route: 'POST /v1/workloads',
    method: 'POST',
    url: '/v1/workloads',
    body: () => ({ name: WORKLOAD }),
    setup: async () => {},
    status: 201,
    entry: { type: 'workload.created', workload: WORKLOAD },
  },
  {
    route: 'POST /v1/workloads/:workload/releases',
    method: 'POST',
    url: `${WORKLOAD_PATH}/releases`,
    body: () => ({ version: '3.0.0', class: 'tdx', measurements: [`sha384:${'c'.repeat(96)}`] }),
    setup: seedWorkload,
    status: 201,
    entry: { type: 'release.registered', workload: WORKLOAD },
  },
  {
    route: 'POST /v1/workloads/:workload/policy',
    method: 'POST',
    url: `${WORKLOAD_PATH}/policy`,
    body: () => ({ accept: ['1.0.0'], floor: 1, reason: 'first policy' }),
    setup: seedWorkload,
    status: 201,
    entry: { type: 'policy.version-created', workload: WORKLOAD },
  },
  {
    // Changes nothing, but runs appraisals on the inventory: members only.
    route: 'POST /v1/workloads/:workload/policy/dry-run',
    method: 'POST',
    url: `${WORKLOAD_PATH}/policy/dry-run`,
    body: () => ({ update: { accept: ['1.0.0'] } }),
    setup: seedWorkload,
    status: 200,
    anyMember: true,
  },
  {
    route: 'POST /v1/members',
    method: 'POST',
    url: '/v1/members',
    body: () => ({ name: 'dave', publicKey: newMember('dave').publicKey, roles: ['admin'] }),
    setup: async () => {},
    status: 201,
    entry: { type: 'member.added' },
  },
  {
    route: 'DELETE /v1/members/:name',
    method: 'DELETE',
    url: '/v1/members/erin',
    setup: async (server) => {
      const res = await server.signed('POST', '/v1/members', { name: 'erin', publicKey: newMember('erin').publicKey, roles: ['auditor'] });
      expect(res.statusCode, res.body).toBe(201);
    },
    status: 200,
    entry: { type: 'member.removed' },
  },
  {
    route: 'POST /v1/audit/checkpoints',
    method: 'POST',
    url: '/v1/audit/checkpoints',
    setup: async () => {},
    status: 201,
    authorizes: false,
  },
  {
    route: 'POST /v1/workloads/:workload/rollout',
    method: 'POST',
    url: `${WORKLOAD_PATH}/rollout`,
    body: () => ({ to: '2.0.0', reason: 'upgrade' }),
    setup: withPolicy,
    status: 201,
    entry: { type: 'rollout.started', workload: WORKLOAD },
    produces: ['rollout.started', 'policy.version-created'],
  },
  {
    route: 'POST /v1/workloads/:workload/rollout/advance',
    method: 'POST',
    url: `${WORKLOAD_PATH}/rollout/advance`,
    body: () => ({ wave: 1 }),
    setup: withRollout,
    status: 200,
    entry: { type: 'rollout.advanced', workload: WORKLOAD },
  },
  {
    route: 'POST /v1/workloads/:workload/rollout/complete',
    method: 'POST',
    url: `${WORKLOAD_PATH}/rollout/complete`,
    body: () => ({ reason: 'done' }),
    setup: withRollout,
    status: 200,
    entry: { type: 'rollout.completed', workload: WORKLOAD },
    produces: ['rollout.completed', 'policy.version-created'],
  },
  {
    route: 'POST /v1/workloads/:workload/rollout/gate-credential',
    method: 'POST',
    url: `${WORKLOAD_PATH}/rollout/gate-credential`,
    body: () => ({}),
    setup: withRollout,
    status: 201,
    entry: { type: 'rollout.gate-credential-issued', workload: WORKLOAD },
    authorizes: false,
  },
  {
    route: 'POST /v1/workloads/:workload/rollout/rollback',
    method: 'POST',
    url: `${WORKLOAD_PATH}/rollout/rollback`,
    body: () => ({ reason: 'broken' }),
    setup: withRollout,
    status: 200,
    entry: { type: 'rollout.rolled-back', workload: WORKLOAD },
    produces: ['rollout.rolled-back', 'policy.version-created'],
  },
  {
    route: 'POST /v1/workloads/:workload/health',
    method: 'POST',
    url: `${WORKLOAD_PATH}/health`,
    body: () => ({ source: 'prometheus', healthy: true }),
    setup: seedWorkload,
    status: 201,
    entry: { type: 'rollout.health-signalled', workload: WORKLOAD },
  },
  {
    route: 'POST /v1/workloads/:workload/releases/:version/revoke',
    method: 'POST',
    url: `${WORKLOAD_PATH}/releases/2.0.0/revoke`,
    body: () => ({ reason: 'CVE' }),
    setup: seedWorkload,
    status: 200,
    entry: { type: 'release.revoked', workload: WORKLOAD },
  },
  {
    route: 'POST /v1/constitution/:action',
    method: 'POST',
    url: '/v1/constitution/release',
    body: () => ({ threshold: 1, role: 'admin', proposerCounts: true }),
    setup: async () => {},
    status: 200,
    entry: { type: 'constitution.rule-set' },
  },
  {
    route: 'POST /v1/collateral',
    method: 'POST',
    url: '/v1/collateral',
    body: () => ({ collateral: readFileSync(new URL('../fixtures/sgx/intel_sgx_root_ca.der', import.meta.url)).toString('base64') }),
    setup: async () => {},
    status: 201,
    entry: { type: 'collateral.imported' },
  },
  {
    route: 'POST /v1/anchors',
    method: 'POST',
    url: '/v1/anchors',
    body: () => ({ class: 'sgx', certificate: INTEL_ROOT() }),
    setup: async () => {},
    status: 201,
    entry: { type: 'trust-anchor.added' },
  },
  {
    route: 'DELETE /v1/anchors/:class/:digest',
    method: 'DELETE',
    url: `/v1/anchors/sgx/sha256:${INTEL_SGX_ROOT_CA_SHA256}`,
    setup: async (server) => {
      const res = await server.signed('POST', '/v1/anchors', { class: 'sgx', certificate: INTEL_ROOT() });
      expect(res.statusCode, res.body).toBe(201);
    },
    status: 200,
    entry: { type: 'trust-anchor.removed' },
  },
  {
    route: 'POST /v1/workloads/:workload/break-glass',
    method: 'POST',
    url: `${WORKLOAD_PATH}/break-glass`,
    body: () => ({ accept: ['1.0.0'], reason: 'incident 42' }),
    setup: seedWorkload,
    status: 201,
    entry: { type: 'policy.break-glass', workload: WORKLOAD },
    produces: ['policy.break-glass', 'policy.version-created'],
  },
  {
    route: 'POST /v1/workloads/:workload/break-glass/ratify',
    method: 'POST',
    url: `${WORKLOAD_PATH}/break-glass/ratify`,
    body: () => ({ versions: ['1.0.0'], reason: 'reviewed' }),
    setup: async (server) => {
      await seedWorkload(server);
      expect((await server.signed('POST', `${WORKLOAD_PATH}/break-glass`, { accept: ['1.0.0'], reason: 'incident' })).statusCode).toBe(201);
    },
    status: 200,
    entry: { type: 'policy.break-glass-ratified', workload: WORKLOAD },
    produces: ['policy.break-glass-ratified', 'policy.version-created'],
  },
];

async function withPolicy(server: TestServer): Promise<void> {
  await seedWorkload(server);
  const res = await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'first' });
  expect(res.statusCode, res.body).toBe(201);
}

async function withRollout(server: TestServer): Promise<void> {
  await withPolicy(server);
  const res = await server.signed('POST', `${WORKLOAD_PATH}/rollout`, { to: '2.0.0', waves: [50, 100], reason: 'upgrade' });
  expect(res.statusCode, res.body).toBe(201);
}

const payloadOf = (c: MutatingCase): string | undefined => (c.body ? JSON.stringify(c.body()) : undefined);

/** Flips one bit of the signature bytes, keeping the field well-formed. */
function forge(headers: Record<string, string>): Record<string, string> {
  const match = /^sig1=:([A-Za-z0-9+/=]+):$/.exec(headers['signature'] ?? '');
  expect(match).not.toBeNull();
  const bytes = Buffer.from(match![1]!, 'base64');
  bytes[10] = bytes[10]! ^ 0x01;
  return { ...headers, signature: `sig1=:${bytes.toString('base64')}:` };
}

async function addMember(server: TestServer, member: TestMember, roles: string[]): Promise<void> {
  const res = await server.signed('POST', '/v1/members', { name: member.name, publicKey: member.publicKey, roles });
  expect(res.statusCode, res.body).toBe(201);
}

/** Sends the case's request signed by `member`, and checks the success and its ledger entry. */
async function expectSuccess(fx: ServerFixture, c: MutatingCase, member: TestMember): Promise<void> {
  const { server } = fx;
  const before = await treeSize(server.app);
  const payload = payloadOf(c);
  const res = await send(server.app, c.method, c.url, signatureHeaders(fx, c.method, c.url, payload, member), payload);
  expect(res.statusCode, res.body).toBe(c.status);
  const added = await entriesSince(server.app, before);
  if (c.entry === undefined) {
    expect(added).toEqual([]);
    return;
  }
  const produced = c.produces ?? [c.entry.type];
  const own = produced.map((type) => [type, `member:${member.name}`, c.entry!.workload]);
  if (c.authorizes === false) {
    expect(added.map((e) => [e.type, e.actor, e.workload])).toEqual(own);
    return;
  }
  expect(added.map((e) => [e.type, e.actor, e.workload])).toEqual([['change.authorized', `member:${member.name}`, c.entry.workload], ...own]);
  expect(added[0]!.payload).toMatchObject({ approvers: [member.name], proposal: null, produced: produced.length });
}

/**
 * TEE instances and relying parties call these; their evidence or token is the
 * credential (test/server/attestation.test.ts).
 */
const UNSIGNED_ROUTES = [
  'POST /challenge-response/v1/newSession',
  'POST /challenge-response/v1/session/:id',
  'DELETE /challenge-response/v1/session/:id',
  'POST /v1/tokens/check',
  // Deployment controllers ask, and are answered and ledgered (test/rollout/gates.test.ts).
  'POST /v1/workloads/:workload/gates/argo',
  'POST /v1/workloads/:workload/gates/flagger/:hook',
  // A member's signature over the proposal is the credential (test/ceremony/).
  'POST /v1/proposals/:id/votes',
];

describeEachBackend('HTTP auth', (backend) => {
  const fx = useTestServer(backend);

  it('has a case for every mutating route the server serves', () => {
    const memberRoutes = mutatingRoutes(fx().server.app).filter((route) => !UNSIGNED_ROUTES.includes(route));
    expect(memberRoutes.sort()).toEqual(CASES.map((c) => c.route).sort());
  });

  it('takes attesters\' and relying parties\' requests unsigned, and only on their routes', async () => {
    expect(mutatingRoutes(fx().server.app).filter((route) => ['/challenge-response/', '/tokens/', '/gates/', '/votes'].some((part) => route.includes(part))).sort()).toEqual([...UNSIGNED_ROUTES].sort());
    await seedWorkload(fx().server);
    const res = await fx().server.app.inject({ method: 'POST', url: `/challenge-response/v1/newSession?workload=${encodeURIComponent(WORKLOAD)}` });
    expect(res.statusCode, res.body).toBe(201);
  });

  for (const c of CASES) {
    describe(c.route, () => {
      it('refuses unsigned, forged, altered and stale requests and signers it does not know, changing nothing', async () => {
        const fixture = fx();
        const { server, clock } = fixture;
        await c.setup(server);
        const app = server.app;
        const payload = payloadOf(c);
        const headers = signatureHeaders(fixture, c.method, c.url, payload);
        const refused = async (slug: string, h: Record<string, string>, url = c.url, body = payload) =>
          expectProblem(await expectNoEntry(app, () => send(app, c.method, url, h, body)), 401, slug);

        // Missing signature fields.
        await refused('unauthenticated', {});
        await refused('unauthenticated', { 'content-digest': headers['content-digest']! });
        await refused('unauthenticated', { 'signature-input': headers['signature-input']!, 'content-digest': headers['content-digest']! });
        await refused('unauthenticated', { 'signature-input': headers['signature-input']!, signature: headers['signature']! });

        // A signature that does not verify.
        await refused('signature-invalid', forge(headers));

        // The body changed after signing, with and without a Content-Digest recomputed to match.
        const altered = payload === undefined ? '{}' : JSON.stringify({ ...(JSON.parse(payload) as object), tampered: true });
        await refused('signature-invalid', headers, c.url, altered);
        await refused('signature-invalid', { ...headers, 'content-digest': contentDigest(altered) }, c.url, altered);

        // Method, path and query are covered too.
        await refused('signature-invalid', headers, `${c.url}?extra=1`);
        await refused('signature-invalid', signatureHeaders(fixture, c.method, `${c.url}?extra=1`, payload));
        await refused('signature-invalid', signatureHeaders(fixture, c.method, `${c.url}/x`, payload));

        // Outside the window on either side of the server's clock.
        const now = clock().getTime();
        await refused('stale-request', signatureHeaders(fixture, c.method, c.url, payload, server.admin, { created: new Date(now - WINDOW_MS - 1000) }));
        await refused('stale-request', signatureHeaders(fixture, c.method, c.url, payload, server.admin, { created: new Date(now + WINDOW_MS + 1000) }));
        // Signed in the window, but arriving after it closed.
        const late = signatureHeaders(fixture, c.method, c.url, payload);
        clock.advance(WINDOW_MS + 1000);
        await refused('stale-request', late);
        clock.set(new Date(now));

        // Signers who are not (this) member.
        const mallory = newMember('mallory');
        await refused('unauthenticated', signatureHeaders(fixture, c.method, c.url, payload, mallory));
        const impostor: TestMember = { ...mallory, name: 'admin' };
        await refused('signature-invalid', signatureHeaders(fixture, c.method, c.url, payload, impostor));
        const wrongAlg: TestMember = { ...newMember('x', 'ecdsa-p256-sha256'), name: 'admin' };
        await refused('signature-invalid', signatureHeaders(fixture, c.method, c.url, payload, wrongAlg));

        // After all that, the genuine request still succeeds, exactly once.
        await expectSuccess(fixture, c, server.admin);
      });

      it('refuses a replayed request', async () => {
        const fixture = fx();
        const { server } = fixture;
        await c.setup(server);
        const payload = payloadOf(c);
        const headers = signatureHeaders(fixture, c.method, c.url, payload, server.admin, { nonce: 'cmVwbGF5LW5vbmNlLTAwMDAwMQ==' });
        const first = await send(server.app, c.method, c.url, headers, payload);
        expect(first.statusCode, first.body).toBe(c.status);
        const second = await expectNoEntry(server.app, () => send(server.app, c.method, c.url, headers, payload));
        expectProblem(second, 401, 'replayed-nonce');
      });

      it('refuses a removed member', async () => {
        const fixture = fx();
        const { server } = fixture;
        await c.setup(server);
        const frank = newMember('frank');
        await addMember(server, frank, ['admin']);
        expect((await server.signed('DELETE', '/v1/members/frank')).statusCode).toBe(200);
        const payload = payloadOf(c);
        const res = await expectNoEntry(server.app, () => send(server.app, c.method, c.url, signatureHeaders(fixture, c.method, c.url, payload, frank), payload));
        expectProblem(res, 401, 'unauthenticated');
      });

      it(c.anyMember ? 'serves any active member, ledgering nothing' : 'refuses a member without the admin role with 403 and ledgers the refusal', async () => {
        const fixture = fx();
        const { server } = fixture;
        await c.setup(server);
        const gina = newMember('gina');
        await addMember(server, gina, ['auditor']);
        const before = await treeSize(server.app);
        const payload = payloadOf(c);
        const res = await send(server.app, c.method, c.url, signatureHeaders(fixture, c.method, c.url, payload, gina), payload);
        if (c.anyMember) {
          expect(res.statusCode, res.body).toBe(c.status);
          expect(await treeSize(server.app)).toBe(before);
          return;
        }
        expect(expectProblem(res, 403, 'forbidden').detail).toContain('gina');
        const added = await entriesSince(server.app, before);
        expect(added.map((e) => [e.type, e.actor, e.workload])).toEqual([['authorization.denied', 'member:gina', undefined]]);
        expect(added[0]!.payload).toMatchObject({ reason: expect.stringContaining('admin') });
        expect(typeof (added[0]!.payload as { action: unknown }).action).toBe('string');
        expect(typeof (added[0]!.payload as { command: unknown }).command).toBe('string');
        // The refused request changed nothing: an admin's identical request now succeeds.
        await expectSuccess(fixture, c, server.admin);
      });

      it('accepts an ECDSA P-256 admin', async () => {
        const fixture = fx();
        const { server } = fixture;
        await c.setup(server);
        const hank = newMember('hank', 'ecdsa-p256-sha256');
        await addMember(server, hank, ['admin']);
        await expectSuccess(fixture, c, hank);
      });
    });
  }

  it('accepts timestamps exactly at either edge of the 300 s window', async () => {
    const fixture = fx();
    const { server, clock } = fixture;
    const now = clock().getTime();
    const early = await server.signed('POST', '/v1/workloads', { name: 'early' }, server.admin, { created: new Date(now - WINDOW_MS) });
    expect(early.statusCode, early.body).toBe(201);
    const late = await server.signed('POST', '/v1/workloads', { name: 'late' }, server.admin, { created: new Date(now + WINDOW_MS) });
    expect(late.statusCode, late.body).toBe(201);
  });

  it('scopes nonces to the signing member: reuse by the same member on another request is a replay', async () => {
    const fixture = fx();
    const { server } = fixture;
    const nonce = 'c2hhcmVkLW5vbmNlLTAwMDAwMDAx';
    expect((await server.signed('POST', '/v1/workloads', { name: 'one' }, server.admin, { nonce })).statusCode).toBe(201);
    expectProblem(await server.signed('POST', '/v1/workloads', { name: 'two' }, server.admin, { nonce }), 401, 'replayed-nonce');
    const ivy = newMember('ivy');
    await addMember(server, ivy, ['admin']);
    expect((await server.signed('POST', '/v1/workloads', { name: 'three' }, ivy, { nonce })).statusCode).toBe(201);
    // The refused request did not happen.
    expectProblem(await get(server.app, '/v1/workloads/two'), 404, 'not-found');
  });

  it('serves every read route without a signature, and ignores a bogus one on reads', async () => {
    const fixture = fx();
    const { server } = fixture;
    await seedWorkload(server);
    const policy = await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'r' });
    const id = (policy.json() as { id: string }).id;
    expect((await server.signed('POST', '/v1/audit/checkpoints')).statusCode).toBe(201);
    const session = await server.app.inject({ method: 'POST', url: `/challenge-response/v1/newSession?workload=${encodeURIComponent(WORKLOAD)}` });
    await addMember(server, newMember('olga'), ['admin']);
    expect((await server.signed('POST', '/v1/constitution/workload', { threshold: 2, role: 'admin', proposerCounts: true })).statusCode).toBe(200);
    const pending = await server.signed('POST', '/v1/workloads', { name: 'waiting' });
    expect(pending.statusCode, pending.body).toBe(202);
    const proposal = (pending.json() as { proposal: { id: string } }).proposal.id;

    // Evidence a verdict retained (test/server/evidence.test.ts attests for real).
    const evidence = Buffer.from('{"retained":"evidence"}');
    const digest = `sha256:${createHash('sha256').update(evidence).digest('hex')}`;
    await fixture.instance.store.db
      .insertInto('attachments')
      .values({ tenant: server.tenant, digest, media_type: ATTESTATION_MEDIA_TYPE, body: evidence, meta: '{}', expires_at: '2999-01-01T00:00:00.000Z' })
      .execute();

    const samples: Record<string, string> = {
      '/challenge-response/v1/session/:id': `/challenge-response/v1/${String(session.headers.location)}`,
      '/healthz': '/healthz',
      '/readyz': '/readyz',
      '/metrics': '/metrics',
      '/openapi.json': '/openapi.json',
      '/.well-known/jwks.json': '/.well-known/jwks.json',
      '/v1/workloads': '/v1/workloads',
      '/v1/workloads/:workload': WORKLOAD_PATH,
      '/v1/workloads/:workload/releases': `${WORKLOAD_PATH}/releases`,
      '/v1/workloads/:workload/releases/:version': `${WORKLOAD_PATH}/releases/1.0.0`,
      '/v1/workloads/:workload/policy': `${WORKLOAD_PATH}/policy`,
      '/v1/workloads/:workload/policy/history': `${WORKLOAD_PATH}/policy/history`,
      '/v1/workloads/:workload/policy/diff': `${WORKLOAD_PATH}/policy/diff?from=${id}&to=${id}`,
      '/v1/workloads/:workload/policy/at': `${WORKLOAD_PATH}/policy/at?time=2099-01-01T00:00:00Z`,
      '/v1/members': '/v1/members',
      '/v1/audit/entries': '/v1/audit/entries',
      '/v1/audit/raw': '/v1/audit/raw',
      '/v1/audit/head': '/v1/audit/head',
      '/v1/audit/proof': '/v1/audit/proof?index=0',
      '/v1/audit/consistency': '/v1/audit/consistency?from=1&to=2',
      '/v1/audit/checkpoint': '/v1/audit/checkpoint',
      '/v1/audit/checkpoints': '/v1/audit/checkpoints',
      '/v1/audit/log-key': '/v1/audit/log-key',
      '/v1/audit/report': '/v1/audit/report?since=2026-01-01T00:00:00Z',
      '/v1/audit/who-approved': `/v1/audit/who-approved?policy=${id}`,
      '/v1/workloads/:workload/rollout': `${WORKLOAD_PATH}/rollout`,
      '/v1/workloads/:workload/rollouts': `${WORKLOAD_PATH}/rollouts`,
      '/v1/workloads/:workload/fleet': `${WORKLOAD_PATH}/fleet`,
      '/v1/workloads/:workload/fleet/compliance': `${WORKLOAD_PATH}/fleet/compliance`,
      '/v1/proposals': '/v1/proposals',
      '/v1/proposals/:id': `/v1/proposals/${proposal}`,
      '/v1/proposals/:id/message': `/v1/proposals/${proposal}/message`,
      '/v1/constitution': '/v1/constitution',
      '/v1/collateral': '/v1/collateral',
      '/v1/anchors': '/v1/anchors',
      '/v1/evidence/:digest': `/v1/evidence/${digest}`,
    };
    const reads = listRoutes(server.app).filter((r) => r.methods.includes('GET')).map((r) => r.url);
    expect(reads.sort()).toEqual(Object.keys(samples).sort());
    for (const url of Object.values(samples)) {
      const plain = await expectNoEntry(server.app, () => get(server.app, url));
      expect(plain.statusCode, `${url}: ${plain.body}`).toBe(200);
      const bogus = await server.app.inject({ method: 'GET', url, headers: { signature: 'sig1=:AAAA:', 'signature-input': 'nonsense' } });
      expect(bogus.statusCode, url).toBe(200);
    }
    await expectNo5xx(server.app);
  });
});
