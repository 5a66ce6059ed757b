/**
 * What a member's signature binds (red-team issue 13): the exact body bytes whatever
 * the media type, and the deployment it is addressed to (`@authority`), so a request
 * cannot be given another body or replayed to another deployment enrolling the same
 * key. On both backends; every refusal changes nothing.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { signRequest } from '../../src/ceremony/signed-request.js';
import { buildServer } from '../../src/server/app.js';
import { authenticate } from '../../src/server/auth.js';
import { Metrics } from '../../src/server/metrics.js';
import { ATTESTATION_MEDIA_TYPE } from '../../src/verifier/envelope.js';
import { describeEachBackend } from '../store/backends.js';
import { asyncRejection } from '../support/errors.js';
import { INJECT_AUTHORITY } from '../support/control-plane.js';
import { expectNoEntry, expectProblem, signatureHeaders, useTestServer, type ServerFixture } from './support.js';

const BODY = JSON.stringify({ name: 'payments/ingest' });

/** Headers of `fixture`'s admin over POST /v1/workloads with `body`, addressed to `authority`. */
const signedFor = (fixture: ServerFixture, authority: string | undefined, body: string | undefined = BODY): Record<string, string> =>
  signRequest({
    method: 'POST',
    ...(authority === undefined ? {} : { authority }),
    path: '/v1/workloads',
    body,
    keyId: fixture.server.admin.name,
    alg: fixture.server.admin.alg,
    privateKey: fixture.server.admin.privateKey,
    created: fixture.clock(),
  });

const post = (app: FastifyInstance, headers: Record<string, string>, contentType = 'application/json', payload = BODY) =>
  app.inject({ method: 'POST', url: '/v1/workloads', headers: { ...headers, 'content-type': contentType }, payload });

describeEachBackend('signed request binding', (backend) => {
  const fx = useTestServer(backend);

  describe('the body', () => {
    it('is bound whatever its media type: a signature over the empty body does not carry one', async () => {
      const fixture = fx();
      const overEmpty = signatureHeaders(fixture, 'POST', '/v1/workloads', undefined);
      const json = await expectNoEntry(fixture.server.app, () => post(fixture.server.app, overEmpty));
      expectProblem(json, 401, 'signature-invalid');
      const raw = await expectNoEntry(fixture.server.app, () => post(fixture.server.app, signatureHeaders(fixture, 'POST', '/v1/workloads', undefined), ATTESTATION_MEDIA_TYPE));
      expectProblem(raw, 415, 'unsupported-media-type');
      // The signed route that lives beside the evidence route takes no raw body either.
      const dryRun = await fixture.server.app.inject({
        method: 'POST',
        url: '/v1/workloads/x/policy/dry-run',
        headers: { ...signatureHeaders(fixture, 'POST', '/v1/workloads/x/policy/dry-run', undefined), 'content-type': ATTESTATION_MEDIA_TYPE },
        payload: '{"version":"1.0.0"}',
      });
      expectProblem(dryRun, 415, 'unsupported-media-type');
    });

    it('is refused by authentication when a body was parsed but its bytes were not kept', async () => {
      const fixture = fx();
      const headers = signatureHeaders(fixture, 'POST', '/v1/workloads', undefined);
      const request = { method: 'POST', url: '/v1/workloads', headers: { ...headers, host: 'localhost:80' }, body: { x: 1 } } as unknown as FastifyRequest;
      const error = await asyncRejection(authenticate(request, fixture.server.tenant, { store: fixture.instance.store, clock: fixture.clock, windowSeconds: 300 }));
      expect(error.type).toBe('signature-invalid');
    });
  });

  describe('the authority', () => {
    it('is covered: a request signed for this deployment is served', async () => {
      const fixture = fx();
      const headers = signedFor(fixture, INJECT_AUTHORITY);
      expect(headers['signature-input']).toMatch(/^sig1=\("@method" "@authority" "@path" "@query" "content-digest"\);/);
      expect((await post(fixture.server.app, headers)).statusCode).toBe(201);
    });

    it('refuses a request signed for another deployment, sent as is or with its Host forged to match', async () => {
      const fixture = fx();
      const elsewhere = signedFor(fixture, 'covenant.other.example');
      expectProblem(await expectNoEntry(fixture.server.app, () => post(fixture.server.app, elsewhere)), 401, 'signature-invalid');
      // Addressed to us by name, but delivered with another Host: not for this name either.
      const forged = await expectNoEntry(fixture.server.app, () => post(fixture.server.app, { ...signedFor(fixture, INJECT_AUTHORITY), host: 'covenant.other.example' }));
      expectProblem(forged, 401, 'signature-invalid');
    });

    it('refuses a signature that does not cover the authority at all', async () => {
      const fixture = fx();
      const res = await expectNoEntry(fixture.server.app, () => post(fixture.server.app, signedFor(fixture, undefined)));
      expect(expectProblem(res, 401, 'signature-invalid').detail).toMatch(/"@authority"/);
    });
  });
});

describe('signed request binding to configured authorities', () => {
  /** A server answering signed requests for `covenant.example` only, on the fixture's control plane. */
  const pinned = async (fixture: ServerFixture): Promise<FastifyInstance> =>
    buildServer({
      cp: fixture.server.cp,
      tenant: fixture.server.tenant,
      metrics: new Metrics(),
      version: 'test',
      tokenKeys: [{ key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey }],
      authorities: ['Covenant.Example:443'],
    });

  describeEachBackend('', (backend) => {
    const fx = useTestServer(backend);

    it('refuses a request signed for another authority even when its Host matches the signature', async () => {
      const fixture = fx();
      const app = await pinned(fixture);
      try {
        const replayed = await post(app, { ...signedFor(fixture, 'covenant.other.example'), host: 'covenant.other.example' });
        expect(expectProblem(replayed, 401, 'signature-invalid').detail).toMatch(/authority this deployment does not answer for/);
        // The configured name, in any spelling that normalises to it, is served.
        const served = await post(app, { ...signedFor(fixture, 'covenant.example'), host: 'COVENANT.example:443' });
        expect(served.statusCode, served.body).toBe(201);
      } finally {
        await app.close();
      }
    });
  });
});
