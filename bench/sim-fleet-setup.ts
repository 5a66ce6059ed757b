/**
 * The set-up the benches that attest share: a tenant whose one workload's releases are
 * simulated-TEE measurements, and a simulated vendor with an attestation service that
 * trusts it. (Simulated: offers no security; what it exercises is the real verifier.)
 */
import { generateKeyPairSync } from 'node:crypto';
import { AttestationService, type AttestationOptions } from '../src/app/attestation.js';
import type { ControlPlane } from '../src/app/control-plane.js';
import { createTenant } from '../src/ceremony/members.js';
import { generateMemberKey } from '../src/ceremony/member-key.js';
import { simPlugin } from '../src/evidence/sim/index.js';
import { createWorkload, registerRelease, updatePolicy } from '../src/policy/commands.js';
import { createVendorRoot, issuePlatformIdentity } from '../src/sim/vendor.js';
import { newSessionKey } from '../src/verifier/session.js';
import { BENCH_TENANT } from './support.js';

export interface SimRelease {
  readonly version: string;
  readonly measurement: string;
  readonly svn: number;
}

/** The bench tenant (one admin, 1-of-1), `workload` with `releases`, and a policy accepting `accept`; as the member `admin`. */
export async function seedSimWorkload(cp: ControlPlane, workload: string, releases: readonly SimRelease[], accept: readonly string[]): Promise<void> {
  const admin = generateMemberKey('ed25519');
  const logKey = cp.logKey(BENCH_TENANT);
  await cp.execute(BENCH_TENANT, createTenant({ origin: logKey.origin, logVkey: logKey.vkey }, [{ name: 'admin', publicKey: admin.publicKey, alg: 'ed25519', roles: ['admin'] }]));
  await cp.execute(BENCH_TENANT, createWorkload('admin', workload));
  for (const release of releases) {
    await cp.execute(BENCH_TENANT, registerRelease('admin', workload, { version: release.version, class: 'sim', measurements: [release.measurement], securityVersion: release.svn }));
  }
  await cp.execute(BENCH_TENANT, updatePolicy('admin', workload, { accept: [...accept], reason: 'bench' }));
}

/** A vendor root and one platform certified at `issued`, a token key, and an attestation service trusting that root (`options` added). */
export function simVendor(cp: ControlPlane, issued: Date, platformId: string, options: Partial<AttestationOptions> = {}) {
  const root = createVendorRoot({ now: issued });
  const platform = issuePlatformIdentity(root, { now: issued, platformId });
  const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const verifiers = [{ plugin: simPlugin, trustAnchors: [root.certificate] }];
  const attestation = new AttestationService({ cp, tenant: BENCH_TENANT, sessionKey: newSessionKey(), tokenKey, verifiers, build: 'bench', ...options });
  return { root, platform, tokenKey, verifiers, attestation };
}
