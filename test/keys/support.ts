/**
 * A control plane with the key broker behind fastify's inject, sim instances that speak
 * the KBS protocol through the SDK, and helpers to set a workload, secrets and rules up
 * through the signed HTTP API.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterEach, beforeEach, expect } from 'vitest';
import { AttestationService, type EvidenceVerifier } from '../../src/app/attestation.js';
import { signRequest } from '../../src/ceremony/signed-request.js';
import { simPlugin } from '../../src/evidence/sim/index.js';
import { KeyBroker } from '../../src/keys/broker.js';
import { FileKms } from '../../src/keys/kms.js';
import { KBS_ERROR_BASE } from '../../src/keys/refusals.js';
import type { LedgerEntry } from '../../src/ledger/entry.js';
import { KbsClient, simRcarTee, type KbsTransport, type TeeKeyType } from '../../src/sdk/index.js';
import { buildServer } from '../../src/server/app.js';
import { Metrics } from '../../src/server/metrics.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import type { Store } from '../../src/store/store.js';
import { VerificationMaterial } from '../../src/app/verification-material.js';
import { newSessionKey } from '../../src/verifier/session.js';
import { useFreshInstance, type BackendFactory, type BackendInstance } from '../store/backends.js';
import { createTestPlane, INJECT_AUTHORITY, manualClock, type TestMember, type TestPlane } from '../support/control-plane.js';
import { simPki, type SimPki } from '../support/fleet.js';

export const WORKLOAD = 'payments/ingest';
export const W = encodeURIComponent(WORKLOAD);

export const measurementOf = (version: string): string => `sha256:${Buffer.from(`${WORKLOAD} ${version}`).toString('hex').padEnd(64, '0').slice(0, 64)}`;

export interface BrokerServer extends TestPlane {
  readonly app: FastifyInstance;
  readonly broker: KeyBroker;
  readonly pki: SimPki;
  readonly clock: ReturnType<typeof manualClock>;
  signed(method: string, url: string, body?: unknown, member?: TestMember): Promise<LightMyRequestResponse>;
  /** As `signed`, with the body's exact bytes (which need not be JSON). */
  signedRaw(method: string, url: string, payload: string | undefined, member?: TestMember): Promise<LightMyRequestResponse>;
}

export interface BrokerServerOptions {
  readonly tokenLifetimeSeconds?: number;
  /** Inject a logger (a pino destination) to inspect log lines. */
  readonly logger?: Parameters<typeof buildServer>[0]['logger'];
  /** Verifiers beside the simulated TEE's. */
  readonly verifiers?: readonly EvidenceVerifier[];
}

export async function createBrokerServer(store: Store, clock = manualClock(), options: BrokerServerOptions = {}): Promise<BrokerServer> {
  const plane = await createTestPlane(store, clock);
  const pki = simPki(clock());
  const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const sessionKey = newSessionKey();
  const verifiers: EvidenceVerifier[] = [{ plugin: simPlugin, trustAnchors: [pki.root.certificate] }, ...(options.verifiers ?? [])];
  const material = new VerificationMaterial(plane.cp.store, plane.tenant, clock);
  const common = {
    cp: plane.cp,
    tenant: plane.tenant,
    material,
    tokenKey,
    build: 'test',
    tokenJitter: 0,
    ...(options.tokenLifetimeSeconds === undefined ? {} : { tokenLifetimeSeconds: options.tokenLifetimeSeconds }),
  };
  const broker = new KeyBroker({
    cp: plane.cp,
    tenant: plane.tenant,
    kms: new FileKms(new Uint8Array(randomBytes(32))),
    sealingMaster: new Uint8Array(randomBytes(32)),
    sessionKey,
    verifiers,
    attestationFor: (verifier, key) => new AttestationService({ ...common, sessionKey: key, verifiers: [verifier] }),
  });
  const app = await buildServer({
    cp: plane.cp,
    tenant: plane.tenant,
    metrics: new Metrics(),
    version: 'test',
    tokenKeys: [{ key: tokenKey }],
    attestation: new AttestationService({ ...common, sessionKey, verifiers }),
    keyBroker: broker,
    material,
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.tokenLifetimeSeconds === undefined ? {} : { tokenLifetimeSeconds: options.tokenLifetimeSeconds }),
  });
  const signedRaw = async (method: string, url: string, payload: string | undefined, member: TestMember = plane.admin): Promise<LightMyRequestResponse> => {
    const [path, query] = url.split('?') as [string, string | undefined];
    const headers = signRequest({ method, authority: INJECT_AUTHORITY, path, query, body: payload, keyId: member.name, alg: member.alg, privateKey: member.privateKey, created: clock() });
    return app.inject({
      method: method as 'POST',
      url,
      headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(payload === undefined ? {} : { payload }),
    });
  };
  return {
    ...plane,
    app,
    broker,
    pki,
    clock,
    signed: (method, url, body, member) => signedRaw(method, url, body === undefined ? undefined : JSON.stringify(body), member),
    signedRaw,
  };
}

/** A fresh store and broker server per test, inside `describeEachBackend`. */
export function useBrokerServer(backend: BackendFactory, options: BrokerServerOptions = {}): () => BrokerServer & { readonly instance: BackendInstance } {
  const instance = useFreshInstance(backend);
  let current: (BrokerServer & { instance: BackendInstance }) | undefined;
  beforeEach(async () => {
    current = { ...(await createBrokerServer(instance().store, manualClock(), options)), instance: instance() };
  });
  afterEach(async () => {
    const done = current;
    current = undefined;
    await done?.app.close();
  });
  return () => {
    if (current === undefined) throw new Error('useBrokerServer: no server outside a test');
    return current;
  };
}

const first = (value: string | string[] | number | undefined): string | undefined => (Array.isArray(value) ? value[0] : value === undefined ? undefined : String(value));

/** fastify's inject as the SDK's transport: the same bytes, no sockets. */
export const kbsInject =
  (app: FastifyInstance): KbsTransport =>
  async ({ method, url, headers, body }) => {
    const { pathname, search } = new URL(url);
    const res = await app.inject({ method, url: `${pathname}${search}`, headers: { ...headers }, ...(body === undefined ? {} : { payload: Buffer.from(body) }) });
    return { status: res.statusCode, headers: { 'set-cookie': first(res.headers['set-cookie']), 'retry-after': first(res.headers['retry-after']) }, body: res.body };
  };

async function ok(res: Promise<LightMyRequestResponse> | LightMyRequestResponse, status = 200): Promise<LightMyRequestResponse> {
  const done = await res;
  expect(done.statusCode, done.body).toBe(status);
  return done;
}

/** The workload, releases registered with their sim measurements, and the first accepted. */
export async function setUpWorkload(server: BrokerServer, releases: readonly { version: string; svn?: number }[], accept: readonly string[]): Promise<void> {
  await ok(server.signed('POST', '/v1/workloads', { name: WORKLOAD }), 201);
  for (const release of releases) {
    await ok(server.signed('POST', `/v1/workloads/${W}/releases`, { version: release.version, class: 'sim', measurements: [measurementOf(release.version)], securityVersion: release.svn ?? 1 }), 201);
  }
  await ok(server.signed('POST', `/v1/workloads/${W}/policy`, { accept, reason: 'first releases' }), 201);
}

export async function putSecret(server: BrokerServer, resource: string, value: string | Uint8Array): Promise<LightMyRequestResponse> {
  return ok(server.signed('POST', `/v1/secrets/${resource}`, { value: Buffer.from(value).toString('base64') }), 201);
}

export async function setRule(server: BrokerServer, resource: string, rule: Record<string, unknown>): Promise<LightMyRequestResponse> {
  return ok(server.signed('POST', `/v1/secrets/${resource}/rules`, rule));
}

export async function startRollout(server: BrokerServer, to: string): Promise<void> {
  await ok(server.signed('POST', `/v1/workloads/${W}/rollout`, { to, reason: `upgrade to ${to}` }), 201);
}

export async function endRollout(server: BrokerServer, how: 'complete' | 'rollback'): Promise<void> {
  // These tests keep an A instance live to show what it gets once A is out, so completion
  // is forced past the fleet's share, as an operator would with a reason.
  await ok(server.signed('POST', `/v1/workloads/${W}/rollout/${how}`, how === 'complete' ? { reason: 'A instances still live', force: true } : { reason: how }));
}

/** A sim TEE instance of `version` speaking KBS through the SDK. */
export function instanceOf(server: BrokerServer, version: string, options: { svn?: number; keyType?: TeeKeyType; workload?: string; measurement?: string } = {}): KbsClient {
  const tee = new SimulatedTee(server.pki.platform, { measurement: options.measurement ?? measurementOf(version), svn: options.svn ?? 1, debug: false, configDigests: {} });
  return new KbsClient({ server: 'http://covenant.test', workload: options.workload ?? WORKLOAD, tee: simRcarTee(tee), transport: kbsInject(server.app), ...(options.keyType === undefined ? {} : { keyType: options.keyType }) });
}

export interface KbsProblemBody {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly reason?: string;
}

/** Asserts a KBS RFC 7807 error: status, KBS error name and (when given) the ledgered reason code. */
export function expectKbsProblem(res: LightMyRequestResponse, status: number, name: string, reason?: string): KbsProblemBody {
  const context = `${res.statusCode} ${res.body.slice(0, 500)}`;
  expect(res.statusCode, context).toBe(status);
  expect(String(res.headers['content-type']), context).toMatch(/^application\/problem\+json(;|$)/);
  const body = JSON.parse(res.body) as KbsProblemBody;
  expect(body.type, context).toBe(`${KBS_ERROR_BASE}${name}`);
  expect(body.status).toBe(status);
  expect(body.detail.length).toBeGreaterThan(0);
  if (reason !== undefined) expect(body.reason, context).toBe(reason);
  return body;
}

export async function ledger(app: FastifyInstance): Promise<LedgerEntry[]> {
  const out: LedgerEntry[] = [];
  for (;;) {
    const res = await app.inject({ method: 'GET', url: `/v1/audit/entries?limit=1000${out.length === 0 ? '' : `&after=${out.length - 1}`}` });
    expect(res.statusCode, res.body).toBe(200);
    const page = (res.json() as { entries: LedgerEntry[] }).entries;
    if (page.length === 0) return out;
    out.push(...page);
  }
}

export async function treeSize(app: FastifyInstance): Promise<number> {
  const res = await app.inject({ method: 'GET', url: '/v1/audit/head' });
  return (res.json() as { treeSize: number }).treeSize;
}

/** The entries `action` appended. */
export async function appended<T>(app: FastifyInstance, action: () => Promise<T>): Promise<{ result: T; entries: LedgerEntry[] }> {
  const before = await treeSize(app);
  const result = await action();
  const all = await ledger(app);
  return { result, entries: all.slice(before) };
}
