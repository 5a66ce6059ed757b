import { readFileSync } from 'node:fs';
import { ProposalPending } from '../../src/ceremony/command.js';
import { setRule } from '../../src/ceremony/constitution.js';
import { signDecision } from '../../src/ceremony/decision-signature.js';
import { addMember, removeMember } from '../../src/ceremony/member-commands.js';
import { voteOnProposal } from '../../src/ceremony/proposals.js';
import { findProposal } from '../../src/ceremony/queries.js';
import { addTrustAnchor, removeTrustAnchor } from '../../src/anchors/commands.js';
import { importCollateral } from '../../src/collateral/commands.js';
import { decisionMessage } from '../../src/core/proposal.js';
import type { Unit } from '../../src/ledger/committer.js';
import { breakGlass, ratifyBreakGlass } from '../../src/policy/break-glass.js';
import { createWorkload, registerRelease, updatePolicy } from '../../src/policy/commands.js';
import { advanceRollout, completeRollout, revokeRelease, rollbackRollout, signalHealth, startRollout } from '../../src/rollout/commands.js';
import { newMember, type TestMember, type TestPlane } from './control-plane.js';

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

/**
 * Rollouts and ceremonies on top of `buildHistory`: a rollout rolled back and one
 * completed, a health signal, a revocation, a break-glass and its ratification, a
 * stricter constitution, a proposal approved by a second admin's signature, one vetoed
 * and one invalidated by a change of members, imported collateral, and trust anchors
 * added (one of them removed again).
 */
export async function buildGovernanceHistory(plane: TestPlane): Promise<void> {
  const { cp, tenant, admin } = plane;
  const run = <T>(unit: Unit<T>): Promise<T> => cp.execute(tenant, unit);
  const name = 'team0/service';
  await run(registerRelease(admin.name, name, { version: '1.2.0', class: 'sgx', signer: 'ab'.repeat(32), product: '7', minSvn: 3, config: { roots: digest(100) } }));
  await run(startRollout(admin.name, name, { to: '1.2.0', waves: [50, 100], gate: { minAffirming: 1, maxContraindicatedPercent: 5 }, reason: 'upgrade' }));
  await run(signalHealth(admin.name, name, { source: 'prometheus', healthy: false, detail: 'errors' }));
  await run(advanceRollout(admin.name, name, { reason: 'by hand' }));
  await run(rollbackRollout(admin.name, name, 'unhealthy'));
  await run(startRollout(admin.name, name, { to: '1.2.0', reason: 'again' }));
  await run(completeRollout(admin.name, name, 'done'));
  await run(revokeRelease(admin.name, 'team1/service', { version: '1.1.0', reason: 'CVE', deadline: new Date(Date.now() + 86_400_000).toISOString() }));
  await run(breakGlass(admin.name, name, { accept: ['1.1.0'], reason: 'incident', duration: '2h' }));
  await run(ratifyBreakGlass(admin.name, name, { versions: ['1.1.0'], reason: 'reviewed' }));
  const intelRoot = readFileSync(new URL('../fixtures/sgx/intel_sgx_root_ca.der', import.meta.url)).toString('base64');
  await run(importCollateral(admin.name, { collateral: intelRoot }));
  await run(addTrustAnchor(admin.name, { class: 'sgx', certificate: intelRoot }));
  const removed = await run(addTrustAnchor(admin.name, { class: 'tdx', certificate: intelRoot }));
  await run(removeTrustAnchor(admin.name, { class: 'tdx', digest: removed.digest }));

  const carol = newMember('carol');
  await run(addMember(admin.name, { name: carol.name, publicKey: carol.publicKey, roles: ['admin'] }));
  await run(setRule(admin.name, { action: 'workload', threshold: 2, role: 'admin', proposerCounts: true, vetoRoles: ['admin'] }));
  const pending = async (unit: Unit<unknown>): Promise<string> => {
    const error = await run(unit).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!(error instanceof ProposalPending)) throw new Error(`expected a proposal, got ${String(error)}`);
    return error.proposal.id;
  };
  const vote = async (id: string, member: TestMember, decision: 'approve' | 'reject'): Promise<void> => {
    const proposal = (await findProposal(cp.store.db, tenant, id))!;
    const signature = signDecision({ alg: member.alg, key: member.privateKey }, decisionMessage(proposal, decision));
    await run(voteOnProposal(cp.commands, { id, member: member.name, decision, signature: Buffer.from(signature).toString('base64') }));
  };
  await vote(await pending(createWorkload(admin.name, 'approved/one')), carol, 'approve');
  await vote(await pending(createWorkload(admin.name, 'vetoed/one')), carol, 'reject');
  await pending(createWorkload(admin.name, 'stale/one'));
  const dave = newMember('dave');
  await run(addMember(admin.name, { name: dave.name, publicKey: dave.publicKey, roles: ['auditor'] }));
}
