/**
 * Fuzzing every route through HTTP, on both backends. Requests are signed by the admin,
 * so they get past authentication and reach validation and the commands: random JSON,
 * mutated valid bodies (dropped, added and retyped fields, huge strings, deep nesting,
 * prototype-pollution keys), random query strings and random path parameters. The
 * server must never answer 5xx, must answer every error as problem+json, must never
 * mistake a correctly signed request for an unauthenticated one, and must stay healthy
 * with a ledger that still verifies.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { expect, it } from 'vitest';
import { leafHash, merkleTreeHash } from '../../src/ledger/merkle.js';
import { describeEachBackend } from '../store/backends.js';
import { newMember } from '../support/control-plane.js';
import { WORKLOAD, WORKLOAD_PATH, expectNo5xx, get, isProblem, listRoutes, seedWorkload, sha256, useTestServer, type ServerFixture } from './support.js';

const RUNS: Record<string, number> = { sqlite: 150, postgres: 40 };

interface Seeded {
  readonly policyId: string;
  /** A waiting attestation session's id. */
  readonly session: string;
  /** An open proposal's id. */
  readonly proposal: string;
}

interface RouteSeed {
  /** Valid values of the path parameters, by name. */
  readonly params?: Readonly<Record<string, string>> | ((seeded: Seeded) => Readonly<Record<string, string>>);
  /**
   * Why even the valid request is refused here (the route needs what a JSON fuzzer
   * cannot make); the route is still fuzzed for 5xx and problem documents.
   */
  readonly refusedBecause?: string;
  /** A valid query. */
  readonly query?: (seeded: Seeded) => Record<string, string>;
  /** A valid body. */
  readonly body?: () => Record<string, unknown>;
  /** The credential is not the request signature (a member's signature in the body, a rollout's gate credential): 401 and 403 are its answers. */
  readonly credentialInBody?: true;
}

const PARAMS = { workload: WORKLOAD, version: '1.0.0', name: 'erin', hook: 'rollout', action: 'release' };
const NO_ROLLOUT = 'the fuzz seed has no rollout in progress (test/rollout/scenarios.test.ts drives them)';
const NO_GATE_CREDENTIAL = 'a gate call without the rollout’s gate credential is a 401 (test/rollout/gates.test.ts)';

/** One entry per route the server serves (checked below), each with valid inputs to mutate. */
const ROUTES: Readonly<Record<string, RouteSeed>> = {
  'GET /healthz': {},
  'GET /readyz': {},
  'GET /metrics': {},
  'GET /openapi.json': {},
  'GET /.well-known/jwks.json': {},
  'GET /v1/workloads': {},
  'POST /v1/workloads': { body: () => ({ name: 'fuzz/made' }) },
  'GET /v1/workloads/:workload': { params: PARAMS },
  'POST /v1/workloads/:workload/releases': {
    params: PARAMS,
    body: () => ({
      version: '9.0.0',
      class: 'sgx',
      signer: 'ab'.repeat(32),
      product: 'ingest',
      minSvn: 4,
      securityVersion: 4,
      config: { 'root-store': sha256('b') },
      sbom: sha256('c'),
      provenance: sha256('d'),
    }),
  },
  'GET /v1/workloads/:workload/releases': { params: PARAMS },
  'GET /v1/workloads/:workload/releases/:version': { params: PARAMS },
  'POST /v1/workloads/:workload/policy': {
    params: PARAMS,
    body: () => ({
      accept: ['2.0.0'],
      remove: ['1.0.0'],
      floor: 2,
      rules: { svn_ok: 'claims.svn >= 2' },
      dropRules: [],
      debug: 'forbid',
      requiredTcbStatus: ['UpToDate', 'SWHardeningNeeded'],
      reason: 'fuzz',
    }),
  },
  'POST /v1/workloads/:workload/policy/dry-run': { params: PARAMS, body: () => ({ update: { accept: ['1.0.0'], floor: 1, rules: { svn_ok: 'svn >= 1' } } }) },
  'GET /v1/workloads/:workload/policy': { params: PARAMS, query: (s) => ({ version: s.policyId.slice(0, 10) }) },
  'GET /v1/workloads/:workload/policy/history': { params: PARAMS },
  'GET /v1/workloads/:workload/policy/diff': { params: PARAMS, query: (s) => ({ from: s.policyId, to: s.policyId.slice(0, 8) }) },
  'GET /v1/workloads/:workload/policy/at': { params: PARAMS, query: () => ({ time: '2026-11-22T13:00:00+01:00' }) },
  'GET /v1/members': {},
  'POST /v1/members': { body: () => ({ name: 'fuzz-member', publicKey: newMember('fuzz').publicKey, roles: ['auditor'] }) },
  'DELETE /v1/members/:name': { params: PARAMS },
  'GET /v1/audit/entries': {
    query: () => ({ type: 'workload.created', actor: 'member:admin', workload: WORKLOAD, since: '2026-01-01T00:00:00Z', after: '0', limit: '10' }),
  },
  'GET /v1/audit/raw': { query: () => ({ from: '1', limit: '5' }) },
  'GET /v1/audit/head': {},
  'GET /v1/evidence/:digest': { params: () => ({ digest: `sha256:${'ab'.repeat(32)}` }), refusedBecause: 'the fuzz seed retains no evidence (test/server/evidence.test.ts attests for real)' },
  'GET /v1/audit/proof': { query: () => ({ index: '1', treeSize: '3' }) },
  'GET /v1/audit/consistency': { query: () => ({ from: '1', to: '3' }) },
  'GET /v1/audit/checkpoint': {},
  'GET /v1/audit/checkpoints': { query: () => ({ after: '-1', limit: '5' }) },
  'POST /v1/audit/checkpoints': {},
  'GET /v1/audit/log-key': {},
  'POST /v1/tokens/check': { body: () => ({ token: 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA' }) },
  'POST /challenge-response/v1/newSession': { query: () => ({ workload: WORKLOAD, nonceSize: '16' }) },
  'GET /challenge-response/v1/session/:id': { params: (s) => ({ id: s.session }) },
  'POST /challenge-response/v1/session/:id': {
    params: (s) => ({ id: s.session }),
    refusedBecause: 'evidence is posted as application/vnd.covenant.attestation+json and must bind the session nonce (test/server/attestation.test.ts)',
  },
  'DELETE /challenge-response/v1/session/:id': { params: (s) => ({ id: s.session }) },
  'POST /v1/workloads/:workload/rollout': { params: PARAMS, body: () => ({ to: '2.0.0', waves: [50, 100], gate: { minAffirming: 1, minSoak: '1m' }, reason: 'fuzz' }) },
  'GET /v1/workloads/:workload/rollout': { params: PARAMS },
  'GET /v1/workloads/:workload/rollouts': { params: PARAMS },
  'POST /v1/workloads/:workload/rollout/advance': { params: PARAMS, body: () => ({ wave: 1, reason: 'fuzz' }), refusedBecause: NO_ROLLOUT },
  'POST /v1/workloads/:workload/rollout/complete': { params: PARAMS, body: () => ({ reason: 'fuzz' }), refusedBecause: NO_ROLLOUT },
  'POST /v1/workloads/:workload/rollout/rollback': { params: PARAMS, body: () => ({ reason: 'fuzz' }), refusedBecause: NO_ROLLOUT },
  'POST /v1/workloads/:workload/health': { params: PARAMS, body: () => ({ source: 'prometheus', healthy: true, detail: 'fuzz' }) },
  'POST /v1/workloads/:workload/releases/:version/revoke': { params: { ...PARAMS, version: '2.0.0' }, body: () => ({ reason: 'fuzz', deadline: '2099-01-01T00:00:00Z' }) },
  'GET /v1/workloads/:workload/fleet': { params: PARAMS, query: () => ({ since: '2026-01-01T00:00:00Z' }) },
  'GET /v1/workloads/:workload/fleet/compliance': { params: PARAMS },
  'POST /v1/workloads/:workload/rollout/gate-credential': { params: PARAMS, body: () => ({}), refusedBecause: NO_ROLLOUT },
  'POST /v1/workloads/:workload/gates/argo': { params: PARAMS, body: () => ({ release: '1.0.0', rollout: 'podinfo', podTemplateHash: 'abc', step: 1 }), refusedBecause: NO_GATE_CREDENTIAL, credentialInBody: true },
  'POST /v1/workloads/:workload/gates/flagger/:hook': {
    params: PARAMS,
    body: () => ({ name: 'podinfo', namespace: 'test', phase: 'Progressing', checksum: 'abc', metadata: { release: '1.0.0' } }),
    refusedBecause: NO_GATE_CREDENTIAL,
    credentialInBody: true,
  },
  'GET /v1/proposals': { query: () => ({ status: 'open' }) },
  'GET /v1/proposals/:id': { params: (s) => ({ id: s.proposal }) },
  'GET /v1/proposals/:id/message': { params: (s) => ({ id: s.proposal }), query: () => ({ decision: 'approve' }) },
  'POST /v1/proposals/:id/votes': {
    params: (s) => ({ id: s.proposal }),
    body: () => ({ member: 'admin', decision: 'approve', signature: 'AAAA' }),
    credentialInBody: true,
    refusedBecause: "a vote needs a member's signature over the proposal (test/ceremony/ceremonies.test.ts)",
  },
  'GET /v1/constitution': {},
  'POST /v1/constitution/:action': { params: PARAMS, body: () => ({ threshold: 1, role: 'admin', proposerCounts: true, expiry: '24h', vetoRoles: ['auditor'] }) },
  'POST /v1/workloads/:workload/break-glass': { params: PARAMS, body: () => ({ accept: ['2.0.0'], reason: 'fuzz', duration: '30m' }) },
  'POST /v1/workloads/:workload/break-glass/ratify': { params: PARAMS, body: () => ({ versions: ['1.0.0'], reason: 'fuzz' }), refusedBecause: 'nothing is under break-glass in the fuzz seed' },
  'GET /v1/audit/report': { query: () => ({ since: '2026-01-01T00:00:00Z', format: 'markdown' }) },
  'GET /v1/audit/who-approved': { query: (s) => ({ policy: s.policyId.slice(0, 12) }) },
  'GET /v1/collateral': {},
  'POST /v1/collateral': { body: () => ({ collateral: readFileSync(new URL('../fixtures/sgx/intel_sgx_root_ca.der', import.meta.url)).toString('base64') }) },
  'GET /v1/anchors': {},
  'POST /v1/anchors': { body: () => ({ class: 'sgx', certificate: readFileSync(new URL('../fixtures/sgx/intel_sgx_root_ca.der', import.meta.url)).toString('base64') }) },
  'DELETE /v1/anchors/:class/:digest': { params: { class: 'tdx', digest: `sha256:${'ab'.repeat(32)}` }, refusedBecause: 'the fuzz seed has added no tdx trust anchor' },
};

const paramsOf = (seed: RouteSeed, seeded: Seeded): Readonly<Record<string, string>> | undefined =>
  typeof seed.params === 'function' ? seed.params(seeded) : seed.params;

// ---------------------------------------------------------------------------
// Generators

const POLLUTION_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'] as const;

const nastyStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\uFEFF',
  '\u202E',
  '../../etc/passwd',
  '%00',
  '%',
  'admin',
  'member:admin',
  WORKLOAD,
  'PAYMENTS/INGEST',
  '1.0.0',
  'null',
  'true',
  '-1',
  '1e308',
  '9007199254740993',
  '2026-02-31T00:00:00Z',
  '0000-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999999999+23:59',
  "' OR 1=1 --",
  '"; drop table members; --',
  '${jndi:ldap://x}',
  ...POLLUTION_KEYS,
);

const text = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 3, arbitrary: nastyStrings },
  { weight: 1, arbitrary: fc.integer({ min: 65, max: 5000 }).map((n) => 'x'.repeat(n)) },
);

const numbers = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 1.5, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e308, -1e308, 5e-324),
);

const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 2, arbitrary: text },
  { weight: 2, arbitrary: numbers },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}) },
  { weight: 1, arbitrary: fc.array(text, { maxLength: 300 }) },
  { weight: 1, arbitrary: fc.dictionary(text, text, { maxKeys: 8 }) },
);

/** An object whose own enumerable key is `key`, even for `__proto__`. */
function withOwn(target: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return target;
}

/** Values `nest` made: nesting one again replaces it, so repeated steps cannot reach a depth JSON.stringify overflows on. */
const nested = new WeakSet<object>();

function nest(value: unknown, depth: number, asArray: boolean): unknown {
  let out = value !== null && typeof value === 'object' && nested.has(value) ? null : value;
  for (let i = 0; i < depth; i++) out = asArray ? [out] : { a: out };
  nested.add(out as object);
  return out;
}

type Mutation = (body: Record<string, unknown>) => Record<string, unknown>;

/** A deep copy (JSON.parse keeps `__proto__` as an own key): generated values are never mutated. */
const copy = (value: unknown): unknown => (value === undefined ? undefined : JSON.parse(JSON.stringify(value)));

const fieldPick = fc.nat();
const pickKey = (body: Record<string, unknown>, n: number): string | undefined => {
  const keys = Object.keys(body);
  return keys.length === 0 ? undefined : keys[n % keys.length];
};

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // Drop a field.
  fieldPick.map((n): Mutation => (body) => {
    const key = pickKey(body, n);
    if (key !== undefined) delete body[key];
    return body;
  }),
  // Add a field, possibly one that pollutes prototypes.
  fc.tuple(fc.oneof(text, fc.constantFrom(...POLLUTION_KEYS)), anyJson).map(([key, value]): Mutation => (body) => withOwn(body, key, copy(value))),
  // Retype a field.
  fc.tuple(fieldPick, anyJson).map(([n, value]): Mutation => (body) => {
    const key = pickKey(body, n);
    if (key !== undefined) body[key] = copy(value);
    return body;
  }),
  // A huge string or array in place of a field.
  fc.tuple(fieldPick, fc.integer({ min: 1_000, max: 300_000 }), fc.boolean()).map(([n, size, asArray]): Mutation => (body) => {
    const key = pickKey(body, n);
    if (key !== undefined) body[key] = asArray ? Array.from({ length: Math.min(size, 20_000) }, (_, i) => `v${i}`) : 'x'.repeat(size);
    return body;
  }),
  // Deep nesting in place of a field.
  fc.tuple(fieldPick, fc.integer({ min: 10, max: 2_000 }), fc.boolean()).map(([n, depth, asArray]): Mutation => (body) => {
    const key = pickKey(body, n);
    if (key !== undefined) body[key] = nest(body[key], depth, asArray);
    return body;
  }),
  // Pollution keys inside a nested object (rules, config) or a fresh one.
  fc.tuple(fieldPick, fc.constantFrom(...POLLUTION_KEYS), anyJson).map(([n, key, value]): Mutation => (body) => {
    const field = pickKey(body, n) ?? 'extra';
    const inner = body[field];
    const target = inner !== null && typeof inner === 'object' && !Array.isArray(inner) ? (inner as Record<string, unknown>) : {};
    body[field] = withOwn(target, key, copy(value));
    return body;
  }),
  // Change one element of an array field, or one entry of an object field.
  fc.tuple(fieldPick, fc.nat(), anyJson).map(([n, i, value]): Mutation => (body) => {
    const key = pickKey(body, n);
    const inner = key === undefined ? undefined : body[key];
    if (Array.isArray(inner)) inner[inner.length === 0 ? 0 : i % inner.length] = copy(value);
    else if (inner !== null && typeof inner === 'object') {
      const innerKey = pickKey(inner as Record<string, unknown>, i);
      if (innerKey !== undefined) (inner as Record<string, unknown>)[innerKey] = copy(value);
    }
    return body;
  }),
);

/** Raw bodies that are not what JSON.stringify would produce. */
const rawBodies = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.constantFrom('', 'null', '[]', '{}', '"x"', '{"a":1}{', '{"a":1,}', '\uFEFF{}', '{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', '{"a":1,"a":2}'),
  // Deep nesting (errors.test.ts sends one far deeper; parsing it is slow enough to bound here).
  fc.integer({ min: 1, max: 20_000 }).map((d) => `{"a":${'['.repeat(d)}${']'.repeat(d)}}`),
  fc.integer({ min: 1, max: 20_000 }).map((d) => `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`),
  fc.integer({ min: 1_100_000, max: 1_300_000 }).map((n) => `{"name":"${'x'.repeat(n)}"}`),
);

function bodyArbitrary(seed: RouteSeed): fc.Arbitrary<string | undefined> {
  const valid = seed.body ? fc.constant(null).map(() => seed.body!()) : fc.constant({});
  const mutated = fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([body, steps]) => steps.reduce((b, step) => step(b), copy(body) as Record<string, unknown>));
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: valid.map((b) => JSON.stringify(b)) },
    { weight: 6, arbitrary: mutated.map((b) => JSON.stringify(b)) },
    { weight: 2, arbitrary: anyJson.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: rawBodies },
  );
}

/** encodeURIComponent, with lone surrogates (which it refuses) replaced first. */
const enc = (s: string): string => encodeURIComponent(s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));
const URL_SAFE = [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:@!$&'()*+,;=%"];

const rawUrlText = fc.oneof(
  fc.array(fc.constantFrom(...URL_SAFE), { maxLength: 60 }).map((chars) => chars.join('')),
  fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 12 }).map((bytes) => bytes.map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')),
);

function paramArbitrary(valid: string | undefined): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(enc(valid ?? 'x')) },
    { weight: 4, arbitrary: text.map(enc) },
    { weight: 2, arbitrary: rawUrlText },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 3000 }).map((n) => 'p'.repeat(n)) },
  );
}

const QUERY_KEYS = ['type', 'actor', 'workload', 'since', 'after', 'limit', 'from', 'to', 'index', 'treeSize', 'version', 'time'];
const queryValue = fc.oneof(text, numbers.map(String), fc.constantFrom('', '1', '0', '-0', '0x10', ' 1', '1 ', 'Infinity', 'NaN', '1e3'));

function queryArbitrary(seed: RouteSeed, seeded: Seeded): fc.Arbitrary<string> {
  const valid = seed.query ? seed.query(seeded) : {};
  const pairs = Object.entries(valid);
  const serialize = (list: [string, string][]) => list.map(([k, v]) => `${enc(k)}=${enc(v)}`).join('&');
  const key = fc.oneof(fc.constantFrom(...QUERY_KEYS, ...POLLUTION_KEYS, 'a[b]', 'type[]'), text);
  return fc.oneof(
    { weight: 1, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constant(serialize(pairs)) },
    // The valid query with values replaced, keys dropped, or keys added (also repeated).
    {
      weight: 4,
      arbitrary: fc
        .tuple(fc.array(fc.tuple(fc.nat(), queryValue)), fc.array(fc.tuple(key, queryValue), { maxLength: 3 }), fc.nat())
        .map(([changes, extra, drop]) => {
          const list = pairs.map(([k, v]) => [k, v] as [string, string]);
          for (const [i, value] of changes) if (list.length > 0) list[i % list.length]![1] = value;
          if (list.length > 0 && drop % 3 === 0) list.splice(drop % list.length, 1);
          return serialize([...list, ...extra]);
        }),
    },
    { weight: 2, arbitrary: fc.array(fc.tuple(key, queryValue), { maxLength: 6 }).map(serialize) },
    { weight: 1, arbitrary: rawUrlText.map((t) => t.replace(/#/g, '')) },
  );
}

/** The request with every part valid: it must succeed. */
function validRequest(method: string, pattern: string, seed: RouteSeed, seeded: Seeded): FuzzRequest {
  const path = pattern.replace(/:(\w+)/g, (_, name: string) => enc(paramsOf(seed, seeded)?.[name] ?? 'x'));
  const query = new URLSearchParams(seed.query?.(seeded) ?? {}).toString();
  return { url: normalize(query === '' ? path : `${path}?${query}`), body: seed.body ? JSON.stringify(seed.body()) : undefined };
}

interface FuzzRequest {
  readonly url: string;
  readonly body: string | undefined;
}

function requestArbitrary(method: string, pattern: string, seed: RouteSeed, seeded: Seeded): fc.Arbitrary<FuzzRequest> {
  const names = [...pattern.matchAll(/:(\w+)/g)].map((m) => m[1]!);
  const params = fc.tuple(...names.map((name) => paramArbitrary(paramsOf(seed, seeded)?.[name])));
  const body = method === 'GET' ? fc.constant(undefined) : bodyArbitrary(seed);
  return fc.tuple(params, queryArbitrary(seed, seeded), body).map(([values, query, payload]) => {
    let i = 0;
    const path = pattern.replace(/:(\w+)/g, () => values[i++]!);
    return { url: normalize(query === '' ? path : `${path}?${query}`), body: payload };
  });
}

/**
 * The request target as a WHATWG URL serializes it, which is what HTTP clients (and
 * fastify's inject) actually send: a client must sign that form, not the string it
 * started from (`'` in a query, for one, goes out as `%27`).
 */
function normalize(target: string): string {
  const url = new URL(target, 'http://covenant.test');
  return `${url.pathname}${url.search}`;
}

// ---------------------------------------------------------------------------

function describeResponse(method: string, req: FuzzRequest, res: LightMyRequestResponse): string {
  const body = req.body === undefined ? '' : ` body(${req.body.length})=${req.body.slice(0, 200)}`;
  return `${method} ${req.url.slice(0, 300)}${body} → ${res.statusCode} ${res.headers['content-type']} ${res.body.slice(0, 300)}`;
}

async function seed(fixture: ServerFixture): Promise<Seeded> {
  const { server } = fixture;
  await seedWorkload(server);
  const policy = await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], rules: { svn_ok: 'claims.svn >= 1' }, reason: 'seed' });
  expect(policy.statusCode, policy.body).toBe(201);
  const erin = newMember('erin');
  expect((await server.signed('POST', '/v1/members', { name: 'erin', publicKey: erin.publicKey, roles: ['auditor'] })).statusCode).toBe(201);
  expect((await server.signed('POST', '/v1/audit/checkpoints')).statusCode).toBe(201);
  const session = await server.app.inject({ method: 'POST', url: `/challenge-response/v1/newSession?workload=${enc(WORKLOAD)}` });
  expect(session.statusCode, session.body).toBe(201);
  // A second admin, and one class that needs both: a proposal stays open.
  const frank = newMember('frank');
  expect((await server.signed('POST', '/v1/members', { name: 'frank', publicKey: frank.publicKey, roles: ['admin'] })).statusCode).toBe(201);
  expect((await server.signed('POST', '/v1/constitution/secret-rules', { threshold: 2, role: 'admin', proposerCounts: true })).statusCode).toBe(200);
  expect((await server.signed('POST', '/v1/constitution/workload', { threshold: 2, role: 'admin', proposerCounts: true })).statusCode).toBe(200);
  const proposal = await server.signed('POST', '/v1/workloads', { name: 'fuzz/proposed' });
  expect(proposal.statusCode, proposal.body).toBe(202);
  return { policyId: (policy.json() as { id: string }).id, session: String(session.headers.location).slice('session/'.length), proposal: (proposal.json() as { proposal: { id: string } }).proposal.id };
}

/** The server still answers, the admin can still sign, and the ledger still verifies. */
async function expectHealthy(fixture: ServerFixture): Promise<void> {
  const { server } = fixture;
  const app: FastifyInstance = server.app;
  expect((await get(app, '/healthz')).statusCode).toBe(200);
  expect((await get(app, '/readyz')).statusCode).toBe(200);
  const signed = await server.signed('POST', '/v1/audit/checkpoints');
  expect(signed.statusCode, signed.body).toBe(201);
  const head = (await get(app, '/v1/audit/head')).json() as { treeSize: number; root: string };
  const raw = (await get(app, '/v1/audit/raw?limit=10000')).json() as { entries: { seq: number; body: string }[] };
  expect(raw.entries.map((e) => e.seq)).toEqual(Array.from({ length: head.treeSize }, (_, i) => i));
  const root = merkleTreeHash(raw.entries.map((e) => leafHash(Buffer.from(e.body, 'base64'))));
  expect(root.toString('hex')).toBe(head.root);
  await expectNo5xx(app);
}

describeEachBackend('HTTP fuzz', (backend) => {
  const fx = useTestServer(backend);
  const numRuns = RUNS[backend.name] ?? 40;

  it('has inputs for every route the server serves', () => {
    const served = listRoutes(fx().server.app).flatMap((route) => route.methods.map((method) => `${method} ${route.url}`));
    expect(served.sort()).toEqual(Object.keys(ROUTES).sort());
  });

  for (const [route, routeSeed] of Object.entries(ROUTES)) {
    const [method, pattern] = route.split(' ') as [string, string];
    it(`${route}: signed random and mutated requests never fail the server`, async () => {
      const fixture = fx();
      const { server } = fixture;
      const seeded = await seed(fixture);
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(requestArbitrary(method, pattern, routeSeed, seeded), async (req) => {
          const res = await server.signed(method, req.url, undefined, server.admin, req.body === undefined ? {} : { rawBody: req.body });
          const context = describeResponse(method, req, res);
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          expect(res.statusCode, context).toBeLessThan(500);
          // Correctly signed by an active admin: authentication and the gate always pass.
          if (routeSeed.credentialInBody !== true) expect([401, 403], context).not.toContain(res.statusCode);
          if (res.statusCode >= 400) expect(isProblem(res), context).toBe(true);
        }),
        { numRuns, examples: [[validRequest(method, pattern, routeSeed, seeded)]] },
      );
      // The valid example got through: the fuzzed requests did reach a working route.
      if (routeSeed.refusedBecause === undefined) expect([...statuses.keys()].some((status) => status < 400), JSON.stringify([...statuses])).toBe(true);
      await expectHealthy(fixture);
    });
  }
});
