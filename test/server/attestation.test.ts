/**
 * Challenge-response attestation over HTTP, on both backends: sessions, the binding of
 * nonce and instance key, appraisal, the EAR and its verification through the JWKS,
 * the verdict in the ledger and the fleet inventory — and every refusal a 4xx.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import fc from 'fast-check';
import { base64url } from 'jose';
import { describe, expect, it } from 'vitest';
import type { JsonWebKey } from 'node:crypto';
import { pruneAttestationState } from '../../src/app/retention.js';
import { pruneInventory } from '../../src/verifier/inventory.js';
import { simPlugin, SIM_MEDIA_TYPE } from '../../src/evidence/sim/index.js';
import { nitroPlugin } from '../../src/evidence/nitro/index.js';
import { AttestationRefused, SimAttester } from '../../src/sim/attester.js';
import { injectTransport } from '../support/fleet.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity, type PlatformIdentity, type VendorRoot } from '../../src/sim/vendor.js';
import { verifyEar } from '../../src/verifier/ear.js';
import { ATTESTATION_MEDIA_TYPE, encodeEnvelope } from '../../src/verifier/envelope.js';
import { jwkFromSpki, thumbprintOf } from '../../src/verifier/token-keys.js';
import type { AttestationVerdict } from '../../src/verifier/verdict.js';
import { describeEachBackend } from '../store/backends.js';
import { asyncRejection } from '../support/errors.js';
import { WORKLOAD, WORKLOAD_PATH, entries, entriesSince, expectNoEntry, expectProblem, sha256, treeSize, useTestServer, type ServerFixture } from './support.js';

const MEASUREMENT = sha256('a');
const T0 = new Date('2026-11-22T12:00:00.000Z');

// One vendor root for the file: certificates are valid around the manual clock's start.
const root: VendorRoot = createVendorRoot({ now: new Date(T0.getTime() - 86_400_000) });
const platform: PlatformIdentity = issuePlatformIdentity(root, { now: new Date(T0.getTime() - 86_400_000), platformId: 'rack1.node1' });
const tee = (measurement = MEASUREMENT, svn = 1) => new SimulatedTee(platform, { measurement, svn, debug: false, configDigests: {} });

const attester = (fixture: ServerFixture, options: { measurement?: string; svn?: number; workload?: string } = {}) =>
  new SimAttester({ server: 'http://covenant.test', workload: options.workload ?? WORKLOAD, tee: tee(options.measurement, options.svn), transport: injectTransport(fixture.server.app) });

async function seedAccepted(fixture: ServerFixture): Promise<void> {
  const steps: [string, unknown][] = [
    ['/v1/workloads', { name: WORKLOAD }],
    [`${WORKLOAD_PATH}/releases`, { version: '1.0.0', class: 'sim', measurements: [MEASUREMENT], securityVersion: 1 }],
  ];
  for (const [url, body] of steps) expect((await fixture.server.signed('POST', url, body)).statusCode).toBe(201);
  const policy = await fixture.server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'first release' });
  expect(policy.statusCode, policy.body).toBe(201);
}

async function jwks(app: FastifyInstance): Promise<{ keys: JsonWebKey[] }> {
  return (await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json();
}

async function newSession(app: FastifyInstance, query = `workload=${encodeURIComponent(WORKLOAD)}`) {
  return app.inject({ method: 'POST', url: `/challenge-response/v1/newSession?${query}` });
}

const instanceKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });
const spkiOf = (key: ReturnType<typeof instanceKey>) => new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' }));

/** Posts a sim report for `nonce` bound to `key`, to the session at `location`. */
async function postEvidence(app: FastifyInstance, location: string, nonce: Uint8Array, key = instanceKey(), options: { boundKey?: ReturnType<typeof instanceKey> } = {}) {
  const evidence = tee().report(nonce, spkiOf(options.boundKey ?? key));
  const payload = Buffer.from(encodeEnvelope({ evidenceType: SIM_MEDIA_TYPE, evidence, instanceKey: spkiOf(key), collateral: [] }));
  return app.inject({ method: 'POST', url: `/challenge-response/v1/${location}`, headers: { 'content-type': ATTESTATION_MEDIA_TYPE }, payload });
}

async function startSession(app: FastifyInstance): Promise<{ location: string; nonce: Uint8Array }> {
  const res = await newSession(app);
  expect(res.statusCode, res.body).toBe(201);
  return { location: String(res.headers.location), nonce: base64url.decode((res.json() as { nonce: string }).nonce) };
}

describeEachBackend('attestation sessions', (backend) => {
  const fixture = useTestServer(backend, { verifiers: [{ plugin: simPlugin, trustAnchors: [root.certificate] }] });

  it('a new session is a fresh 32-byte nonce for an existing workload, expiring in 60 s, with no ledger entry', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    const res = await expectNoEntry(server.app, () => newSession(server.app));
    expect(res.statusCode, res.body).toBe(201);
    expect(res.headers['content-type']).toMatch(/^application\/vnd\.veraison\.challenge-response-session\+json/);
    expect(String(res.headers.location)).toMatch(/^session\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const body = res.json() as { status: string; nonce: string; expiry: string; accept: string[]; workload: string; evidenceTypes: string[] };
    expect(body).toMatchObject({ status: 'waiting', expiry: '2026-11-22T12:01:00.000Z', accept: [ATTESTATION_MEDIA_TYPE], workload: WORKLOAD, evidenceTypes: [SIM_MEDIA_TYPE] });
    expect(base64url.decode(body.nonce)).toHaveLength(32);
    const again = (await newSession(server.app)).json() as { nonce: string };
    expect(again.nonce).not.toBe(body.nonce);
  });

  it('takes the attester\'s nonce or nonce size within 8..64 bytes, and refuses anything else as a 400', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    const proposed = base64url.encode(new Uint8Array(16).fill(7));
    expect(((await newSession(server.app, `workload=${encodeURIComponent(WORKLOAD)}&nonce=${proposed}`)).json() as { nonce: string }).nonce).toBe(proposed);
    const sized = (await newSession(server.app, `workload=${encodeURIComponent(WORKLOAD)}&nonceSize=8`)).json() as { nonce: string };
    expect(base64url.decode(sized.nonce)).toHaveLength(8);
    for (const query of ['nonceSize=7', 'nonceSize=65', 'nonceSize=x', `nonce=${base64url.encode(new Uint8Array(7))}`, `nonce=${base64url.encode(new Uint8Array(65))}`, 'nonce=a+b', `nonce=${proposed}&nonceSize=16`, 'extra=1']) {
      const res = await newSession(server.app, `workload=${encodeURIComponent(WORKLOAD)}&${query}`);
      expect(res.statusCode, `${query}: ${res.body}`).toBe(400);
    }
    expectProblem(await newSession(server.app, ''), 400, 'validation-failed');
    expectProblem(await newSession(server.app, 'workload=no%2Fsuch'), 404, 'not-found');
  });

  it('attests end to end: an affirming EAR bound to the instance key, verifiable with the JWKS', async () => {
    const { server, clock } = fixture();
    await seedAccepted(fixture());
    const subject = attester(fixture());
    const result = await subject.attest();
    expect(result.status).toBe('complete');
    expect(result.appraisal).toMatchObject({ status: 'affirming', release: { version: '1.0.0' }, reasons: [] });

    const claims = await verifyEar(result.token, await jwks(server.app), clock(), { workload: WORKLOAD });
    const submod = claims.submods[WORKLOAD]!;
    expect(submod['ear.status']).toBe('affirming');
    expect(submod['covenant.release']?.version).toBe('1.0.0');
    expect(submod['covenant.tee']).toBe('sim');
    expect(submod['ear.appraisal-policy-id']).toMatch(/^policy:default\/payments\/ingest\/[0-9a-f]{64}$/);
    expect(claims.exp - claims.iat).toBe(600);
    const instanceJwk = subject.instanceKey.publicKey.export({ format: 'jwk' });
    expect(claims.cnf.jwk).toEqual({ kty: 'EC', crv: 'P-256', x: instanceJwk.x, y: instanceJwk.y });
    expect(result.appraisal.instance).toBe(await thumbprintOf(claims.cnf.jwk as JsonWebKey));
  });

  it('records every verdict in the ledger and the fleet inventory, and keeps the evidence', async () => {
    const { server, instance } = fixture();
    await seedAccepted(fixture());
    const subject = attester(fixture());
    const before = await treeSize(server.app);
    const result = await subject.attest();
    const added = (await entries(server.app, `after=${before - 1}`)).filter((e) => e.seq >= before);
    expect(added.map((e) => e.type)).toEqual(['attestation.verdict']);
    const entry = added[0]!;
    expect(entry.actor).toBe(`instance:${result.appraisal.instance}`);
    expect(entry.workload).toBe(WORKLOAD);
    const verdict = entry.payload as AttestationVerdict;
    expect(verdict).toMatchObject({
      instance: result.appraisal.instance,
      status: 'affirming',
      reasons: [],
      release: { version: '1.0.0' },
      claims: { teeClass: 'sim', measurements: [MEASUREMENT], securityVersion: 1, debug: false, config: {} },
      evidence: { type: SIM_MEDIA_TYPE },
    });
    expect(result.appraisal.policy.endsWith(`/${verdict.policy}`)).toBe(true);

    const db = instance.store.db;
    const row = await db.selectFrom('instances').selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ workload: WORKLOAD, instance: result.appraisal.instance, tee: 'sim', release: '1.0.0', status: 'affirming', verdict_seq: entry.seq, evidence_digest: verdict.evidence.digest });
    const attachment = await db.selectFrom('attachments').selectAll().where('digest', '=', verdict.evidence.digest).executeTakeFirstOrThrow();
    expect(`sha256:${createHash('sha256').update(attachment.body).digest('hex')}`).toBe(verdict.evidence.digest);
    expect(attachment.media_type).toBe(ATTESTATION_MEDIA_TYPE);
    expect(JSON.parse(attachment.meta)).toMatchObject({ claims: { teeClass: 'sim', reportData: expect.stringMatching(/^[0-9a-f]{128}$/) } });
    expect(attachment.expires_at).toBe('2026-11-23T12:00:00.000Z');

    // A second attestation of the same instance updates its row, keeping first_seen.
    fixture().clock.advance(5_000);
    const second = await new SimAttester({ server: 'http://covenant.test', workload: WORKLOAD, tee: tee(), instanceKey: subject.instanceKey, transport: injectTransport(server.app) }).attest();
    expect(second.appraisal.instance).toBe(result.appraisal.instance);
    const rows = await db.selectFrom('instances').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ first_seen: row.first_seen, last_seen: '2026-11-22T12:00:05.000Z' });
  });

  it('contraindicates an unknown measurement, and a workload without a policy, with their reasons', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    const unknown = await attester(fixture(), { measurement: sha256('b') }).attest();
    expect(unknown.appraisal.status).toBe('contraindicated');
    expect(unknown.appraisal.reasons.map((r) => r.code)).toEqual(['no-matching-release']);
    const claims = await verifyEar(unknown.token, await jwks(server.app), fixture().clock(), {});
    expect(claims.submods[WORKLOAD]!['ear.status']).toBe('contraindicated');

    expect((await server.signed('POST', '/v1/workloads', { name: 'bare/workload' })).statusCode).toBe(201);
    const bare = await attester(fixture(), { workload: 'bare/workload' }).attest();
    expect(bare.appraisal).toMatchObject({ status: 'contraindicated', policy: 'policy:default/bare/workload/none' });
    expect(bare.appraisal.reasons.map((r) => r.code)).toEqual(['no-policy']);
  });

  it('a new policy version changes the next verdict (memoised appraisals are per policy version)', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    expect((await attester(fixture()).attest()).appraisal.status).toBe('affirming');
    const retire = await server.signed('POST', `${WORKLOAD_PATH}/policy`, { remove: ['1.0.0'], reason: 'retire 1.0.0' });
    expect(retire.statusCode, retire.body).toBe(201);
    fixture().clock.advance(1);
    const after = await attester(fixture()).attest();
    expect(after.appraisal.status).toBe('contraindicated');
    expect(after.appraisal.reasons.map((r) => r.code)).toEqual(['no-matching-release', 'release-not-accepted']);

    // A release registered and accepted later is seen at once (cached reads key on the release count and policy id).
    expect((await server.signed('POST', `${WORKLOAD_PATH}/releases`, { version: '1.1.0', class: 'sim', measurements: [sha256('c')], securityVersion: 2 })).statusCode).toBe(201);
    expect((await attester(fixture(), { measurement: sha256('c'), svn: 2 }).attest()).appraisal.reasons.map((r) => r.code)).toEqual(['no-matching-release', 'release-not-accepted']);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.1.0'], reason: 'phase in 1.1.0' })).statusCode).toBe(201);
    fixture().clock.advance(1);
    expect((await attester(fixture(), { measurement: sha256('c'), svn: 2 }).attest()).appraisal).toMatchObject({ status: 'affirming', release: { version: '1.1.0' } });
  });

  it('a nonce is single-use: a replayed session is a 409 with no second verdict', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    const { location, nonce } = await startSession(server.app);
    const key = instanceKey();
    expect((await postEvidence(server.app, location, nonce, key)).statusCode).toBe(200);
    expectProblem(await expectNoEntry(server.app, () => postEvidence(server.app, location, nonce, key)), 409, 'conflict');
  });

  it('concurrent submissions to one session: exactly one verdict', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    const { location, nonce } = await startSession(server.app);
    const before = await treeSize(server.app);
    const results = await Promise.all(Array.from({ length: 8 }, () => postEvidence(server.app, location, nonce)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([200, 409, 409, 409, 409, 409, 409, 409]);
    expect(await treeSize(server.app)).toBe(before + 1);
  });

  it('an expired session is a 410, a forged or altered one a 404, neither ledgered', async () => {
    const { server, clock } = fixture();
    await seedAccepted(fixture());
    const { location, nonce } = await startSession(server.app);
    const [payload, mac] = location.slice('session/'.length).split('.') as [string, string];
    const forged = JSON.parse(Buffer.from(base64url.decode(payload)).toString()) as { e: number };
    forged.e += 3600;
    const altered = `session/${base64url.encode(JSON.stringify(forged))}.${mac}`;
    expectProblem(await expectNoEntry(server.app, () => postEvidence(server.app, altered, nonce)), 404, 'not-found');
    expectProblem(await postEvidence(server.app, `${location.slice(0, -2)}AA`, nonce), 404, 'not-found');
    expectProblem(await postEvidence(server.app, 'session/nothing', nonce), 404, 'not-found');
    clock.advance(60_000);
    expectProblem(await expectNoEntry(server.app, () => postEvidence(server.app, location, nonce)), 410, 'session-expired');
    expectProblem(await server.app.inject({ method: 'GET', url: `/challenge-response/v1/${location}` }), 410, 'session-expired');
  });

  it('evidence that does not bind the nonce or the posted key: 422, ledgered, session spent, inventory untouched', async () => {
    const { server, instance } = fixture();
    await seedAccepted(fixture());
    const cases: [string, (location: string, nonce: Uint8Array) => ReturnType<typeof postEvidence>][] = [
      ['another nonce', (location, nonce) => postEvidence(server.app, location, new Uint8Array(nonce.length).fill(1))],
      ['another key', (location, nonce) => postEvidence(server.app, location, nonce, instanceKey(), { boundKey: instanceKey() })],
    ];
    for (const [name, post] of cases) {
      const { location, nonce } = await startSession(server.app);
      const before = await treeSize(server.app);
      const problem = expectProblem(await post(location, nonce), 422, 'evidence-invalid');
      expect(problem.detail, name).toMatch(/does not bind this session's nonce and the instance key/);
      const [entry] = (await entries(server.app, `after=${before - 1}`)).filter((e) => e.seq >= before);
      const verdict = entry!.payload as AttestationVerdict;
      expect(verdict).toMatchObject({ status: 'contraindicated', policy: null, reasons: [{ code: 'evidence-invalid:nonce', severity: 'contraindicated' }] });
      expect(verdict.claims).toBeUndefined();
      expectProblem(await postEvidence(server.app, location, nonce), 409, 'conflict');
    }
    expect(await instance.store.db.selectFrom('instances').selectAll().execute()).toEqual([]);
    expect(await instance.store.db.selectFrom('attachments').selectAll().execute()).toEqual([]);
  });

  it('evidence from a platform the verifier does not trust is refused for its chain', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    const stranger = issuePlatformIdentity(createVendorRoot({ now: new Date(T0.getTime() - 1000) }), { now: new Date(T0.getTime() - 1000), platformId: 'rogue' });
    const rogue = new SimAttester({ server: 'http://covenant.test', workload: WORKLOAD, tee: new SimulatedTee(stranger, { measurement: MEASUREMENT, svn: 1, debug: false, configDigests: {} }), transport: injectTransport(server.app) });
    const refused = await asyncRejection(rogue.attest(), AttestationRefused);
    expect(refused.type).toBe('evidence-invalid');
    expect(refused.httpStatus).toBe(422);
  });

  it('shows and discards sessions', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    const { location, nonce } = await startSession(server.app);
    const show = () => server.app.inject({ method: 'GET', url: `/challenge-response/v1/${location}` });
    expect((await show()).json()).toMatchObject({ status: 'waiting', workload: WORKLOAD });
    expect((await postEvidence(server.app, location, nonce)).statusCode).toBe(200);
    expect((await show()).json()).toMatchObject({ status: 'complete' });

    const other = await startSession(server.app);
    expect((await server.app.inject({ method: 'DELETE', url: `/challenge-response/v1/${other.location}` })).statusCode).toBe(204);
    expect((await server.app.inject({ method: 'GET', url: `/challenge-response/v1/${other.location}` })).json()).toMatchObject({ status: 'deleted' });
    expectProblem(await postEvidence(server.app, other.location, other.nonce), 409, 'conflict');
  });

  it('bad documents are 4xx problems that spend nothing', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    const { location, nonce } = await startSession(server.app);
    const url = `/challenge-response/v1/${location}`;
    const post = (payload: string, contentType = ATTESTATION_MEDIA_TYPE) => server.app.inject({ method: 'POST', url, headers: { 'content-type': contentType }, payload });
    const key = spkiOf(instanceKey());
    const good = JSON.parse(Buffer.from(encodeEnvelope({ evidenceType: SIM_MEDIA_TYPE, evidence: tee().report(nonce, key), instanceKey: key, collateral: [] })).toString()) as Record<string, unknown>;
    const variants: [string, number, string][] = [
      ['{', 400, 'bad-request'],
      ['[]', 400, 'bad-request'],
      [JSON.stringify({ ...good, extra: 1 }), 400, 'bad-request'],
      [JSON.stringify({ ...good, instanceKey: 'not base64!' }), 400, 'bad-request'],
      [JSON.stringify({ ...good, instanceKey: Buffer.from('junk').toString('base64') }), 400, 'bad-request'],
      [JSON.stringify({ ...good, evidence: { type: 'application/x-unknown', value: 'AAAA' } }), 415, 'unsupported-media-type'],
    ];
    for (const [payload, status, slug] of variants) expectProblem(await expectNoEntry(server.app, () => post(payload)), status, slug);
    expectProblem(await post(JSON.stringify(good), 'application/json'), 415, 'unsupported-media-type');
    expect(expectProblem(await post(JSON.stringify(good), 'text/plain'), 415, 'unsupported-media-type').detail).toMatch(/"text\/plain" is not accepted here/);
    // Nothing above spent the session.
    expect((await post(JSON.stringify(good))).statusCode).toBe(200);
  });

  it('random documents and session ids never cause a 5xx', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    const { location } = await startSession(server.app);
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.json(), fc.uint8Array().map((b) => Buffer.from(b).toString('latin1'))), fc.string({ maxLength: 700 }), async (payload, id) => {
        for (const url of [`/challenge-response/v1/${location}`, `/challenge-response/v1/session/${encodeURIComponent(id)}`]) {
          const res = await server.app.inject({ method: 'POST', url, headers: { 'content-type': ATTESTATION_MEDIA_TYPE }, payload });
          expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400);
          expect(res.statusCode, res.body).toBeLessThan(500);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('member routes still demand signatures; attestation routes need none', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    expectProblem(await server.app.inject({ method: 'POST', url: '/v1/workloads', headers: { 'content-type': 'application/json' }, payload: '{"name":"x/y"}' }), 401);
    expect((await newSession(server.app)).statusCode).toBe(201);
  });
});

describeEachBackend('policy dry-run and retention', (backend) => {
  const fixture = useTestServer(backend, { verifiers: [{ plugin: simPlugin, trustAnchors: [root.certificate] }] });
  const dryRun = (body: unknown, workload = WORKLOAD_PATH) => fixture().server.signed('POST', `${workload}/policy/dry-run`, body);

  it('re-appraises every known instance against a candidate, changing nothing', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    const good = await attester(fixture()).attest();
    const bad = await attester(fixture(), { measurement: sha256('b') }).attest();
    const current = (await server.app.inject({ method: 'GET', url: `${WORKLOAD_PATH}/policy` })).json() as { id: string };

    const same = await expectNoEntry(server.app, () => dryRun({ version: current.id.slice(0, 12) }));
    expect(same.statusCode, same.body).toBe(200);
    const sameBody = same.json() as { candidate: string; instances: { instance: string; current: string; wouldBe: string }[]; counts: Record<string, number> };
    expect(sameBody.candidate).toBe(current.id);
    expect(sameBody.counts).toEqual({ affirming: 1, warning: 0, contraindicated: 1, unavailable: 0 });
    expect(sameBody.instances.find((i) => i.instance === good.appraisal.instance)).toMatchObject({ current: 'affirming', wouldBe: 'affirming', release: '1.0.0', tee: 'sim' });

    const retire = await expectNoEntry(server.app, () => dryRun({ update: { remove: ['1.0.0'] } }));
    expect(retire.statusCode, retire.body).toBe(200);
    const retired = retire.json() as { candidate: string; instances: { instance: string; wouldBe: string; reasons: { code: string }[] }[]; counts: Record<string, number> };
    expect(retired.candidate).not.toBe(current.id);
    expect(retired.counts).toEqual({ affirming: 0, warning: 0, contraindicated: 2, unavailable: 0 });
    expect(retired.instances.find((i) => i.instance === good.appraisal.instance)?.reasons.map((r) => r.code)).toEqual(['no-matching-release', 'release-not-accepted']);
    expect(retired.instances.find((i) => i.instance === bad.appraisal.instance)?.reasons.map((r) => r.code)).toEqual(['no-matching-release']);
    // Still the same policy in force.
    expect(((await server.app.inject({ method: 'GET', url: `${WORKLOAD_PATH}/policy` })).json() as { id: string }).id).toBe(current.id);

    // A rule tightening the candidate: the CEL rules run on the retained claims.
    const rule = (await dryRun({ update: { rules: { svn_two: 'svn >= 2' } } })).json() as { instances: { instance: string; reasons: { code: string }[] }[] };
    expect(rule.instances.find((i) => i.instance === good.appraisal.instance)?.reasons.map((r) => r.code)).toEqual(['rule-failed:svn_two']);
  });

  it('refuses bad candidates as 4xx', async () => {
    await seedAccepted(fixture());
    expectProblem(await dryRun({}), 400, 'validation-failed');
    expectProblem(await dryRun({ version: 'abcdef01', update: {} }), 400, 'validation-failed');
    expectProblem(await dryRun({ version: 'abcdef01' }), 404, 'not-found');
    expectProblem(await dryRun({ update: { accept: ['9.9.9'] } }), 422, 'unknown-release');
    expectProblem(await dryRun({ update: { rules: { broken: 'svn >=' } } }), 422, 'invalid-rule');
    expectProblem(await dryRun({ version: 'abcdef01' }, '/v1/workloads/no%2Fsuch'), 404, 'not-found');
  });

  it('retention drops expired sessions and old evidence, but keeps each instance\'s latest for dry runs', async () => {
    const { server, clock, instance } = fixture();
    await seedAccepted(fixture());
    const subject = attester(fixture());
    await subject.attest();
    clock.advance(1000);
    const again = new SimAttester({ server: 'http://covenant.test', workload: WORKLOAD, tee: tee(), instanceKey: subject.instanceKey, transport: injectTransport(server.app) });
    await again.attest();
    const db = instance.store.db;
    expect(await db.selectFrom('attachments').select('digest').execute()).toHaveLength(2);
    expect(await db.selectFrom('attestation_sessions').select('id').execute()).toHaveLength(2);

    await pruneAttestationState(instance.store, new Date(clock().getTime() + 2 * 86_400_000));
    const kept = await db.selectFrom('attachments').select('digest').execute();
    const latest = await db.selectFrom('instances').select('evidence_digest').executeTakeFirstOrThrow();
    expect(kept.map((k) => k.digest)).toEqual([latest.evidence_digest]);
    expect(await db.selectFrom('attestation_sessions').select('id').execute()).toEqual([]);

    // Once an instance's evidence is gone, a dry run says so instead of guessing.
    await db.deleteFrom('attachments').execute();
    const res = (await dryRun({ update: { floor: 1 } })).json() as { counts: Record<string, number>; instances: { wouldBe: string }[] };
    expect(res.counts).toEqual({ affirming: 0, warning: 0, contraindicated: 0, unavailable: 1 });
  });
  it('forgets instances not seen for the inventory retention, through the ledger, and keeps the rest', async () => {
    const { server, clock, instance } = fixture();
    await seedAccepted(fixture());
    const old = await attester(fixture()).attest();
    clock.advance(10 * 86_400_000);
    const recent = await attester(fixture()).attest();
    const db = instance.store.db;
    const cp = server.cp;

    // Nothing is older than 30 days yet: no entry at all.
    const quiet = await treeSize(server.app);
    expect(await cp.execute(server.tenant, pruneInventory(30 * 86_400))).toBe(0);
    expect(await treeSize(server.app)).toBe(quiet);
    clock.advance(21 * 86_400_000);
    const before = await treeSize(server.app);
    expect(await cp.execute(server.tenant, pruneInventory(30 * 86_400))).toBe(1);
    const [pruned, ...more] = await entriesSince(server.app, before);
    expect(more).toEqual([]);
    expect(pruned).toMatchObject({ type: 'fleet.inventory-pruned', actor: 'system:retention', payload: { before: new Date(clock().getTime() - 30 * 86_400_000).toISOString(), instances: 1 } });
    expect((await db.selectFrom('instances').select('instance').execute()).map((row) => row.instance)).toEqual([recent.appraisal.instance]);
    // The forgotten instance's latest evidence is no longer anyone's latest: retention may drop it.
    await pruneAttestationState(instance.store, new Date(clock().getTime() + 2 * 86_400_000));
    expect(await db.selectFrom('attachments').select('digest').execute()).toHaveLength(1);
    // Its verdicts stay in the ledger.
    expect((await entries(server.app, 'limit=1000')).some((e) => e.type === 'attestation.verdict' && (e.payload as AttestationVerdict).instance === old.appraisal.instance)).toBe(true);
  });
});

describeEachBackend('POST /v1/tokens/check', (backend) => {
  const fixture = useTestServer(backend, { verifiers: [{ plugin: simPlugin, trustAnchors: [root.certificate] }] });
  const check = (token: unknown) =>
    fixture().server.app.inject({ method: 'POST', url: '/v1/tokens/check', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ token }) });
  const answer = async (token: unknown) => {
    const res = await expectNoEntry(fixture().server.app, () => check(token));
    expect(res.statusCode, res.body).toBe(200);
    return res.json() as { valid: boolean; reasons: string[] };
  };

  it('a token stands while its release is accepted, and falls at once when a new policy drops it', async () => {
    const { server, clock } = fixture();
    await seedAccepted(fixture());
    const { token } = await attester(fixture()).attest();
    expect(await answer(token)).toEqual({ valid: true, reasons: [] });

    // Phasing a second release in keeps 1.0.0 accepted: the token still stands.
    expect((await server.signed('POST', `${WORKLOAD_PATH}/releases`, { version: '1.1.0', class: 'sim', measurements: [sha256('c')], securityVersion: 2 })).statusCode).toBe(201);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.1.0'], reason: 'phase in' })).statusCode).toBe(201);
    expect((await answer(token)).valid).toBe(true);

    expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { remove: ['1.0.0'], reason: 'complete' })).statusCode).toBe(201);
    const after = await answer(token);
    expect(after.valid).toBe(false);
    expect(after.reasons).toEqual([expect.stringMatching(/^payments\/ingest: release 1\.0\.0 is no longer accepted \(policy version 3, [0-9a-f]{64}\)$/)]);

    // And expiry, whatever the policy says.
    clock.advance(3_600_000);
    expect((await answer(token)).reasons).toEqual([expect.stringMatching(/^EAR expired/)]);
  });

  it('a contraindicated verdict, a forged token or a foreign one never stands', async () => {
    await seedAccepted(fixture());
    const unknown = await attester(fixture(), { measurement: sha256('b') }).attest();
    expect(await answer(unknown.token)).toEqual({ valid: false, reasons: ['payments/ingest: the verdict was contraindicated'] });
    const { token } = await attester(fixture()).attest();
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const forged = `${header}.${payload}.${signature.slice(0, -4)}AAAA`;
    expect((await answer(forged)).reasons).toEqual(['EAR signature does not verify']);
    expect((await answer('not a token')).valid).toBe(false);
  });

  it('needs no signature, and refuses a body without a token string as a 400', async () => {
    await seedAccepted(fixture());
    expectProblem(await check(42), 400, 'validation-failed');
    expectProblem(await fixture().server.app.inject({ method: 'POST', url: '/v1/tokens/check', headers: { 'content-type': 'application/json' }, payload: '{}' }), 400, 'validation-failed');
  });
});

describeEachBackend('attestation admission (no storm)', (backend) => {
  const fixture = useTestServer(backend, {
    verifiers: [{ plugin: simPlugin, trustAnchors: [root.certificate] }],
    admission: { ratePerSecond: 1, burst: 2, maxInFlight: 4 },
  });

  it('beyond the rate: 429 problem with a jittered Retry-After, nothing ledgered; later admitted', async () => {
    const { server, clock } = fixture();
    await seedAccepted(fixture());
    expect((await newSession(server.app)).statusCode).toBe(201);
    expect((await newSession(server.app)).statusCode).toBe(201);
    const refused = await expectNoEntry(server.app, () => newSession(server.app));
    expectProblem(refused, 429, 'rate-limited');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(refused.headers['retry-after'])).toBeLessThanOrEqual(2);
    clock.advance(1000);
    expect((await newSession(server.app)).statusCode).toBe(201);
  });

  it('the simulated attester waits out a 429 and succeeds', async () => {
    const { server, clock } = fixture();
    await seedAccepted(fixture());
    expect((await newSession(server.app)).statusCode).toBe(201);
    expect((await newSession(server.app)).statusCode).toBe(201);
    const waits: number[] = [];
    const patient = new SimAttester({
      server: 'http://covenant.test',
      workload: WORKLOAD,
      tee: tee(),
      transport: injectTransport(server.app),
      sleep: async (seconds) => {
        waits.push(seconds);
        clock.advance(seconds * 1000);
      },
    });
    expect((await patient.attest()).appraisal.status).toBe('affirming');
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(1);
    // One that gives up at once reports the refusal.
    while ((await newSession(server.app)).statusCode === 201);
    const impatient = new SimAttester({ server: 'http://covenant.test', workload: WORKLOAD, tee: tee(), transport: injectTransport(server.app), maxRetries: 0 });
    const refused = await asyncRejection(impatient.attest(), AttestationRefused);
    expect([refused.type, refused.httpStatus]).toEqual(['rate-limited', 429]);
  });
});

describe('instance keys', () => {
  it('are thumbprinted as their public JWK', async () => {
    const key = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const jwk = jwkFromSpki(new Uint8Array(key.publicKey.export({ type: 'spki', format: 'der' })));
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-384' });
    expect(await thumbprintOf(jwk)).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});

describeEachBackend('a server started without the simulated TEE', (backend) => {
  const fixture = useTestServer(backend, { verifiers: [{ plugin: nitroPlugin, trustAnchors: [] }] });

  it('refuses sim evidence with 415, saying the vendor root is read at start (sim init, then restart)', async () => {
    const { server } = fixture();
    await seedAccepted(fixture());
    const { location, nonce } = await startSession(server.app);
    const problem = expectProblem(await expectNoEntry(server.app, () => postEvidence(server.app, location, nonce)), 415, 'unsupported-media-type');
    expect(problem.detail).toContain('run `covenant sim init`, then restart the server');
  });
});
