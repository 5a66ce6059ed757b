/**
 * A workload whose release is the synthetic SGX enclave of test/evidence/dcap/synthetic.ts,
 * and one attestation of that enclave over the session API: what the collateral and
 * trust-anchor tests attest with.
 */
import { generateKeyPairSync } from 'node:crypto';
import { base64url } from 'jose';
import { expect } from 'vitest';
import { SGX_MEDIA_TYPES } from '../../src/evidence/dcap/index.js';
import { expectedReportData } from '../../src/verifier/binding.js';
import { ATTESTATION_MEDIA_TYPE, encodeEnvelope } from '../../src/verifier/envelope.js';
import { ENCLAVE, NOW, type world } from '../evidence/dcap/synthetic.js';
import { WORKLOAD, WORKLOAD_PATH, type ServerFixture } from './support.js';

export type SgxWorld = Awaited<ReturnType<typeof world>>;

/** At the synthetic PKI's time: the workload, its release, a policy accepting it, then `more` signed requests. */
export async function seedSgxWorkload(f: ServerFixture, more: readonly (readonly [string, unknown])[] = []): Promise<void> {
  f.clock.set(NOW);
  const measurement = `sha256:${Buffer.from(ENCLAVE.mrEnclave).toString('hex')}`;
  for (const [url, body] of [
    ['/v1/workloads', { name: WORKLOAD }],
    [`${WORKLOAD_PATH}/releases`, { version: '1.0.0', class: 'sgx', measurements: [measurement], securityVersion: ENCLAVE.isvSvn }],
    [`${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'first release' }],
    ...more,
  ] as const) {
    const res = await f.server.signed('POST', url, body);
    expect(res.statusCode, res.body).toBe(201);
  }
}

/** One attestation of the synthetic enclave, posting no collateral. */
export async function attestSgx(f: ServerFixture, dcap: SgxWorld) {
  const session = await f.server.app.inject({ method: 'POST', url: `/challenge-response/v1/newSession?workload=${encodeURIComponent(WORKLOAD)}` });
  const nonce = base64url.decode((session.json() as { nonce: string }).nonce);
  const spki = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
  const quote = dcap.quote({ enclave: { reportData: expectedReportData('sgx', nonce, spki) } });
  const payload = Buffer.from(encodeEnvelope({ evidenceType: SGX_MEDIA_TYPES[0], evidence: quote, instanceKey: spki, collateral: [], devices: [] }));
  return f.server.app.inject({ method: 'POST', url: `/challenge-response/v1/${String(session.headers.location)}`, headers: { 'content-type': ATTESTATION_MEDIA_TYPE }, payload });
}
