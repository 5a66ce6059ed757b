/**
 * Issue 13, as properties of the decision the gate and the vote route make: for every
 * command that can change what a workload accepts, under random rules for `policy` and
 * for the command's class and random members, the approvals that make the change take
 * effect — on the proposer's signature alone, or at the vote that executes the proposal —
 * satisfy the policy rule and the class's own rule; and approvals that satisfy both
 * always do make it take effect.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ruleOfChange, type ActionClass } from '../../src/ceremony/gate.js';
import { buildRule, tally, type ApprovalRule, type Approver } from '../../src/core/constitution.js';
import { CovenantError } from '../../src/core/errors.js';
import type { Member } from '../../src/core/model.js';
import { decideVote, type Proposal, type Vote } from '../../src/core/proposal.js';
import { BREAK_GLASS, RATIFY_BREAK_GLASS } from '../../src/policy/break-glass.js';
import { POLICY_UPDATE } from '../../src/policy/commands.js';
import { RELEASE_REVOKE, ROLLOUT_ADVANCE, ROLLOUT_COMPLETE, ROLLOUT_ROLLBACK, ROLLOUT_START } from '../../src/rollout/commands.js';

/** Every command whose run may write a policy version or revoke a release for good, except the rollback (below). */
const CHANGES_OF_ACCEPTANCE = [POLICY_UPDATE, RATIFY_BREAK_GLASS, BREAK_GLASS, ROLLOUT_START, ROLLOUT_ADVANCE, ROLLOUT_COMPLETE, RELEASE_REVOKE];

const ROLES = ['admin', 'ops', 'oncall'] as const;
const NOW = new Date('2026-12-01T00:00:00Z');

const ruleArb: fc.Arbitrary<ApprovalRule> = fc
  .record({ threshold: fc.integer({ min: 1, max: 3 }), role: fc.constantFrom(...ROLES), proposerCounts: fc.boolean(), expiry: fc.integer({ min: 60, max: 7200 }) })
  .map(buildRule);

const membersArb: fc.Arbitrary<Approver[]> = fc
  .array(fc.subarray([...ROLES], { minLength: 1 }), { minLength: 1, maxLength: 6 })
  .map((roles) => roles.map((r, i) => ({ name: `m${i}`, roles: r })));

const asMember = (a: Approver): Member => ({ name: a.name, roles: a.roles, status: 'active' }) as unknown as Member;

interface Outcome {
  /** Who approved it when it took effect; undefined when it never did. */
  readonly approvers?: readonly Approver[];
}

/** The gate on the proposer's request, then each other member's approval in turn, as decideVote decides them. */
function run(action: ActionClass, rules: ReadonlyMap<string, ApprovalRule>, proposer: Approver, voters: readonly Approver[]): Outcome {
  const { effective } = ruleOfChange(action, rules);
  const own = tally(effective, proposer.name, [proposer]);
  if (own.satisfied) return { approvers: [proposer] };
  const proposal: Proposal = {
    id: 'p'.repeat(64),
    status: 'open',
    document: { tenant: 't', action, command: 'c', args: null, target: 'x', proposer: proposer.name, rule: effective, createdAt: NOW.toISOString(), expiresAt: '2100-01-01T00:00:00Z', nonce: 'n' },
  };
  const approvers: Approver[] = own.counted.length > 0 ? [proposer] : [];
  const votes: Vote[] = approvers.map((a) => ({ member: a.name, decision: 'approve' }));
  for (const voter of voters) {
    let outcome;
    try {
      outcome = decideVote({ proposal, votes, member: asMember(voter), decision: 'approve', now: NOW, approvers, rejecters: [] });
    } catch (error) {
      if (error instanceof CovenantError && error.type === 'forbidden') continue;
      throw error;
    }
    approvers.push(voter);
    votes.push({ member: voter.name, decision: 'approve' });
    if (outcome.kind === 'execute') return { approvers };
  }
  return {};
}

describe('a change of acceptance is never authorised by a weaker rule than the policy rule', () => {
  it.each(CHANGES_OF_ACCEPTANCE.map((command) => [command.name, command.action] as const))('%s (%s)', (_name, action) => {
    fc.assert(
      fc.property(ruleArb, ruleArb, membersArb, fc.nat(), fc.nat(), (policyRule, classRule, members, pick, seed) => {
        const rules = new Map<string, ApprovalRule>([[action, classRule]]);
        if (action !== 'policy') rules.set('policy', policyRule);
        const own = rules.get(action)!;
        const proposers = members.filter((m) => m.roles.includes(own.role));
        fc.pre(proposers.length > 0);
        const proposer = proposers[pick % proposers.length]!;
        const others = members.filter((m) => m !== proposer);
        // Every order of the other members' approvals: rotate by the seed.
        const order = others.map((_, i) => others[(i + seed) % others.length]!);
        const { approvers } = run(action, rules, proposer, order);

        const policy = rules.get('policy')!;
        if (approvers !== undefined) {
          expect(tally(policy, proposer.name, approvers).satisfied).toBe(true);
          expect(tally(own, proposer.name, approvers).satisfied).toBe(true);
        } else {
          // Never stricter than both: when everyone's approvals satisfy both rules, the change runs.
          expect(tally(policy, proposer.name, members).satisfied && tally(own, proposer.name, members).satisfied).toBe(false);
        }
      }),
      { numRuns: 400 },
    );
  });

  it('a rollback keeps its own rule: it only returns to what was accepted before, and must never wait on the policy quorum', () => {
    const policy = buildRule({ threshold: 3, role: 'admin' });
    const rollback = buildRule({ threshold: 1, role: 'oncall', proposerCounts: true });
    const rules = new Map([
      ['policy', policy],
      [ROLLOUT_ROLLBACK.action, rollback],
    ]);
    expect(ruleOfChange(ROLLOUT_ROLLBACK.action, rules).effective).toEqual(rollback);
  });
});
