/**
 * The effective rule of a change two rules govern (`strongerOf`): met by exactly the
 * approvals that meet both, shown as one rule where the roles agree.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { approvalsNeeded, buildRule, DEFAULT_RULE, strongerOf, tally, type ApprovalRule, type Approver } from '../../src/core/constitution.js';

const ROLES = ['admin', 'ops'] as const;

const ruleArb: fc.Arbitrary<ApprovalRule> = fc
  .record({
    threshold: fc.integer({ min: 1, max: 4 }),
    role: fc.constantFrom(...ROLES),
    proposerCounts: fc.boolean(),
    expiry: fc.integer({ min: 60, max: 7200 }),
    vetoRoles: fc.subarray(['security', 'audit']),
  })
  .map(buildRule);

const approversArb: fc.Arbitrary<Approver[]> = fc
  .array(fc.subarray([...ROLES]), { maxLength: 7 })
  .map((roles) => roles.map((r, i) => ({ name: `m${i}`, roles: r })));

describe('strongerOf', () => {
  it('is met by exactly the approvals that meet both rules, whoever proposed', () => {
    fc.assert(
      fc.property(ruleArb, ruleArb, approversArb, fc.nat(8), (own, policy, approvers, p) => {
        const proposer = `m${p}`;
        const both = strongerOf(own, policy, 'policy');
        expect(tally(both, proposer, approvers).satisfied).toBe(tally(own, proposer, approvers).satisfied && tally(policy, proposer, approvers).satisfied);
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps the shorter expiry and every veto role; the same role reads as one rule, another role as a further quorum', () => {
    fc.assert(
      fc.property(ruleArb, ruleArb, (own, policy) => {
        const both = strongerOf(own, policy, 'policy');
        expect(both.expirySeconds).toBe(Math.min(own.expirySeconds, policy.expirySeconds));
        expect(both.vetoRoles).toEqual([...new Set([...own.vetoRoles, ...policy.vetoRoles])].sort());
        expect(both.role).toBe(own.role);
        expect(both.also).toEqual(own.role === policy.role ? undefined : [{ threshold: policy.threshold, role: policy.role, proposerCounts: policy.proposerCounts, from: 'policy' }]);
      }),
    );
  });

  it('of a rule and itself is the rule: under the default constitution nothing changes', () => {
    expect(strongerOf(DEFAULT_RULE, DEFAULT_RULE, 'policy')).toEqual(DEFAULT_RULE);
    const fourEyes = buildRule({ threshold: 1, role: 'admin' });
    expect(strongerOf(fourEyes, fourEyes, 'policy')).toEqual(fourEyes);
  });

  it('examples: 1 of admin counting the proposer under 2 of admin not counting them needs two others', () => {
    const both = strongerOf(buildRule({ threshold: 1, role: 'admin', proposerCounts: true }), buildRule({ threshold: 2, role: 'admin' }), 'policy');
    expect(both).toMatchObject({ threshold: 2, role: 'admin', proposerCounts: false });
    expect(approvalsNeeded(both)).toBe(2);
    const other = strongerOf(buildRule({ threshold: 1, role: 'oncall', proposerCounts: true }), buildRule({ threshold: 2, role: 'admin', proposerCounts: true }), 'policy');
    expect(approvalsNeeded(other)).toBe(3);
  });
});
