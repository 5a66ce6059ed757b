import { contentDigest, sha256Hex } from '../../src/core/canonical.js';
import type { PolicyVersion, Release, ReleaseStatus } from '../../src/core/model.js';
import { decidePolicyUpdate, type PolicyUpdate } from '../../src/core/policy.js';
import { buildReleaseDocument, type ReleaseArgs } from '../../src/core/release.js';
import type { Claims } from '../../src/evidence/plugin.js';
import { checkRule } from '../../src/policy/cel.js';

export const TENANT = 'default';
export const WORKLOAD = 'payments/ingest';
export const T0 = new Date('2025-03-01T12:00:00.000Z');
export const NOW = new Date('2025-03-02T12:00:00.000Z');

/** A deterministic sha256 digest text from a seed. */
export const sha256Of = (seed: string): string => `sha256:${sha256Hex(seed)}`;
/** A deterministic sha384 digest text from a seed. */
export const sha384Of = (seed: string): string => `sha384:${sha256Hex(seed)}${sha256Hex(`${seed}/2`).slice(0, 32)}`;

export function digest(text: string): { alg: 'sha256' | 'sha384' | 'sha512'; hex: string } {
  const [alg, hex] = text.split(':') as ['sha256' | 'sha384' | 'sha512', string];
  return { alg, hex };
}

export function makeRelease(args: ReleaseArgs, status: ReleaseStatus = 'registered', workload = WORKLOAD): Release {
  const document = buildReleaseDocument(TENANT, workload, args);
  return { document, digest: contentDigest(document), status, createdAt: T0.toISOString() };
}

export function releaseMap(...releases: Release[]): Map<string, Release> {
  return new Map(releases.map((release) => [release.document.version, release]));
}

/** A first policy version built by the real decision logic. */
export function makePolicy(
  releases: ReadonlyMap<string, Release>,
  update: Omit<PolicyUpdate, 'reason'>,
  current: PolicyVersion | null = null,
  now = T0,
): PolicyVersion {
  return decidePolicyUpdate({
    current,
    releases,
    update: { reason: 'test', ...update },
    actor: 'member:alice',
    now,
    tenant: TENANT,
    workload: WORKLOAD,
    checkRule,
  });
}

/** A policy version with settings decidePolicyUpdate would refuse (a corrupted store, a hand-made policy). */
export function alterPolicy(policy: PolicyVersion, change: Partial<PolicyVersion['document']>): PolicyVersion {
  const document = { ...policy.document, ...change };
  return { id: contentDigest(document), document };
}

export const M1 = sha256Of('app-1.0.0');
export const M2 = sha256Of('app-1.1.0');
export const ROOT_STORE = sha256Of('root-store-v1');
export const CRYPTO = sha256Of('crypto-settings-v1');
export const SIGNER = 'AB'.repeat(32);
export const SNP_MEASUREMENT = sha384Of('snp-launch');
export const PCR_COMPOSITE = sha256Of('pcr-composite');

export const SIM_1_0 = makeRelease({
  version: '1.0.0',
  class: 'sim',
  measurements: [M1],
  securityVersion: 1,
  config: { 'root-store': ROOT_STORE, crypto: CRYPTO },
});
export const SIM_1_1 = makeRelease({ version: '1.1.0', class: 'sim', measurements: [M2], securityVersion: 2 });
export const SNP_2_0 = makeRelease({ version: '2.0.0', class: 'sev-snp', signer: SIGNER, product: 'payments', minSvn: 3 });
export const TPM_3_0 = makeRelease({ version: '3.0.0', class: 'tpm', measurements: [PCR_COMPOSITE], securityVersion: 4 });

export function simClaims(overrides: Partial<Claims> = {}): Claims {
  return {
    teeClass: 'sim',
    measurements: [digest(M1)],
    securityVersion: 1,
    debug: false,
    config: { 'root-store': digest(ROOT_STORE), crypto: digest(CRYPTO), extra: digest(sha256Of('extra')) },
    reportData: '00'.repeat(64),
    details: { platform: 'CN=sim', version: 1 },
    ...overrides,
  };
}

export function snpClaims(overrides: Partial<Claims> = {}): Claims {
  return {
    teeClass: 'sev-snp',
    measurements: [digest(SNP_MEASUREMENT)],
    signer: SIGNER.toLowerCase(),
    product: 'payments',
    securityVersion: 3,
    debug: false,
    tcbStatus: 'UpToDate',
    tcb: { bootloader: 3, tee: 0, snp: 8, microcode: 115 },
    config: {},
    details: { vmpl: 0, chipId: 'ff'.repeat(64) },
    ...overrides,
  };
}

export function tpmClaims(overrides: Partial<Claims> = {}): Claims {
  return {
    teeClass: 'tpm',
    measurements: [digest(PCR_COMPOSITE)],
    debug: false,
    config: { pcr0: digest(sha256Of('pcr0')) },
    details: { firmwareVersion: '0x0000000000000001' },
    ...overrides,
  };
}
