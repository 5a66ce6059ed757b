/**
 * Helpers shared by the HTTP API tests: a fresh signed-request server per test on
 * either backend, problem+json assertions, ledger look-ups through the API, and the
 * app's route table.
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, expect } from 'vitest';
import { signRequest } from '../../src/ceremony/signed-request.js';
import type { LedgerEntry } from '../../src/ledger/entry.js';
import { useFreshInstance, type BackendFactory, type BackendInstance } from '../store/backends.js';
import { createTestServer, INJECT_AUTHORITY, manualClock, type TestMember, type TestServer, type TestServerOptions } from '../support/control-plane.js';

export type ManualClock = ReturnType<typeof manualClock>;

export interface ServerFixture {
  readonly server: TestServer;
  readonly clock: ManualClock;
  readonly instance: BackendInstance;
}

/**
 * A fresh store, control plane and server per test (inside `describeEachBackend`).
 * The server is closed before the store is destroyed: vitest runs after-hooks in
 * reverse order of registration.
 */
export function useTestServer(backend: BackendFactory, options: TestServerOptions = {}): () => ServerFixture {
  const instance = useFreshInstance(backend);
  let current: ServerFixture | undefined;
  beforeEach(async () => {
    const clock = manualClock();
    const server = await createTestServer(instance().store, clock, options);
    current = { server, clock, instance: instance() };
  });
  afterEach(async () => {
    const done = current;
    current = undefined;
    await done?.server.app.close();
  });
  return () => {
    if (current === undefined) throw new Error('useTestServer: no server outside a test');
    return current;
  };
}

export const PROBLEM_BASE = 'https://covenant.dev/problems/';

export interface ProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly instance?: string;
  readonly errors?: readonly { field: string; message: string }[];
}

/** Asserts an RFC 9457 problem document; `slug` is the stable error type. */
export function expectProblem(res: LightMyRequestResponse, status: number, slug?: string): ProblemBody {
  const context = `${res.statusCode} ${res.body.slice(0, 500)}`;
  expect(res.statusCode, context).toBe(status);
  expect(String(res.headers['content-type']), context).toMatch(/^application\/problem\+json(;|$)/);
  const body = JSON.parse(res.body) as ProblemBody;
  expect(body.type, context).toMatch(/^https:\/\/covenant\.dev\/problems\/[a-z]+(-[a-z]+)*$/);
  if (slug !== undefined) expect(body.type, context).toBe(`${PROBLEM_BASE}${slug}`);
  expect(typeof body.title).toBe('string');
  expect(body.title.length).toBeGreaterThan(0);
  expect(body.status).toBe(status);
  expect(typeof body.detail).toBe('string');
  expect(body.detail.length).toBeGreaterThan(0);
  return body;
}

/** True when `res` is a well-formed problem document whose status matches the response. */
export function isProblem(res: LightMyRequestResponse): boolean {
  if (!/^application\/problem\+json(;|$)/.test(String(res.headers['content-type']))) return false;
  let body: Partial<ProblemBody>;
  try {
    body = JSON.parse(res.body) as Partial<ProblemBody>;
  } catch {
    return false;
  }
  return (
    typeof body.type === 'string' &&
    body.type.startsWith(PROBLEM_BASE) &&
    typeof body.title === 'string' &&
    body.title.length > 0 &&
    body.status === res.statusCode &&
    typeof body.detail === 'string'
  );
}

export const enc = (segment: string): string => encodeURIComponent(segment);

export const WORKLOAD = 'payments/ingest';
export const WORKLOAD_PATH = `/v1/workloads/${enc(WORKLOAD)}`;

/** A syntactically valid digest `sha256:<hex>` built from one repeated hex digit. */
export const sha256 = (digit: string): string => `sha256:${digit.repeat(64)}`;

export async function get(app: FastifyInstance, url: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'GET', url });
}

export async function treeSize(app: FastifyInstance): Promise<number> {
  const res = await get(app, '/v1/audit/head');
  expect(res.statusCode).toBe(200);
  return (res.json() as { treeSize: number }).treeSize;
}

export async function entries(app: FastifyInstance, query = ''): Promise<LedgerEntry[]> {
  const res = await get(app, `/v1/audit/entries${query ? `?${query}` : ''}`);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { entries: LedgerEntry[] }).entries;
}

/** Ledger entries appended since the tree had `size` leaves. */
export async function entriesSince(app: FastifyInstance, size: number): Promise<LedgerEntry[]> {
  return size === 0 ? entries(app, 'limit=1000') : entries(app, `after=${size - 1}&limit=1000`);
}

/**
 * Runs `action` and asserts it made exactly one change: a `change.authorized` entry
 * (one signature sufficed, under the default rule) followed by one entry of `type` by
 * `actor` (about `workload`, or about no workload). Returns the response and that entry.
 */
export async function expectChange(
  app: FastifyInstance,
  expected: { type: string; actor?: string; workload?: string | undefined },
  action: () => Promise<LightMyRequestResponse>,
): Promise<{ res: LightMyRequestResponse; entry: LedgerEntry }> {
  const before = await treeSize(app);
  const res = await action();
  const added = await entriesSince(app, before);
  expect(added.map((e) => e.type), res.body).toEqual(['change.authorized', expected.type]);
  const [authorized, entry] = added as [LedgerEntry, LedgerEntry];
  const actor = expected.actor ?? 'member:admin';
  expect(authorized).toMatchObject({ seq: before, actor, payload: { approvers: [actor.replace(/^member:/, '')], proposal: null, produced: 1 } });
  expect(entry.seq).toBe(before + 1);
  expect(entry.actor).toBe(actor);
  expect(entry.workload).toBe(expected.workload);
  return { res, entry };
}

/** Runs `action` and asserts the ledger did not grow. */
export async function expectNoEntry(app: FastifyInstance, action: () => Promise<LightMyRequestResponse>): Promise<LightMyRequestResponse> {
  const before = await treeSize(app);
  const res = await action();
  expect(await treeSize(app), res.body).toBe(before);
  return res;
}

export interface SignOptions {
  readonly created?: Date;
  readonly nonce?: string;
}

/** The three signature header fields for a request, as `TestServer.signed` would send them. */
export function signatureHeaders(
  fixture: ServerFixture,
  method: string,
  url: string,
  payload: string | undefined,
  member: TestMember = fixture.server.admin,
  options: SignOptions = {},
): Record<string, string> {
  const at = url.indexOf('?');
  return signRequest({
    method,
    authority: INJECT_AUTHORITY,
    path: at < 0 ? url : url.slice(0, at),
    query: at < 0 ? undefined : url.slice(at + 1),
    body: payload,
    keyId: member.name,
    alg: member.alg,
    privateKey: member.privateKey,
    created: options.created ?? fixture.clock(),
    ...(options.nonce ? { nonce: options.nonce } : {}),
  });
}

/** Sends a request with exactly the given headers and raw payload. */
export async function send(
  app: FastifyInstance,
  method: string,
  url: string,
  headers: Record<string, string>,
  payload?: string,
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: method as 'POST',
    url,
    headers: { ...headers, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(payload !== undefined ? { payload } : {}),
  });
}

export interface RouteInfo {
  /** Fastify's form, with `:param` segments. */
  readonly url: string;
  readonly methods: readonly string[];
}

/**
 * Every route the app serves, read from `printRoutes` (the router's own tree), so a
 * route added later is covered without touching the tests. HEAD twins of GET routes
 * are dropped.
 */
export function listRoutes(app: FastifyInstance): RouteInfo[] {
  const lines = app.printRoutes({ commonPrefix: false }).split('\n');
  const stack: string[] = [];
  const routes: RouteInfo[] = [];
  for (const line of lines) {
    const match = /^((?:[│ ] {3})*)[├└]── (.*?)(?: \(([A-Z, ]+)\))?$/u.exec(line);
    if (!match) continue;
    const depth = [...match[1]!].length / 4;
    const path = (stack[depth - 1] ?? '') + match[2]!;
    stack[depth] = path;
    stack.length = depth + 1;
    if (match[3] === undefined) continue;
    const methods = match[3].split(',').map((m) => m.trim()).filter((m) => m !== 'HEAD');
    if (methods.length > 0) routes.push({ url: path, methods });
  }
  return routes;
}

export const MUTATING_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** `METHOD url` for every mutating route. */
export function mutatingRoutes(app: FastifyInstance): string[] {
  return listRoutes(app).flatMap((route) => route.methods.filter((m) => MUTATING_METHODS.has(m)).map((m) => `${m} ${route.url}`));
}

/** Asserts no request this server answered so far ended in a 5xx (from its own metrics). */
export async function expectNo5xx(app: FastifyInstance): Promise<void> {
  const res = await get(app, '/metrics');
  expect(res.statusCode).toBe(200);
  const failures = res.body.split('\n').filter((line) => line.startsWith('covenant_http_requests_total{') && /status="5\d\d"/.test(line));
  expect(failures).toEqual([]);
}

/** Sets up `payments/ingest` with a measurement release 1.0.0 and a signer release 2.0.0. */
export async function seedWorkload(server: TestServer): Promise<void> {
  const steps: [string, string, unknown][] = [
    ['POST', '/v1/workloads', { name: WORKLOAD }],
    ['POST', `${WORKLOAD_PATH}/releases`, { version: '1.0.0', class: 'sim', measurements: [sha256('a')], securityVersion: 1 }],
    ['POST', `${WORKLOAD_PATH}/releases`, { version: '2.0.0', class: 'sgx', signer: 'ab'.repeat(32), product: 'ingest', minSvn: 2 }],
  ];
  for (const [method, url, body] of steps) {
    const res = await server.signed(method, url, body);
    expect(res.statusCode, res.body).toBe(201);
  }
}
