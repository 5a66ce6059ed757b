/**
 * The independent KBS client (kbs-client.ts: jose and fetch only) against a running
 * Covenant server on loopback. The harness sets the server up with Covenant's own code
 * and hands the client one thing: a simulated TEE that reports over given report data.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTenantKeys } from '../../src/app/tenant-keys.js';
import { signRequest } from '../../src/ceremony/signed-request.js';
import { simPlugin } from '../../src/evidence/sim/index.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { createVendorRoot, issuePlatformIdentity } from '../../src/sim/vendor.js';
import { newMember, testServeOptions } from '../support/control-plane.js';
import { attest, KbsProtocolError, type Attester } from './kbs-client.js';

const WORKLOAD = 'payments/ingest';
const MEASUREMENT = `sha256:${'c'.repeat(64)}`;

describe('an independent KBS client against a running server', () => {
  let dir: string;
  let server: RunningServer;
  let attester: Attester;
  const admin = newMember('admin');

  async function signed(method: string, path: string, body?: unknown): Promise<Response> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers = signRequest({ method, authority: new URL(server.url).host, path, body: payload, keyId: admin.name, alg: admin.alg, privateKey: admin.privateKey, created: new Date() });
    const response = await fetch(new URL(path, server.url), { method, headers: { ...headers, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) }, ...(payload === undefined ? {} : { body: payload }) });
    expect(response.status, await response.clone().text()).toBeLessThan(300);
    return response;
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'covenant-interop-'));
    await createTenantKeys(dir, 'default', 'covenant/default', [{ name: admin.name, publicKey: admin.publicKey, alg: admin.alg, roles: ['admin'] }]);
    const issued = new Date(Date.now() - 86_400_000);
    const root = createVendorRoot({ now: issued });
    const tee = new SimulatedTee(issuePlatformIdentity(root, { now: issued, platformId: 'interop' }), { measurement: MEASUREMENT, svn: 1, debug: false, configDigests: {} });
    attester = { tee: 'sim', evidence: async (reportData) => JSON.parse(new TextDecoder().decode(tee.reportOver(reportData))) as unknown };
    server = await startServer(testServeOptions(dir, { version: 'interop', verifiers: [{ plugin: simPlugin, trustAnchors: [root.certificate] }] }));
    await signed('POST', '/v1/workloads', { name: WORKLOAD });
    await signed('POST', `/v1/workloads/${encodeURIComponent(WORKLOAD)}/releases`, { version: '1.0.0', class: 'sim', measurements: [MEASUREMENT] });
    await signed('POST', `/v1/workloads/${encodeURIComponent(WORKLOAD)}/policy`, { accept: ['1.0.0'], reason: 'interop' });
    await signed('POST', '/v1/secrets/default/key/interop', { value: Buffer.from('interoperable secret').toString('base64') });
    await signed('POST', '/v1/secrets/default/key/interop/rules', { name: 'ingest', workloads: [WORKLOAD] });
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const key of ['P-256', 'P-384', 'RSA'] as const) {
    it(`completes RCAR and opens the secret with a ${key} TEE key, presenting the session cookie`, async () => {
      const session = await attest({ server: server.url, workload: WORKLOAD, attester, key });
      expect(new TextDecoder().decode(await session.get('default/key/interop'))).toBe('interoperable secret');
    });
  }

  it('accepts evidence over the runtime data as Trustee’s attesters hash it', async () => {
    const session = await attest({ server: server.url, workload: WORKLOAD, attester, trusteeSpelling: true });
    expect(new TextDecoder().decode(await session.get('default/key/interop'))).toBe('interoperable secret');
  });

  it('presents the token as a bearer token, and reads its sealing key', async () => {
    const session = await attest({ server: server.url, workload: WORKLOAD, attester, bearer: true });
    expect(new TextDecoder().decode(await session.get('default/key/interop'))).toBe('interoperable secret');
    const slot = JSON.parse(new TextDecoder().decode(await session.get('sealing/key/current'))) as { slot: string; release: string; kid: string; key: string };
    expect(slot).toMatchObject({ slot: 'current', release: '1.0.0' });
    expect(Buffer.from(slot.key, 'base64url')).toHaveLength(32);
  });

  it('reads refusals as RFC 7807 documents with the KBS error types', async () => {
    const session = await attest({ server: server.url, workload: WORKLOAD, attester });
    const error = await session.get('default/key/missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KbsProtocolError);
    expect((error as KbsProtocolError).status).toBe(404);
    expect((error as KbsProtocolError).problem).toMatchObject({ type: 'https://github.com/confidential-containers/kbs/errors/ResourceNotFound', reason: 'unknown-resource' });
    const denied = await attest({ server: server.url, workload: 'no/such', attester }).catch((e: unknown) => e);
    expect((denied as KbsProtocolError).problem.type).toBe('https://github.com/confidential-containers/kbs/errors/InvalidRequest');
  });
});
