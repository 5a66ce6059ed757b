/**
 * GET /v1/evidence/<digest> (issue 13): the retained attestation document, byte for
 * byte, with where its verdict is, on both backends; 404 once pruned or never kept, 400
 * for a malformed digest, and never an attachment that is not evidence.
 */
import { createHash } from 'node:crypto';
import { decodeJwt } from 'jose';
import { expect, it } from 'vitest';
import { pruneAttestationState } from '../../src/app/retention.js';
import { simPlugin } from '../../src/evidence/sim/index.js';
import { SimAttester } from '../../src/sim/attester.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity } from '../../src/sim/vendor.js';
import { ATTESTATION_MEDIA_TYPE, parseEnvelope } from '../../src/verifier/envelope.js';
import type { AttestationVerdict } from '../../src/verifier/verdict.js';
import { describeEachBackend } from '../store/backends.js';
import { injectTransport } from '../support/fleet.js';
import { WORKLOAD, WORKLOAD_PATH, entries, expectNoEntry, expectProblem, sha256, useTestServer, type ServerFixture } from './support.js';

const MEASUREMENT = sha256('a');
const DAY = 86_400_000;
const T0 = new Date('2026-11-22T12:00:00.000Z');
const root = createVendorRoot({ now: new Date(T0.getTime() - DAY) });
const platform = issuePlatformIdentity(root, { now: new Date(T0.getTime() - DAY), platformId: 'rack1.node1' });

interface Exported {
  digest: string;
  mediaType: string;
  size: number;
  body: string;
  workload: string | null;
  instance: string | null;
  verdict: number | null;
  receivedAt: string | null;
}

async function seedAccepted(fixture: ServerFixture): Promise<void> {
  const { server } = fixture;
  expect((await server.signed('POST', '/v1/workloads', { name: WORKLOAD })).statusCode).toBe(201);
  expect((await server.signed('POST', `${WORKLOAD_PATH}/releases`, { version: '1.0.0', class: 'sim', measurements: [MEASUREMENT] })).statusCode).toBe(201);
  expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'first release' })).statusCode).toBe(201);
}

const attester = (fixture: ServerFixture, instanceKey?: SimAttester['instanceKey']) =>
  new SimAttester({
    server: 'http://covenant.test',
    workload: WORKLOAD,
    tee: new SimulatedTee(platform, { measurement: MEASUREMENT, svn: 0, debug: false, configDigests: {} }),
    transport: injectTransport(fixture.server.app),
    ...(instanceKey === undefined ? {} : { instanceKey }),
  });

const exportEvidence = (fixture: ServerFixture, digest: string) => fixture.server.app.inject({ method: 'GET', url: `/v1/evidence/${digest}` });

describeEachBackend('GET /v1/evidence/<digest>', (backend) => {
  const fixture = useTestServer(backend, { verifiers: [{ plugin: simPlugin, trustAnchors: [root.certificate] }] });

  it('returns the exact bytes its verdict names, which re-verify offline at the time they were checked', async () => {
    await seedAccepted(fixture());
    const { clock } = fixture();
    const receivedAt = clock().toISOString();
    const result = await attester(fixture()).attest();
    const verdict = (await entries(fixture().server.app, 'type=attestation.verdict')).at(-1)!;
    const digest = (verdict.payload as AttestationVerdict).evidence.digest;
    // The token names the same document.
    expect(decodeJwt(result.token)['covenant.evidence']).toBe(digest);

    const res = await expectNoEntry(fixture().server.app, () => exportEvidence(fixture(), digest));
    expect(res.statusCode, res.body).toBe(200);
    const exported = res.json() as Exported;
    const bytes = Buffer.from(exported.body, 'base64');
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(digest);
    expect(exported).toEqual({
      digest,
      mediaType: ATTESTATION_MEDIA_TYPE,
      size: bytes.length,
      body: exported.body,
      workload: WORKLOAD,
      instance: result.appraisal.instance,
      verdict: verdict.seq,
      receivedAt,
    });

    const envelope = parseEnvelope(bytes);
    const claims = await simPlugin.verify(envelope.evidence, { now: new Date(receivedAt), trustAnchors: [root.certificate] });
    expect(claims.measurements).toEqual([{ alg: 'sha256', hex: 'a'.repeat(64) }]);
    // A colon sent percent-encoded is the same digest.
    expect((await exportEvidence(fixture(), digest.replace(':', '%3A'))).statusCode).toBe(200);
  });

  it('is a 404 once retention has pruned the document, and for a digest never kept', async () => {
    await seedAccepted(fixture());
    const { clock, instance } = fixture();
    const first = attester(fixture());
    await first.attest();
    const [older] = await entries(fixture().server.app, 'type=attestation.verdict');
    clock.advance(1000);
    // The same instance again: the first document is no longer its latest, so retention may drop it.
    await attester(fixture(), first.instanceKey).attest();
    const digest = (older!.payload as AttestationVerdict).evidence.digest;
    expect((await exportEvidence(fixture(), digest)).statusCode).toBe(200);

    await pruneAttestationState(instance.store, new Date(clock().getTime() + 2 * DAY));
    const gone = expectProblem(await exportEvidence(fixture(), digest), 404, 'not-found');
    expect(gone.detail).toMatch(/pruned after its retention/);
    expectProblem(await exportEvidence(fixture(), sha256('0')), 404, 'not-found');
  });

  it('never serves an attachment that is not attestation evidence (sealed values, collateral)', async () => {
    const { instance } = fixture();
    const digest = sha256('5');
    await instance.store.db
      .insertInto('attachments')
      .values({ tenant: 'default', digest, media_type: 'application/vnd.covenant.sealed', body: new Uint8Array([1, 2, 3]), meta: '{}', expires_at: '9999-12-31T00:00:00.000Z' })
      .execute();
    expectProblem(await exportEvidence(fixture(), digest), 404, 'not-found');
  });

  it('refuses a malformed digest as a 400', async () => {
    for (const digest of ['abc', `sha256:${'A'.repeat(64)}`, `sha256:${'a'.repeat(63)}`, `sha256:${'a'.repeat(65)}`, `sha384:${'a'.repeat(96)}`, 'a'.repeat(64), `sha256:${'a'.repeat(64)}%00`]) {
      const res = await exportEvidence(fixture(), digest);
      expectProblem(res, 400);
    }
  });
});
