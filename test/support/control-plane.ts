import type { TokenKeyRing } from '../../src/app/token-key-ring.js';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { VerificationMaterial } from '../../src/app/verification-material.js';
import { AttestationService, type EvidenceVerifier } from '../../src/app/attestation.js';
import { ControlPlane } from '../../src/app/control-plane.js';
import { createTenant } from '../../src/ceremony/members.js';
import { generateMemberKey, loadPrivateKey, type MemberKeyAlg } from '../../src/ceremony/member-key.js';
import { signRequest } from '../../src/ceremony/signed-request.js';
import type { Clock } from '../../src/core/clock.js';
import { DEFAULT_TENANT } from '../../src/core/model.js';
import type { LogKey } from '../../src/ledger/checkpointer.js';
import { formatVerifierKey } from '../../src/ledger/note.js';
import type { AdmissionLimits } from '../../src/server/admission.js';
import { buildServer } from '../../src/server/app.js';
import { Metrics } from '../../src/server/metrics.js';
import type { ServeOptions } from '../../src/server/serve.js';
import type { Store } from '../../src/store/store.js';
import { newSessionKey } from '../../src/verifier/session.js';

/** The authority fastify's inject addresses (Host `localhost:80`), which signed test requests cover. */
export const INJECT_AUTHORITY = 'localhost';

/** A member identity usable to sign test requests. */
export interface TestMember {
  readonly name: string;
  readonly alg: MemberKeyAlg;
  readonly publicKey: string;
  readonly privateKey: KeyObject;
}

export function newMember(name: string, alg: MemberKeyAlg = 'ed25519'): TestMember {
  const generated = generateMemberKey(alg);
  return { name, alg, publicKey: generated.publicKey, privateKey: loadPrivateKey(generated.privateKeyPem).key };
}

export function newLogKey(origin = `covenant/${DEFAULT_TENANT}`): LogKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { origin, privateKey, vkey: formatVerifierKey(origin, createPublicKey(privateKey)) };
}

/** A settable clock: tests move time explicitly. */
export function manualClock(start = new Date('2026-11-22T12:00:00.000Z')): Clock & { set(date: Date): void; advance(ms: number): void } {
  let now = start.getTime();
  const clock = (() => new Date(now)) as Clock & { set(date: Date): void; advance(ms: number): void };
  clock.set = (date) => {
    now = date.getTime();
  };
  clock.advance = (ms) => {
    now += ms;
  };
  return clock;
}

export interface TestPlane {
  readonly cp: ControlPlane;
  readonly admin: TestMember;
  readonly logKey: LogKey;
  readonly tenant: string;
}

/** A control plane on `store` with the tenant created and one admin enrolled. */
export async function createTestPlane(store: Store, clock: Clock = () => new Date()): Promise<TestPlane> {
  const logKey = newLogKey();
  const admin = newMember('admin');
  const cp = new ControlPlane({ store, clock, logKey: () => logKey });
  await cp.execute(
    DEFAULT_TENANT,
    createTenant({ origin: logKey.origin, logVkey: logKey.vkey }, [{ name: admin.name, publicKey: admin.publicKey, alg: admin.alg, roles: ['admin'] }]),
  );
  return { cp, admin, logKey, tenant: DEFAULT_TENANT };
}

export interface TestServer extends TestPlane {
  readonly app: FastifyInstance;
  /** Sends a request signed by `member` (default: the admin) through fastify's inject. */
  signed(method: string, url: string, body?: unknown, member?: TestMember, options?: { created?: Date; nonce?: string; rawBody?: string }): Promise<LightMyRequestResponse>;
}

export interface TestServerOptions {
  readonly bodyLimit?: number;
  /** Evidence formats the attestation routes take (default none). */
  readonly verifiers?: readonly EvidenceVerifier[];
  readonly admission?: AdmissionLimits;
  /** Result token lifetime jitter as a fraction (default 0: tests read exact expiries). */
  readonly tokenJitter?: number;
  readonly tokenLifetimeSeconds?: number;
  /** The app's pino options (default: no logging). */
  readonly logger?: Parameters<typeof buildServer>[0]['logger'];
  /** Token keys that rotate online, on this server's store (default: one fixed key, no rotation route). */
  readonly tokenKeyRing?: TokenKeyRing;
}

export async function createTestServer(store: Store, clock: Clock = () => new Date(), options: TestServerOptions = {}): Promise<TestServer> {
  return serverFor(await createTestPlane(store, clock), clock, options);
}

/**
 * Another replica of `primary`'s control plane on `store` (a second connection to the
 * same PostgreSQL database): its own committer, caches and server, the same tenant keys.
 */
export async function createTestReplica(store: Store, primary: TestPlane, clock: Clock, options: TestServerOptions = {}): Promise<TestServer> {
  const cp = new ControlPlane({ store, clock, logKey: () => primary.logKey });
  return serverFor({ ...primary, cp }, clock, options);
}

async function serverFor(plane: TestPlane, clock: Clock, options: TestServerOptions): Promise<TestServer> {
  const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const material = new VerificationMaterial(plane.cp.store, plane.tenant, clock);
  const attestation = new AttestationService({
    cp: plane.cp,
    tenant: plane.tenant,
    material,
    sessionKey: newSessionKey(),
    tokenKey: options.tokenKeyRing ?? tokenKey,
    verifiers: options.verifiers ?? [],
    build: 'test',
    tokenJitter: options.tokenJitter ?? 0,
    ...(options.tokenLifetimeSeconds === undefined ? {} : { tokenLifetimeSeconds: options.tokenLifetimeSeconds }),
  });
  const app = await buildServer({
    cp: plane.cp,
    tenant: plane.tenant,
    metrics: new Metrics(),
    version: 'test',
    tokenKeys: options.tokenKeyRing ?? [{ key: tokenKey }],
    attestation,
    material,
    ...(options.bodyLimit === undefined ? {} : { bodyLimit: options.bodyLimit }),
    ...(options.admission === undefined ? {} : { admission: options.admission }),
    ...(options.logger === undefined ? {} : { logger: options.logger }),
    ...(options.tokenLifetimeSeconds === undefined ? {} : { tokenLifetimeSeconds: options.tokenLifetimeSeconds }),
  });
  return {
    ...plane,
    app,
    async signed(method, url, body, member = plane.admin, opts = {}) {
      const payload = opts.rawBody ?? (body === undefined ? undefined : JSON.stringify(body));
      const [path, query] = url.split('?') as [string, string | undefined];
      const headers = signRequest({
        method,
        authority: INJECT_AUTHORITY,
        path,
        query,
        body: payload,
        keyId: member.name,
        alg: member.alg,
        privateKey: member.privateKey,
        created: opts.created ?? clock(),
        ...(opts.nonce ? { nonce: opts.nonce } : {}),
      });
      return app.inject({
        method: method as 'POST',
        url,
        headers: { ...headers, ...(payload !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(payload !== undefined ? { payload } : {}),
      });
    },
  };
}

/** `startServer`'s options for a server in the test's process: a free port, quiet, no background tasks. */
export function testServeOptions(dataDir: string, overrides: Partial<ServeOptions> = {}): ServeOptions {
  return {
    dataDir,
    host: '127.0.0.1',
    port: 0,
    tenant: DEFAULT_TENANT,
    checkpointIntervalMs: 0,
    bodyLimit: 1024 * 1024,
    signatureWindowSeconds: 300,
    logLevel: 'silent',
    version: 'test',
    verifiers: [],
    driverIntervalSeconds: 0,
    ...overrides,
  };
}
