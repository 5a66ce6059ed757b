import { addMember, removeMember } from '../../src/ceremony/members.js';
import { createWorkload, registerRelease, updatePolicy } from '../../src/policy/commands.js';
import { newMember, type TestPlane } from './control-plane.js';

const digest = (seed: number): string => `sha384:${seed.toString(16).padStart(2, '0').repeat(48)}`;

/**
 * Drives a realistic governance history through the spine: workloads, releases in
 * both reference-value forms, policy versions, members joining and leaving, a refused
 * request, with checkpoints in between. Returns how many checkpoints were stored.
 */
export async function buildHistory(plane: TestPlane, workloads = 3): Promise<{ checkpoints: number }> {
  const { cp, tenant, admin } = plane;
  let checkpoints = 1;
  await cp.checkpointer.checkpoint(tenant);
  const operator = newMember('operator');
  await cp.execute(tenant, addMember(admin.name, { name: operator.name, publicKey: operator.publicKey, roles: ['operator'] }));
  // The operator lacks the admin role: refused, and the refusal is ledgered.
  await cp.execute(tenant, createWorkload(operator.name, 'refused/one')).catch(() => undefined);
  for (let w = 0; w < workloads; w++) {
    const name = `team${w}/service`;
    await cp.execute(tenant, createWorkload(admin.name, name));
    await cp.execute(tenant, registerRelease(admin.name, name, { version: '1.0.0', class: 'sev-snp', measurements: [digest(w)], securityVersion: 1 }));
    await cp.execute(
      tenant,
      registerRelease(admin.name, name, { version: '1.1.0', class: 'sgx', signer: 'ab'.repeat(32), product: '7', minSvn: 2, config: { roots: digest(w + 100) } }),
    );
    await cp.execute(tenant, updatePolicy(admin.name, name, { accept: ['1.0.0'], reason: 'first release' }));
    await cp.execute(tenant, updatePolicy(admin.name, name, { accept: ['1.1.0'], floor: 1, rules: { tcb: "tcb_status == 'UpToDate'" }, reason: 'phase in 1.1.0' }));
    await cp.execute(tenant, updatePolicy(admin.name, name, { remove: ['1.0.0'], floor: 2, reason: 'complete 1.1.0' }));
    await cp.checkpointer.checkpoint(tenant);
    checkpoints++;
  }
  await cp.execute(tenant, removeMember(admin.name, operator.name));
  return { checkpoints };
}
