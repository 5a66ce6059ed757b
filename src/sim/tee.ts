/**
 * The attester side of the simulated TEE: what a workload "running in" a sim platform
 * asks for to prove itself. SIMULATED — OFFERS NO SECURITY: the platform key is an
 * ordinary key in this process, so the "TEE" reports whatever launch description it was
 * given.
 */
import { createPublicKey, sign } from 'node:crypto';
import { CovenantError } from '../core/errors.js';
import { LruCache } from '../core/lru.js';
import { formatDigest, parseDigest } from '../core/digest.js';
import { encodeEvidence, encodeReport, REPORT_DATA_BYTES, SIM_REPORT_VERSION, workloadSchema, type SimReport, type SimWorkload } from '../evidence/sim/format.js';
import { expectedReportData } from '../verifier/binding.js';
import type { PlatformIdentity } from './vendor.js';

/** What was launched on the platform, as the report states it. */
export type LaunchedWorkload = SimWorkload;

export class SimulatedTee {
  readonly platform: PlatformIdentity;
  readonly workload: LaunchedWorkload;
  /** Instance keys already checked to be SPKI: an instance re-attests with the same key, and decoding one is not free. */
  readonly #checkedKeys = new LruCache<string, true>(1024);

  constructor(platform: PlatformIdentity, workload: LaunchedWorkload) {
    const parsed = workloadSchema.safeParse(workload);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => ({ field: issue.path.join('.') || 'workload', message: issue.message }));
      throw new CovenantError('validation-failed', `sim workload: ${issues.map((i) => `${i.field}: ${i.message}`).join('; ')}`, { issues });
    }
    if (platform.privateKey.asymmetricKeyType !== 'ed25519') {
      throw new CovenantError('validation-failed', 'sim platform key must be Ed25519', { issues: [{ field: 'platform', message: 'must be Ed25519' }] });
    }
    this.platform = platform;
    // Lowercase digests, so two launches of the same code give byte-identical reports.
    const configDigests: Record<string, string> = {};
    for (const [name, value] of Object.entries(parsed.data.configDigests)) configDigests[name] = formatDigest(parseDigest(value));
    this.workload = Object.freeze({
      ...parsed.data,
      measurement: formatDigest(parseDigest(parsed.data.measurement)),
      ...(parsed.data.signer === undefined ? {} : { signer: parsed.data.signer.toLowerCase() }),
      configDigests: Object.freeze(configDigests),
    });
  }

  /**
   * Evidence bytes (media type `application/vnd.covenant.sim-evidence+json`) binding
   * `nonce` and the instance key: reportData = SHA-512(nonce ‖ instancePublicKey), where
   * `instancePublicKey` is the DER SubjectPublicKeyInfo of the key, as
   * `key.export({ type: 'spki', format: 'der' })` gives it. It is checked to parse as SPKI,
   * because hashing a raw key or PEM by mistake would make a binding no verifier matches.
   */
  report(nonce: Uint8Array, instancePublicKey: Uint8Array): Uint8Array {
    this.#checkSpki(instancePublicKey);
    const report: SimReport = {
      version: SIM_REPORT_VERSION,
      ...this.workload,
      reportData: Buffer.from(expectedReportData('sim', nonce, instancePublicKey)).toString('hex'),
    };
    const reportBytes = encodeReport(report);
    const signature = sign(null, reportBytes, this.platform.privateKey);
    return encodeEvidence({ report: reportBytes, signature: new Uint8Array(signature), platformCertificate: this.platform.certificate });
  }

  #checkSpki(key: Uint8Array): void {
    const id = Buffer.from(key).toString('base64');
    if (this.#checkedKeys.get(id) !== undefined) return;
    try {
      createPublicKey({ key: Buffer.from(key), format: 'der', type: 'spki' });
    } catch (error) {
      throw new CovenantError('validation-failed', 'instancePublicKey must be a DER SubjectPublicKeyInfo', {
        issues: [{ field: 'instancePublicKey', message: 'must be a DER SubjectPublicKeyInfo' }],
        cause: error,
      });
    }
    this.#checkedKeys.set(id, true);
  }

  /**
   * Evidence whose reportData is exactly `reportData` (64 bytes), for protocols that
   * bind their own runtime data — the KBS puts SHA-384 of its canonical runtime data
   * there (src/keys/runtime-data.ts). What it binds is the caller's to get right; the
   * verifier decides whether it is the binding it expects.
   */
  reportOver(reportData: Uint8Array): Uint8Array {
    if (reportData.length !== REPORT_DATA_BYTES) {
      throw new CovenantError('validation-failed', `reportData must be ${REPORT_DATA_BYTES} bytes, got ${reportData.length}`, {
        issues: [{ field: 'reportData', message: `must be ${REPORT_DATA_BYTES} bytes` }],
      });
    }
    const reportBytes = encodeReport({ version: SIM_REPORT_VERSION, ...this.workload, reportData: Buffer.from(reportData).toString('hex') });
    const signature = sign(null, reportBytes, this.platform.privateKey);
    return encodeEvidence({ report: reportBytes, signature: new Uint8Array(signature), platformCertificate: this.platform.certificate });
  }
}
