import { z } from 'zod';
import { buildRule, type ApprovalRule } from '../core/constitution.js';
import { canonicalJson } from '../core/canonical.js';
import type { Projector, Unit } from '../ledger/committer.js';
import { defineCommand, governed } from './command.js';
import { CONSTITUTION_RULE_SET, type ConstitutionRuleSet } from './events.js';
import { ACTION_CLASSES, type ActionClass } from './gate.js';
import { refuseLockout } from './member-commands.js';
import { listMembers } from './members.js';
import { parseArgs } from './parse-args.js';

const SetArgs = z.strictObject({
  action: z.enum(ACTION_CLASSES),
  threshold: z.number().int(),
  role: z.string().min(1).max(32),
  proposerCounts: z.boolean().optional(),
  expiry: z.union([z.string().max(16), z.number().int()]).optional(),
  vetoRoles: z.array(z.string().min(1).max(32)).max(16).optional(),
});
export type SetRuleArgs = z.infer<typeof SetArgs>;

/**
 * Sets the approval rule of one class. The constitution governs itself: this command's
 * own class, `constitution`, has a rule too. A rule that nobody could satisfy with the
 * members there are is refused, so the tenant can never lock itself out.
 */
export const CONSTITUTION_SET = defineCommand({
  name: 'constitution.set',
  action: 'constitution',
  changesTrustBase: true,
  parse: (args) => parseArgs(SetArgs, args),
  target: (args) => `constitution/${args.action}`,
  async run(tx, ctx, actor, args) {
    const { action, ...ruleArgs } = args;
    const rule = buildRule(ruleArgs);
    await refuseLockout(tx, ctx.tenant, await listMembers(tx, ctx.tenant), `a ${rule.threshold}-of-${rule.role} rule for ${action}`, new Map([[action, rule]]));
    const payload: ConstitutionRuleSet = { action, rule };
    return { entries: [{ type: CONSTITUTION_RULE_SET, actor, payload }], result: { action: action as ActionClass, rule } };
  },
});

export const setRule = (signer: string, args: SetRuleArgs): Unit<{ action: ActionClass; rule: ApprovalRule }> => governed(signer, CONSTITUTION_SET, args);

export const constitutionProjection: Record<string, Projector> = {
  [CONSTITUTION_RULE_SET]: async (tx, entry) => {
    const { action, rule } = entry.payload as ConstitutionRuleSet;
    const row = { rule: canonicalJson(rule), set_at: entry.time, set_by: entry.actor };
    await tx
      .insertInto('constitution')
      .values({ tenant: entry.tenant, action, ...row })
      .onConflict((oc) => oc.columns(['tenant', 'action']).doUpdateSet(row))
      .execute();
  },
};
