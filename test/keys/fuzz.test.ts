/**
 * Fuzzing the key broker's routes through HTTP, on both backends: the KBS messages
 * (valid ones mutated — fields dropped, added, retyped, huge, deeply nested, prototype-
 * polluting — and raw junk), random resource paths, queries, bearer tokens and cookies,
 * and the members' signed secret routes. Never a 5xx, every error a problem document,
 * and the server still healthy, its ledger still verifying, afterwards.
 */
import fc from 'fast-check';
import type { LightMyRequestResponse } from 'fastify';
import { expect, it } from 'vitest';
import { KBS_ERROR_BASE } from '../../src/keys/refusals.js';
import { kbsReportData } from '../../src/keys/runtime-data.js';
import { leafHash, merkleTreeHash } from '../../src/ledger/merkle.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { describeEachBackend } from '../store/backends.js';
import { instanceOf, measurementOf, putSecret, setRule, setUpWorkload, useBrokerServer, W, WORKLOAD, type BrokerServer } from './support.js';

const RUNS: Record<string, number> = { sqlite: 120, postgres: 30 };
const POLLUTION = ['__proto__', 'constructor', 'prototype', 'toString'];

const nasty = fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\uFEFF', '../../etc/passwd', '%00', '%', 'sim', 'tdx', '0.1.1', WORKLOAD, 'sealing/key/legacy', 'default/key/db', '-1', '1e308', ...POLLUTION);
const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'binary', maxLength: 40 }), nasty, fc.integer({ min: 65, max: 5000 }).map((n) => 'x'.repeat(n)));
const anyJson: fc.Arbitrary<unknown> = fc.oneof(fc.jsonValue({ maxDepth: 3 }), text, fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(null, true, false, [], {}));

const copy = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

function withOwn(target: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return target;
}

type Mutation = (body: Record<string, unknown>) => Record<string, unknown>;

/** Mutates a field somewhere in the body, following objects down a random path. */
function at(body: Record<string, unknown>, path: readonly number[], change: (parent: Record<string, unknown>, key: string) => void): Record<string, unknown> {
  let parent = body;
  for (const step of path) {
    const keys = Object.keys(parent);
    if (keys.length === 0) break;
    const key = keys[step % keys.length]!;
    const child = parent[key];
    if (child === null || typeof child !== 'object' || Array.isArray(child) || step % 2 === 0) {
      change(parent, key);
      return body;
    }
    parent = child as Record<string, unknown>;
  }
  const keys = Object.keys(parent);
  if (keys.length > 0) change(parent, keys[0]!);
  return body;
}

const path = fc.array(fc.nat(), { minLength: 1, maxLength: 4 });
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  path.map((p): Mutation => (body) => at(body, p, (parent, key) => delete parent[key])),
  fc.tuple(path, anyJson).map(([p, value]): Mutation => (body) => at(body, p, (parent, key) => (parent[key] = copy(value)))),
  fc.tuple(path, fc.oneof(text, fc.constantFrom(...POLLUTION)), anyJson).map(([p, name, value]): Mutation => (body) => at(body, p, (parent) => withOwn(parent, name, copy(value)))),
  fc.tuple(path, fc.integer({ min: 1_000, max: 100_000 })).map(([p, size]): Mutation => (body) => at(body, p, (parent, key) => (parent[key] = 'x'.repeat(size)))),
  fc.tuple(path, fc.integer({ min: 10, max: 1_500 })).map(([p, depth]): Mutation => (body) =>
    at(body, p, (parent, key) => {
      let value: unknown = null;
      for (let i = 0; i < depth; i++) value = { a: value };
      parent[key] = value;
    }),
  ),
);

const rawBodies = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', 'null', '[]', '{}', '"x"', '{"a":1}{', '\uFEFF{}', '{"__proto__":{"admin":true}}', '{"a":1,"a":2}'),
  fc.integer({ min: 1, max: 10_000 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`),
);

function bodies(valid: () => Record<string, unknown>): fc.Arbitrary<string | undefined> {
  const mutated = fc.tuple(fc.constant(null).map(valid), fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([body, steps]) => steps.reduce((b, step) => step(b), copy(body) as Record<string, unknown>));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constant(null).map(() => JSON.stringify(valid())) },
    { weight: 6, arbitrary: mutated.map((b) => JSON.stringify(b)) },
    { weight: 1, arbitrary: anyJson.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: rawBodies },
  );
}

const enc = (s: string): string => encodeURIComponent(s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
const segment = fc.oneof(fc.constantFrom('default', 'key', 'db', 'sealing', 'current', 'legacy', '..', '.', '', 'a%2Fb'), text.map(enc));
const resourcePath = fc.array(segment, { minLength: 0, maxLength: 5 }).map((parts) => parts.join('/'));
const query = fc.oneof(fc.constant(''), fc.constantFrom('?version=1', '?version=0', '?version=-1', '?version=1&version=2', '?version=99999999999', '?x=1', '?version=1e3', '?__proto__=1'), text.map((t) => `?version=${enc(t)}`));

/** A KBS problem (RFC 7807 with a KBS type) or a Covenant one: either way a problem document whose status matches. */
function isProblem(res: LightMyRequestResponse): boolean {
  if (!/^application\/problem\+json(;|$)/.test(String(res.headers['content-type']))) return false;
  const body = JSON.parse(res.body) as { type?: unknown; status?: unknown; detail?: unknown };
  return typeof body.type === 'string' && (body.type.startsWith(KBS_ERROR_BASE) || body.type.startsWith('https://covenant.dev/problems/')) && body.status === res.statusCode && typeof body.detail === 'string';
}

function expectAnswered(label: string, res: LightMyRequestResponse): void {
  const context = `${label} → ${res.statusCode} ${res.body.slice(0, 300)}`;
  expect(res.statusCode, context).toBeLessThan(500);
  if (res.statusCode >= 400) expect(isProblem(res), context).toBe(true);
}

interface Seeded {
  readonly token: string;
  readonly cookie: string;
  readonly attestation: () => Record<string, unknown>;
}

async function seed(server: BrokerServer): Promise<Seeded> {
  await setUpWorkload(server, [{ version: '1.0.0' }], ['1.0.0']);
  await putSecret(server, 'default/key/db', 'fuzzed');
  await setRule(server, 'default/key/db', { name: 'ingest', workloads: [WORKLOAD] });
  const token = await instanceOf(server, '1.0.0').attest();
  const auth = await server.app.inject({ method: 'POST', url: '/kbs/v0/auth', payload: { version: '0.1.1', tee: 'sim', 'extra-params': { workload: WORKLOAD } } });
  const cookie = /kbs-session-id=([^;]+)/.exec(String(auth.headers['set-cookie']))![1]!;
  const nonce = (auth.json() as { nonce: string }).nonce;
  const jwk = { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' };
  const tee = new SimulatedTee(server.pki.platform, { measurement: measurementOf('1.0.0'), svn: 1, debug: false, configDigests: {} });
  const evidence = JSON.parse(new TextDecoder().decode(tee.reportOver(kbsReportData({ nonce, 'tee-pubkey': jwk })))) as Record<string, unknown>;
  return { token, cookie, attestation: () => ({ 'runtime-data': { nonce, 'tee-pubkey': { ...jwk } }, 'tee-evidence': { primary_evidence: { ...evidence }, additional_evidence: '' } }) };
}

async function expectHealthy(server: BrokerServer, seeded: Seeded): Promise<void> {
  expect((await server.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  const res = await server.app.inject({ method: 'GET', url: '/kbs/v0/resource/default/key/db', headers: { authorization: `Bearer ${seeded.token}` } });
  expect(res.statusCode, res.body).toBe(200);
  const head = (await server.app.inject({ method: 'GET', url: '/v1/audit/head' })).json() as { treeSize: number; root: string };
  const raw = (await server.app.inject({ method: 'GET', url: '/v1/audit/raw?limit=10000' })).json() as { entries: { body: string }[] };
  expect(raw.entries).toHaveLength(head.treeSize);
  expect(merkleTreeHash(raw.entries.map((e) => leafHash(Buffer.from(e.body, 'base64')))).toString('hex')).toBe(head.root);
}

describeEachBackend('fuzzing the key broker over HTTP', (backend) => {
  const fixture = useBrokerServer(backend);
  const runs = RUNS[backend.name]!;

  it('KBS auth and attest never answer 5xx', { timeout: 300_000 }, async () => {
    const server = fixture();
    const seeded = await seed(server);
    const cookies = fc.oneof(fc.constant(undefined), fc.constant(seeded.cookie), fc.constant(seeded.token), text.map((t) => enc(t)), fc.constantFrom('sim~', '~', 'sim~a.b', 'tdx~x', 'sim~' + 'A'.repeat(700)));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('auth', 'attest'),
        bodies(() => ({ version: '0.1.1', tee: 'sim', 'extra-params': { workload: WORKLOAD } })),
        bodies(seeded.attestation),
        cookies,
        fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-8', ''),
        async (step, authBody, attestBody, cookie, contentType) => {
          const payload = step === 'auth' ? authBody : attestBody;
          const res = await server.app.inject({
            method: 'POST',
            url: `/kbs/v0/${step}`,
            headers: { ...(contentType === '' ? {} : { 'content-type': contentType }), ...(cookie === undefined ? {} : { cookie: `kbs-session-id=${cookie}` }) },
            ...(payload === undefined ? {} : { payload }),
          });
          expectAnswered(`POST /kbs/v0/${step} ${payload?.slice(0, 200) ?? ''}`, res);
        },
      ),
      { numRuns: runs },
    );
    await expectHealthy(server, seeded);
  });

  it('KBS resource requests never answer 5xx', { timeout: 300_000 }, async () => {
    const server = fixture();
    const seeded = await seed(server);
    const [header, payload, signature] = seeded.token.split('.') as [string, string, string];
    const tokens = fc.oneof(
      fc.constant(undefined),
      fc.constant(seeded.token),
      fc.constantFrom(`${header}.${payload}.`, `${header}..${signature}`, `${payload}.${header}.${signature}`, 'e30.e30.e30', `${header}.${Buffer.from('{"exp":1}').toString('base64url')}.${signature}`),
      text,
    );
    await fc.assert(
      fc.asyncProperty(resourcePath, query, tokens, fc.oneof(fc.constant(undefined), fc.constant(seeded.token), fc.constant(seeded.cookie), text.map(enc)), fc.constantFrom('Bearer ', 'bearer ', 'Basic ', ''), async (p, q, token, cookie, scheme) => {
        const res = await server.app.inject({
          method: 'GET',
          url: `/kbs/v0/resource/${p}${q}`,
          headers: { ...(token === undefined ? {} : { authorization: `${scheme}${token}` }), ...(cookie === undefined ? {} : { cookie: `kbs-session-id=${cookie}` }) },
        });
        expectAnswered(`GET /kbs/v0/resource/${p}${q}`, res);
      }),
      { numRuns: runs },
    );
    await expectHealthy(server, seeded);
  });

  it('the signed secret routes never answer 5xx', { timeout: 300_000 }, async () => {
    const server = fixture();
    const seeded = await seed(server);
    const routes: [string, string, () => Record<string, unknown>][] = [
      ['POST', '/v1/secrets/default/key/:tag', () => ({ value: Buffer.from('v').toString('base64') })],
      ['POST', '/v1/secrets/default/key/db/versions', () => ({ generate: 32 })],
      ['POST', '/v1/secrets/default/key/db/rules', () => ({ name: 'r', workloads: [WORKLOAD], releases: ['1.0.0'], phases: ['stable'], when: 'svn >= 1', versions: 2 })],
      ['DELETE', '/v1/secrets/default/key/db/rules/:tag', () => ({})],
      ['POST', `/v1/workloads/${W}/sealing`, () => ({ migrationWindow: '1h' })],
      ['GET', '/v1/secrets/default/key/:tag', () => ({})],
      ['GET', '/v1/workloads/:tag/sealing', () => ({})],
    ];
    const requests = fc.nat({ max: routes.length - 1 }).chain((i) => fc.tuple(fc.constant(i), segment, fc.boolean(), routes[i]![0] === 'POST' ? bodies(routes[i]![2]) : fc.constant(undefined)));
    await fc.assert(
      fc.asyncProperty(requests, async ([i, tag, validTag, body]) => {
        const [method, pattern] = routes[i]!;
        const url = pattern.replace(':tag', validTag ? 'fuzz' : tag);
        const res = await server.signedRaw(method, new URL(url, 'http://covenant.test').pathname, body);
        expectAnswered(`${method} ${url} ${body?.slice(0, 200) ?? ''}`, res);
      }),
      { numRuns: runs },
    );
    await expectHealthy(server, seeded);
  });
});
