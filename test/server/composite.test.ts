/**
 * Composite evidence: a CPU TEE with an attached GPU attests once; the GPU's SPDM
 * report binds the same session nonce and instance key; the result carries one
 * submodule per device; a policy rule can require an attested GPU, and a token stops
 * standing when the GPU's release leaves the policy.
 */
import { generateKeyPairSync } from 'node:crypto';
import { base64url, decodeJwt } from 'jose';
import { beforeAll, expect, it } from 'vitest';
import { nvidiaGpuPlugin } from '../../src/evidence/nvidia/index.js';
import { simPlugin, SIM_MEDIA_TYPE } from '../../src/evidence/sim/index.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { expectedReportData } from '../../src/verifier/binding.js';
import { ATTESTATION_MEDIA_TYPE, encodeEnvelope } from '../../src/verifier/envelope.js';
import { document, gpuPki, signed, unsignedReport, type GpuPki } from '../evidence/nvidia/builders.js';
import { simPki } from '../support/fleet.js';
import { describeEachBackend } from '../store/backends.js';
import { WORKLOAD, WORKLOAD_PATH, expectProblem, sha256, useTestServer, type ServerFixture } from './support.js';

const SIM = simPki(new Date('2026-11-22T12:00:00.000Z'));
let gpu: GpuPki;
let gpuMeasurement: string;

beforeAll(async () => {
  gpu = await gpuPki();
  // The GPU release pins the whole measurement record, as the plugin digests it.
  const claims = await nvidiaGpuPlugin.verify(document(await signed(unsignedReport(), gpu.leaf.keys.privateKey), gpu.chainPem), { now: new Date('2026-11-22T12:00:00Z'), trustAnchors: [gpu.root.der] });
  const measurement = claims.measurements[0]!;
  gpuMeasurement = `${measurement.alg}:${measurement.hex}`;
});

describeEachBackend('composite attestation: a CPU TEE and its GPU', (backend) => {
  const fixture = useTestServer(backend, { verifiers: [{ plugin: simPlugin, trustAnchors: [SIM.root.certificate] }, { plugin: nvidiaGpuPlugin, get trustAnchors() { return [gpu.root.der]; } }] });

  async function seed(f: ServerFixture): Promise<void> {
    const steps: [string, unknown][] = [
      ['/v1/workloads', { name: WORKLOAD }],
      [`${WORKLOAD_PATH}/releases`, { version: '1.0.0', class: 'sim', measurements: [sha256('a')] }],
      [`${WORKLOAD_PATH}/releases`, { version: 'h100-550', class: 'nvidia-gpu', measurements: [gpuMeasurement] }],
      [`${WORKLOAD_PATH}/policy`, { accept: ['1.0.0', 'h100-550'], rules: { gpu_attested: "devices.exists(d, d.tee == 'nvidia-gpu' && d.status == 'affirming')" }, reason: 'data only to attested GPUs' }],
    ];
    for (const [url, body] of steps) expect((await f.server.signed('POST', url, body)).statusCode).toBe(201);
  }

  async function attest(f: ServerFixture, options: { gpu?: 'bound' | 'foreign-nonce' | 'none' } = {}) {
    const session = await f.server.app.inject({ method: 'POST', url: `/challenge-response/v1/newSession?workload=${encodeURIComponent(WORKLOAD)}` });
    const nonce = base64url.decode((session.json() as { nonce: string }).nonce);
    const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
    const tee = new SimulatedTee(SIM.platform, { measurement: sha256('a'), svn: 1, debug: false, configDigests: {} });
    const gpuNonce = options.gpu === 'foreign-nonce' ? new Uint8Array(32).fill(9) : expectedReportData('nvidia-gpu', nonce, spki);
    const devices = options.gpu === 'none' ? [] : [{ evidenceType: nvidiaGpuPlugin.mediaTypes[0]!, evidence: document(await signed(unsignedReport({ nonce: gpuNonce }), gpu.leaf.keys.privateKey), gpu.chainPem), collateral: [] }];
    const payload = Buffer.from(encodeEnvelope({ evidenceType: SIM_MEDIA_TYPE, evidence: tee.report(nonce, spki), instanceKey: spki, collateral: [], devices }));
    return f.server.app.inject({ method: 'POST', url: `/challenge-response/v1/${String(session.headers.location)}`, headers: { 'content-type': ATTESTATION_MEDIA_TYPE }, payload });
  }

  it('one result, one submodule per device; the policy rule sees the GPU verdict', async () => {
    const f = fixture();
    await seed(f);
    const res = await attest(f);
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { result: string; appraisal: { status: string; devices: { status: string; release: { version: string } }[] } };
    expect(body.appraisal).toMatchObject({ status: 'affirming', devices: [{ status: 'affirming', release: { version: 'h100-550' } }] });
    const claims = decodeJwt(body.result) as { submods: Record<string, Record<string, unknown>> };
    expect(Object.keys(claims.submods).sort()).toEqual([WORKLOAD, `${WORKLOAD}/nvidia-gpu/0`]);
    expect(claims.submods[`${WORKLOAD}/nvidia-gpu/0`]).toMatchObject({ 'ear.status': 'affirming', 'covenant.tee': 'nvidia-gpu', 'covenant.workload': WORKLOAD, 'covenant.release': { version: 'h100-550' } });
    const check = await f.server.app.inject({ method: 'POST', url: '/v1/tokens/check', payload: { token: body.result } });
    expect(check.json()).toEqual({ valid: true, reasons: [] });

    // Without its GPU the same CPU is refused by the rule; a GPU report bound elsewhere is refused outright.
    const alone = (await attest(f, { gpu: 'none' })).json() as { appraisal: { status: string; reasons: { code: string }[] } };
    expect(alone.appraisal).toMatchObject({ status: 'contraindicated', reasons: [{ code: 'rule-failed:gpu_attested' }] });
    const foreign = await attest(f, { gpu: 'foreign-nonce' });
    expect(expectProblem(foreign, 422, 'evidence-invalid').detail).toMatch(/nonce/);

    // The GPU release leaves the policy: the earlier token no longer stands.
    expect((await f.server.signed('POST', `${WORKLOAD_PATH}/policy`, { remove: ['h100-550'], dropRules: ['gpu_attested'], reason: 'GPU driver withdrawn' })).statusCode).toBe(201);
    const stale = (await f.server.app.inject({ method: 'POST', url: '/v1/tokens/check', payload: { token: body.result } })).json() as { valid: boolean; reasons: string[] };
    expect(stale.valid).toBe(false);
    expect(stale.reasons).toEqual([expect.stringMatching(new RegExp(`^${WORKLOAD}/nvidia-gpu/0: release h100-550 is no longer accepted`))]);
  });
});
