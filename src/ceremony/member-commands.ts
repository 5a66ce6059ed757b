import { z } from 'zod';
import { unreachableClasses, type ApprovalRule } from '../core/constitution.js';
import { CovenantError } from '../core/errors.js';
import type { Member } from '../core/model.js';
import { validateMemberName, validateRoleName } from '../core/names.js';
import type { Unit } from '../ledger/committer.js';
import type { Tx } from '../store/store.js';
import { defineCommand, governed } from './command.js';
import { MEMBER_ADDED, MEMBER_REMOVED, type MemberAdded, type MemberRemoved } from './events.js';
import { ACTION_CLASSES } from './gate.js';
import { parseMemberPublicKey } from './member-key.js';
import { findMember, listMembers } from './members.js';
import { constitutionRules } from './queries.js';
import { parseArgs } from './parse-args.js';

const AddArgs = z.strictObject({ name: z.string().min(1).max(64), publicKey: z.string().min(1).max(4096), roles: z.array(z.string().min(1).max(64)).max(16) });
export type AddMemberArgs = z.infer<typeof AddArgs>;

/**
 * Refuses a trust base in which some class of change could never be approved again:
 * the members as they would be, under the rules in force with `changed` applied.
 */
export async function refuseLockout(tx: Tx, tenant: string, members: readonly Member[], what: string, changed: ReadonlyMap<string, ApprovalRule> = new Map()): Promise<void> {
  const active = members.filter((m) => m.status === 'active').map((m) => ({ name: m.name, roles: m.roles }));
  const rules = new Map([...(await constitutionRules(tx, tenant))].map(([action, { rule }]) => [action, rule]));
  for (const [action, rule] of changed) rules.set(action, rule);
  const unreachable = unreachableClasses(rules, ACTION_CLASSES, active);
  if (unreachable.length > 0) {
    throw new CovenantError('conflict', `${what} would lock the tenant out: no longer enough members to approve ${unreachable.join(', ')} changes`);
  }
}

export const MEMBER_ADD = defineCommand({
  name: 'member.add',
  action: 'member',
  changesTrustBase: true,
  parse: (args) => parseArgs(AddArgs, args),
  target: (args) => `member/${args.name}`,
  async run(tx, ctx, actor, args) {
    const name = validateMemberName(args.name);
    const roles = [...new Set(args.roles.map((role) => validateRoleName(role)))].sort();
    if (roles.length === 0) throw new CovenantError('validation-failed', 'a member needs at least one role', { issues: [{ field: 'roles', message: 'at least one role is required' }] });
    const key = parseMemberPublicKey(args.publicKey);
    const existing = await findMember(tx, ctx.tenant, name);
    if (existing?.status === 'active') throw new CovenantError('conflict', `member ${name} already exists`);
    const payload: MemberAdded = { name, publicKey: key.spki, alg: key.alg, roles };
    const member: Member = { tenant: ctx.tenant, name, publicKey: key.spki, alg: key.alg, roles, status: 'active', createdAt: ctx.now.toISOString() };
    return { entries: [{ type: MEMBER_ADDED, actor, payload }], result: member };
  },
});

export const MEMBER_REMOVE = defineCommand({
  name: 'member.remove',
  action: 'member',
  changesTrustBase: true,
  parse: (args) => parseArgs(z.strictObject({ name: z.string().min(1).max(64) }), args),
  target: (args) => `member/${args.name}`,
  async run(tx, ctx, actor, args) {
    const member = await findMember(tx, ctx.tenant, args.name);
    if (member?.status !== 'active') throw new CovenantError('not-found', `no active member named ${args.name}`);
    const remaining = (await listMembers(tx, ctx.tenant)).filter((m) => m.name !== member.name);
    await refuseLockout(tx, ctx.tenant, remaining, `removing ${member.name}${member.roles.includes('admin') && !remaining.some((m) => m.status === 'active' && m.roles.includes('admin')) ? ', the last active admin,' : ''}`);
    const payload: MemberRemoved = { name: member.name };
    return { entries: [{ type: MEMBER_REMOVED, actor, payload }], result: { name: member.name } };
  },
});

export const addMember = (signer: string, args: AddMemberArgs): Unit<Member> => governed(signer, MEMBER_ADD, args);
export const removeMember = (signer: string, name: string): Unit<{ name: string }> => governed(signer, MEMBER_REMOVE, { name });
