/**
 * Every failure a client can cause is an RFC 9457 problem document with a stable type,
 * the right status and, for validation failures, the offending fields, on both
 * backends. No request in this file may end in a 5xx (checked after every test from
 * the server's own metrics).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { describeEachBackend } from '../store/backends.js';
import { newMember } from '../support/control-plane.js';
import {
  WORKLOAD,
  WORKLOAD_PATH,
  enc,
  entriesSince,
  expectNo5xx,
  expectNoEntry,
  expectProblem,
  get,
  seedWorkload,
  sha256,
  signatureHeaders,
  treeSize,
  useTestServer,
} from './support.js';

const fields = (problem: { errors?: readonly { field: string }[] }): string[] => (problem.errors ?? []).map((e) => e.field);

describeEachBackend('HTTP errors', (backend) => {
  const fx = useTestServer(backend);
  afterEach(async () => {
    await expectNo5xx(fx().server.app);
  });

  describe('request bodies', () => {
    it('refuses malformed JSON with 400 bad-request, signed or not', async () => {
      const fixture = fx();
      const { server } = fixture;
      for (const raw of ['{"name":', '{name: "x"}', "{'name':'x'}", '[1,]', '{"name":"x"}garbage', '\u0000']) {
        const signed = await expectNoEntry(server.app, () => server.signed('POST', '/v1/workloads', undefined, server.admin, { rawBody: raw }));
        expect(expectProblem(signed, 400, 'bad-request').detail).toMatch(/JSON/);
        const unsigned = await server.app.inject({ method: 'POST', url: '/v1/workloads', payload: raw, headers: { 'content-type': 'application/json' } });
        expectProblem(unsigned, 400, 'bad-request');
      }
    });

    it('survives very deeply nested JSON, refusing it by the schema', async () => {
      const { server } = fx();
      const depth = 200_000;
      const arrays = `{"name":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      const named = await expectNoEntry(server.app, () => server.signed('POST', '/v1/workloads', undefined, server.admin, { rawBody: arrays }));
      expect(fields(expectProblem(named, 400, 'validation-failed'))).toEqual(['body.name']);
      const objects = `{"reason":"r","rules":{"deep":${'{"a":'.repeat(depth / 2)}1${'}'.repeat(depth / 2)}}}`;
      const rules = await server.signed('POST', `${WORKLOAD_PATH}/policy`, undefined, server.admin, { rawBody: objects });
      expect(fields(expectProblem(rules, 400, 'validation-failed'))).toEqual(['body.rules.deep']);
      // A route without a body schema ignores the body, however deep.
      expect((await server.signed('POST', '/v1/audit/checkpoints', undefined, server.admin, { rawBody: arrays })).statusCode).toBe(201);
    });

    it('refuses prototype-pollution keys in JSON bodies', async () => {
      const { server } = fx();
      for (const raw of ['{"name":"x","__proto__":{"admin":true}}', '{"name":"x","constructor":{"prototype":{"admin":true}}}']) {
        const res = await expectNoEntry(server.app, () => server.signed('POST', '/v1/workloads', undefined, server.admin, { rawBody: raw }));
        expectProblem(res, 400, 'bad-request');
      }
      expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
    });

    it('names the offending field of a wrongly typed body: validation-failed', async () => {
      const { server } = fx();
      await seedWorkload(server);
      const cases: [string, string, unknown, string[]][] = [
        ['POST', '/v1/workloads', { name: 42 }, ['body.name']],
        ['POST', '/v1/workloads', {}, ['body.name']],
        ['POST', '/v1/workloads', [], ['body']],
        ['POST', '/v1/workloads', 'payments', ['body']],
        ['POST', `${WORKLOAD_PATH}/releases`, { version: '3', class: 'sgx', signer: 'ab', product: 'p', minSvn: 'five' }, ['body.minSvn']],
        ['POST', `${WORKLOAD_PATH}/releases`, { version: '3', class: 'sgx', signer: 'ab', product: 'p', minSvn: 1.5 }, ['body.minSvn']],
        ['POST', `${WORKLOAD_PATH}/releases`, { version: '3', class: 'quantum', measurements: [sha256('a')] }, ['body.class']],
        ['POST', `${WORKLOAD_PATH}/releases`, { version: '3', class: 'sim', measurements: [1] }, ['body.measurements.0']],
        ['POST', `${WORKLOAD_PATH}/policy`, { floor: '1', reason: 'r' }, ['body.floor']],
        ['POST', `${WORKLOAD_PATH}/policy`, { rules: { ok: true }, reason: 'r' }, ['body.rules.ok']],
        ['POST', `${WORKLOAD_PATH}/policy`, { accept: '1.0.0', reason: 'r' }, ['body.accept']],
        ['POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'] }, ['body.reason']],
        ['POST', '/v1/members', { name: 'x', publicKey: 'k', roles: 'admin' }, ['body.roles']],
        ['POST', '/v1/members', { name: 'x', publicKey: 'k', roles: [] }, ['body.roles']],
      ];
      for (const [method, url, body, expected] of cases) {
        const res = await expectNoEntry(server.app, () => server.signed(method, url, body));
        const problem = expectProblem(res, 400, 'validation-failed');
        expect(fields(problem), `${url} ${JSON.stringify(body)}`).toEqual(expected);
        for (const field of expected) expect(problem.detail).toContain(field);
      }
    });

    it('names the field of a value the domain rules refuse: validation-failed', async () => {
      const { server } = fx();
      await seedWorkload(server);
      const bad = await server.signed('POST', `${WORKLOAD_PATH}/releases`, { version: '3', class: 'sim', measurements: [sha256('a'), 'sha256:xyz'] });
      expect(fields(expectProblem(bad, 400, 'validation-failed'))).toEqual(['measurements[1]']);
      const both = await server.signed('POST', '/v1/workloads', { name: 'Payments//Ingest' });
      expect(fields(expectProblem(both, 400, 'validation-failed'))).toEqual(['workload']);
      const key = await server.signed('POST', '/v1/members', { name: 'bob', publicKey: 'not-a-key', roles: ['admin'] });
      expect(fields(expectProblem(key, 400, 'validation-failed'))).toEqual(['publicKey']);
    });

    it('names unknown fields in bodies and query strings', async () => {
      const { server } = fx();
      await seedWorkload(server);
      const body = await expectNoEntry(server.app, () => server.signed('POST', '/v1/workloads', { name: 'x', extra: 1 }));
      const problem = expectProblem(body, 400, 'validation-failed');
      expect(fields(problem)).toEqual(['body.extra']);
      expect(problem.detail).toContain('extra');
      const two = await server.signed('POST', `${WORKLOAD_PATH}/policy`, { reason: 'r', acept: ['1.0.0'], flor: 1 });
      expect(fields(expectProblem(two, 400, 'validation-failed')).sort()).toEqual(['body.acept', 'body.flor']);
      const query = await get(server.app, '/v1/audit/entries?tpye=x');
      expect(fields(expectProblem(query, 400, 'validation-failed'))).toEqual(['querystring.tpye']);
    });

    it('refuses bodies that are not application/json with 415', async () => {
      const fixture = fx();
      const { server } = fixture;
      for (const type of ['text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream']) {
        const payload = type === 'application/x-www-form-urlencoded' ? 'name=x' : '{"name":"x"}';
        const headers = { ...signatureHeaders(fixture, 'POST', '/v1/workloads', payload), 'content-type': type };
        const res = await expectNoEntry(server.app, () => server.app.inject({ method: 'POST', url: '/v1/workloads', payload, headers }));
        expectProblem(res, 415, 'unsupported-media-type');
      }
      const none = await server.app.inject({ method: 'POST', url: '/v1/workloads', payload: '{"name":"x"}' });
      expectProblem(none, 415, 'unsupported-media-type');
    });
  });

  describe('routes and URLs', () => {
    it('answers unknown routes and methods with 404, signed or not', async () => {
      const fixture = fx();
      const { server } = fixture;
      expectProblem(await get(server.app, '/nope'), 404, 'not-found');
      expectProblem(await get(server.app, '/v1/workloads/a/b/c/d'), 404, 'not-found');
      expectProblem(await server.app.inject({ method: 'POST', url: '/v1/nope', payload: {} }), 404, 'not-found');
      expectProblem(await server.app.inject({ method: 'PUT', url: '/v1/workloads', payload: {} }), 404, 'not-found');
      expectProblem(await server.app.inject({ method: 'DELETE', url: '/v1/workloads/x' }), 404, 'not-found');
      expectProblem(await server.signed('PUT', '/v1/workloads', { name: 'x' }), 404, 'not-found');
      expectProblem(await server.signed('PATCH', '/v1/members/admin', { roles: [] }), 404, 'not-found');
    });

    it('answers malformed percent-encoding and over-long path parameters with a problem document', async () => {
      const { server } = fx();
      for (const url of ['/v1/workloads/%zz', '/v1/workloads/%E0%A4%A', '/v1/workloads/%ED%A0%80/releases', '/v1/members/%C0']) {
        const res = await get(server.app, url);
        expect(res.statusCode, url).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, url).toBeLessThan(500);
        expectProblem(res, res.statusCode);
      }
      const signed = await server.signed('DELETE', '/v1/members/%zz');
      expectProblem(signed, 400, 'bad-request');
      // Longer than any workload name: refused, as a problem document, either by the
      // router or by the parameter schema.
      const long = await get(server.app, `/v1/workloads/${'w'.repeat(5000)}`);
      expect([400, 414]).toContain(long.statusCode);
      expectProblem(long, long.statusCode);
      const over = await get(server.app, `/v1/workloads/${'w'.repeat(129)}`);
      expect(fields(expectProblem(over, 400, 'validation-failed'))).toEqual(['params.workload']);
    });

    it('refuses NUL characters in path parameters, query strings and bodies with 400 on every backend', async () => {
      const { server } = fx();
      await seedWorkload(server);
      expectProblem(await get(server.app, '/v1/workloads/a%00b'), 400, 'validation-failed');
      expectProblem(await get(server.app, `/v1/workloads/${enc(WORKLOAD)}/releases/1%000`), 400, 'validation-failed');
      expectProblem(await get(server.app, '/v1/audit/entries?type=a%00b'), 400, 'validation-failed');
      expectProblem(await get(server.app, '/v1/audit/entries?actor=member%3A%00'), 400, 'validation-failed');
      expectProblem(await expectNoEntry(server.app, () => server.signed('DELETE', '/v1/members/a%00b')), 400, 'validation-failed');
      const reason = await expectNoEntry(server.app, () => server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'a\u0000b' }));
      expect(fields(expectProblem(reason, 400, 'validation-failed'))).toEqual(['body.reason']);
      const rule = await expectNoEntry(server.app, () => server.signed('POST', `${WORKLOAD_PATH}/policy`, { rules: { ok: '"\u0000" == ""' }, reason: 'r' }));
      expect(fields(expectProblem(rule, 400, 'validation-failed'))).toEqual(['body.rules.ok']);
      // The escape sequence is not the character: six plain characters are fine.
      const escaped = await server.signed('POST', `${WORKLOAD_PATH}/policy`, { rules: { ok: '"\\u0000" != "x"' }, reason: 'r' });
      expect(escaped.statusCode, escaped.body).toBe(201);
      // The server is still healthy and consistent afterwards.
      expect((await get(server.app, '/readyz')).statusCode).toBe(200);
    });
  });

  describe('domain refusals', () => {
    it('answers a duplicate workload with 409 conflict and ledgers nothing', async () => {
      const { server } = fx();
      expect((await server.signed('POST', '/v1/workloads', { name: WORKLOAD })).statusCode).toBe(201);
      const dup = await expectNoEntry(server.app, () => server.signed('POST', '/v1/workloads', { name: WORKLOAD }));
      expect(expectProblem(dup, 409, 'conflict').detail).toContain(WORKLOAD);
      const bob = newMember('bob');
      expect((await server.signed('POST', '/v1/members', { name: 'bob', publicKey: bob.publicKey, roles: ['admin'] })).statusCode).toBe(201);
      expectProblem(await server.signed('POST', '/v1/members', { name: 'bob', publicKey: bob.publicKey, roles: ['admin'] }), 409, 'conflict');
    });

    it('answers policy updates the rules refuse with 422 and a precise type', async () => {
      const { server } = fx();
      await seedWorkload(server);
      const policy = (body: unknown) => expectNoEntry(server.app, () => server.signed('POST', `${WORKLOAD_PATH}/policy`, body));

      const unknown = expectProblem(await policy({ accept: ['9.9.9'], reason: 'r' }), 422, 'unknown-release');
      expect(unknown.detail).toContain('9.9.9');
      expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['2.0.0'], floor: 2, reason: 'start' })).statusCode).toBe(201);
      // Lowering trust is refused and the attempt ledgered.
      const before = await treeSize(server.app);
      expect(expectProblem(await server.signed('POST', `${WORKLOAD_PATH}/policy`, { floor: 1, reason: 'lower' }), 422, 'floor-decrease').detail).toContain('floor');
      expect((await entriesSince(server.app, before)).map((e) => [e.type, e.actor, (e.payload as { type: string }).type])).toEqual([['policy.change-refused', 'member:admin', 'floor-decrease']]);
      // 1.0.0 has security version 1, below the floor 2.
      expectProblem(await policy({ accept: ['1.0.0'], reason: 'below floor' }), 422, 'invalid-policy');
      expectProblem(await policy({ remove: ['1.0.0'], reason: 'not accepted' }), 422, 'invalid-policy');
      expectProblem(await policy({ dropRules: ['nope'], reason: 'no such rule' }), 422, 'invalid-policy');

      for (const expression of ['1 +', 'claims.svn >=', '1 + 1', 'claims.flag', '"text"', 'no_such_variable == 1']) {
        const res = await policy({ rules: { check: expression }, reason: 'rule' });
        expect(expectProblem(res, 422, 'invalid-rule').detail, expression).toContain('check');
      }

      expectProblem(await policy({ floor: 2, reason: 'same' }), 400, 'bad-request');
      expectProblem(await policy({ accept: ['2.0.0'], remove: ['2.0.0'], reason: 'both' }), 400, 'bad-request');
      expectProblem(await policy({ accept: ['1.0.0'], reason: '   ' }), 400, 'validation-failed');
      for (const name of ['-bad', 'bad name']) expectProblem(await policy({ rules: { [name]: 'true' }, reason: 'name' }), 400, 'validation-failed');
      expectProblem(await expectNoEntry(server.app, () => server.signed('POST', `/v1/workloads/${enc('no/such')}/policy`, { floor: 3, reason: 'r' })), 404, 'not-found');
    });

    it('answers reads of things that do not exist with 404, and bad proof ranges with proof-unavailable', async () => {
      const { server } = fx();
      await seedWorkload(server);
      expectProblem(await get(server.app, `/v1/workloads/${enc('no/such')}`), 404, 'not-found');
      expectProblem(await get(server.app, `/v1/workloads/${enc('no/such')}/policy/history`), 404, 'not-found');
      expectProblem(await get(server.app, `${WORKLOAD_PATH}/policy`), 404, 'not-found');
      expectProblem(await get(server.app, `${WORKLOAD_PATH}/policy/diff?from=${'a'.repeat(8)}&to=${'b'.repeat(8)}`), 404, 'not-found');
      expectProblem(await get(server.app, `${WORKLOAD_PATH}/policy/at?time=2026-02-31T00:00:00Z`), 400, 'validation-failed');
      expectProblem(await get(server.app, '/v1/audit/proof?index=1000'), 404, 'proof-unavailable');
      expectProblem(await get(server.app, '/v1/audit/proof?index=-1'), 400, 'validation-failed');
      expectProblem(await get(server.app, '/v1/audit/consistency?from=1&to=1000'), 404, 'proof-unavailable');
      expectProblem(await get(server.app, '/v1/audit/checkpoints?after=1e300'), 400, 'validation-failed');
    });
  });
});

describeEachBackend('HTTP errors: body limit', (backend) => {
  const fx = useTestServer(backend, { bodyLimit: 1024 });
  afterEach(async () => {
    await expectNo5xx(fx().server.app);
  });

  it('refuses a body over the configured limit with 413, signed or not', async () => {
    const { server } = fx();
    const big = { name: 'x'.repeat(2000) };
    expectProblem(await expectNoEntry(server.app, () => server.signed('POST', '/v1/workloads', big)), 413, 'payload-too-large');
    const unsigned = await server.app.inject({ method: 'POST', url: '/v1/workloads', payload: JSON.stringify(big), headers: { 'content-type': 'application/json' } });
    expectProblem(unsigned, 413, 'payload-too-large');
    const policy = { reason: 'r', rules: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`rule_${i}`, 'claims.svn >= 1'])) };
    expectProblem(await server.signed('POST', `/v1/workloads/${enc(WORKLOAD)}/policy`, policy), 413, 'payload-too-large');
    // Just under the limit gets past parsing (and is then judged on its merits).
    const under = JSON.stringify({ name: 'x'.repeat(1000) });
    expect(Buffer.byteLength(under)).toBeLessThanOrEqual(1024);
    expectProblem(await server.signed('POST', '/v1/workloads', undefined, server.admin, { rawBody: under }), 400, 'validation-failed');
  });
});
