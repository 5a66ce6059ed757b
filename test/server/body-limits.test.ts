/**
 * Bounded cost of hostile bodies at the HTTP edge (red-team issue 13): the raw
 * attestation media type is taken by the evidence route only (415 everywhere else,
 * before the body is parsed), and validation problems list a bounded number of short
 * issues however many the body provokes. On both backends; nothing is ledgered.
 */
import { describe, expect, it } from 'vitest';
import { MAX_JSON_MEMBERS } from '../../src/server/app.js';
import { ATTESTATION_MEDIA_TYPE } from '../../src/verifier/envelope.js';
import { describeEachBackend } from '../store/backends.js';
import { expectNoEntry, expectProblem, mutatingRoutes, useTestServer } from './support.js';

/** The one route whose body is attestation evidence, posted raw. */
const EVIDENCE_ROUTE = 'POST /challenge-response/v1/session/:id';
/** Problem documents stay small whatever the request was. */
const SMALL = 8 * 1024;
const MAX_LISTED_ISSUES = 20;

/** A concrete URL for a route pattern: every parameter and wildcard becomes `x`. */
const concrete = (url: string): string => url.replace(/:[^/]+/g, 'x').replace(/\*/g, 'x');

describeEachBackend('HTTP body limits', (backend) => {
  const fx = useTestServer(backend);

  describe('the attestation media type', () => {
    it('is refused with 415 on every mutating route but evidence submission, ledgering nothing', async () => {
      const { server } = fx();
      const routes = mutatingRoutes(server.app).filter((route) => route !== EVIDENCE_ROUTE);
      expect(routes).toContain('POST /v1/tokens/check');
      expect(routes).toContain('POST /v1/workloads/:workload/gates/argo');
      const payload = 'x'.repeat(64 * 1024);
      for (const route of routes) {
        const [method, url] = route.split(' ') as [string, string];
        const res = await expectNoEntry(server.app, () =>
          server.app.inject({ method: method as 'POST', url: concrete(url), headers: { 'content-type': ATTESTATION_MEDIA_TYPE }, payload }),
        );
        expect(res.statusCode, `${route}: ${res.body.slice(0, 200)}`).toBe(415);
        expect(res.body.length, route).toBeLessThan(SMALL);
      }
    });

    it('is refused on a route that takes JSON with a problem naming the media types accepted', async () => {
      const { server } = fx();
      const res = await server.app.inject({ method: 'POST', url: '/v1/tokens/check', headers: { 'content-type': `${ATTESTATION_MEDIA_TYPE}; charset=utf-8` }, payload: 'x'.repeat(1000) });
      expect(expectProblem(res, 415, 'unsupported-media-type').detail).toMatch(/application\/json/);
    });
  });

  describe('JSON bodies', () => {
    it('with more members than any request needs are refused with 413 before they are parsed', async () => {
      const { server } = fx();
      const keys = 95_000;
      const body = `{${Array.from({ length: keys }, (_, i) => `"k${i}":1`).join(',')}}`;
      const elements = `{"token":[${'1,'.repeat(MAX_JSON_MEMBERS + 1)}1]}`;
      for (const payload of [body, elements]) {
        const res = await expectNoEntry(server.app, () => server.app.inject({ method: 'POST', url: '/v1/tokens/check', headers: { 'content-type': 'application/json' }, payload }));
        expect(expectProblem(res, 413, 'payload-too-large').detail).toMatch(/JSON members/);
        expect(res.body.length).toBeLessThan(SMALL);
      }
      // Separators inside strings, escaped quotes included, are not members.
      const quoted = `{"token":"\\"${',:'.repeat(MAX_JSON_MEMBERS)}\\\\"}`;
      const res = await server.app.inject({ method: 'POST', url: '/v1/tokens/check', headers: { 'content-type': 'application/json' }, payload: quoted });
      expect(res.statusCode, res.body.slice(0, 300)).toBe(200);
    });
  });

  describe('validation problems', () => {
    it('list at most 20 issues and count the rest', async () => {
      const { server } = fx();
      const keys = 4_000;
      const body = `{${Array.from({ length: keys }, (_, i) => `"k${i}":1`).join(',')}}`;
      const res = await server.app.inject({ method: 'POST', url: '/v1/tokens/check', headers: { 'content-type': 'application/json' }, payload: body });
      const problem = expectProblem(res, 400, 'validation-failed');
      expect(problem.errors).toHaveLength(MAX_LISTED_ISSUES);
      expect(problem.errors?.[0]?.field).toBe('body.token');
      expect(problem.errors?.[1]).toEqual({ field: 'body.k0', message: 'is not a known field' });
      // Every issue is counted: the missing token and the unknown keys beyond the first 19.
      expect(problem.detail).toMatch(/; and 3,981 more$/);
      expect(res.body.length).toBeLessThan(SMALL);
    });

    it('shorten each listed field and message', async () => {
      const { server } = fx();
      const huge = 'k'.repeat(200_000);
      const res = await server.app.inject({ method: 'POST', url: '/v1/tokens/check', headers: { 'content-type': 'application/json' }, payload: `{"token":"t","${huge}":1}` });
      const problem = expectProblem(res, 400, 'validation-failed');
      expect(problem.errors).toHaveLength(1);
      const field = problem.errors?.[0]?.field ?? '';
      expect(field.length).toBeLessThanOrEqual(256);
      expect(field).toMatch(/^body\.kkk.*…$/);
      expect(res.body.length).toBeLessThan(SMALL);
    });
  });
});
