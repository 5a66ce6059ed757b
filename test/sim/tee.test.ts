import { describe, expect, it } from 'vitest';
import { generateKeyPairSync, verify } from 'node:crypto';
import { CovenantError } from '../../src/core/errors.js';
import { decodeEvidence, decodeReport, encodeReport } from '../../src/evidence/sim/index.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { expectedReportData } from '../../src/verifier/binding.js';
import { createVendorRoot, issuePlatformIdentity } from '../../src/sim/vendor.js';

const NOW = new Date('2025-01-01T00:00:00Z');
const root = createVendorRoot({ now: NOW });
const platform = issuePlatformIdentity(root, { now: NOW, platformId: 'node-1' });
const WORKLOAD = {
  measurement: `SHA256:${'AA'.repeat(32)}`,
  signer: 'ABCD',
  product: 'ingest',
  svn: 2,
  debug: false,
  configDigests: { roots: `sha384:${'0F'.repeat(48)}` },
};
const spki = new Uint8Array(generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }));

describe('SimulatedTee', () => {
  it('normalises the launch description to lowercase digests', () => {
    const tee = new SimulatedTee(platform, WORKLOAD);
    expect(tee.workload).toEqual({
      measurement: `sha256:${'aa'.repeat(32)}`,
      signer: 'abcd',
      product: 'ingest',
      svn: 2,
      debug: false,
      configDigests: { roots: `sha384:${'0f'.repeat(48)}` },
    });
    expect(Object.isFrozen(tee.workload)).toBe(true);
  });

  it('signs the canonical report with the platform key and carries the platform certificate', () => {
    const tee = new SimulatedTee(platform, WORKLOAD);
    const nonce = new Uint8Array([1, 2, 3]);
    const evidence = decodeEvidence(tee.report(nonce, spki));
    expect(evidence.platformCertificate).toEqual(platform.certificate);
    const report = decodeReport(evidence.report);
    expect(encodeReport(report)).toEqual(evidence.report);
    expect(report).toMatchObject({ version: 1, ...tee.workload });
    expect(report.reportData).toBe(Buffer.from(expectedReportData('sim', nonce, spki)).toString('hex'));
    expect(verify(null, evidence.report, platform.privateKey, evidence.signature)).toBe(true);
  });

  it('gives byte-identical evidence for the same nonce and key (Ed25519 is deterministic)', () => {
    const tee = new SimulatedTee(platform, WORKLOAD);
    expect(tee.report(new Uint8Array(16), spki)).toEqual(tee.report(new Uint8Array(16), spki));
    expect(tee.report(new Uint8Array(16), spki)).not.toEqual(tee.report(new Uint8Array(17), spki));
  });

  it('refuses an instance key that is not SPKI DER', () => {
    const tee = new SimulatedTee(platform, WORKLOAD);
    const raw = spki.subarray(spki.length - 32);
    expect(() => tee.report(new Uint8Array(8), raw)).toThrow(/SubjectPublicKeyInfo/);
  });

  it('refuses a launch description the report format cannot carry', () => {
    const bad = [
      { ...WORKLOAD, measurement: 'sha1:00' },
      { ...WORKLOAD, svn: -1 },
      { ...WORKLOAD, svn: 1.5 },
      { ...WORKLOAD, signer: 'xyz' },
      { ...WORKLOAD, product: 'has space' },
      { ...WORKLOAD, configDigests: { Roots: `sha256:${'00'.repeat(32)}` } },
      { ...WORKLOAD, unexpected: 1 },
    ];
    for (const workload of bad) expect(() => new SimulatedTee(platform, workload as typeof WORKLOAD)).toThrow(CovenantError);
  });
});
