import type { Kysely } from 'kysely';
import { CovenantError } from '../core/errors.js';
import type { Actor, Member, MemberAlgorithm, MemberStatus } from '../core/model.js';
import type { Decision, Projector, Unit } from '../ledger/committer.js';
import type { Database, MembersTable } from '../store/schema.js';
import type { Tx } from '../store/store.js';
import {
  AUTHORIZATION_DENIED,
  MEMBER_ADDED,
  MEMBER_REMOVED,
  TENANT_CREATED,
  type AuthorizationDenied,
  type MemberAdded,
  type MemberRemoved,
  type TenantCreated,
} from './events.js';
import { authorize, type ActionClass } from './gate.js';
import { parseMemberPublicKey } from './member-key.js';
import { validateMemberName, validateRoleName } from '../core/names.js';

type Db = Kysely<Database> | Tx;

const memberFromRow = (row: MembersTable): Member => ({
  tenant: row.tenant,
  name: row.name,
  publicKey: row.public_key,
  alg: row.alg as MemberAlgorithm,
  roles: JSON.parse(row.roles) as string[],
  status: row.status as MemberStatus,
  createdAt: row.created_at,
});

export async function findMember(db: Db, tenant: string, name: string): Promise<Member | undefined> {
  const row = await db.selectFrom('members').selectAll().where('tenant', '=', tenant).where('name', '=', name).executeTakeFirst();
  return row ? memberFromRow(row) : undefined;
}

export async function listMembers(db: Db, tenant: string): Promise<Member[]> {
  const rows = await db.selectFrom('members').selectAll().where('tenant', '=', tenant).orderBy('name').execute();
  return rows.map(memberFromRow);
}

export const memberActor = (name: string): Actor => `member:${name}`;

/**
 * Wraps a command so the gate runs first, inside the write transaction: a refusal of
 * a known member's signed request is ledgered and then returned as 403.
 */
export function authorized<T>(
  signer: string,
  action: ActionClass,
  command: string,
  body: (tx: Tx, ctx: { tenant: string; now: Date }, actor: Actor) => Promise<Decision<T>>,
): Unit<T> {
  return async (tx, ctx) => {
    const actor = memberActor(signer);
    const verdict = authorize(await findMember(tx, ctx.tenant, signer), action);
    if (!verdict.allowed) {
      const payload: AuthorizationDenied = { action, command, reason: verdict.reason };
      return { entries: [{ type: AUTHORIZATION_DENIED, actor, payload }], rejection: new CovenantError('forbidden', verdict.reason) };
    }
    return body(tx, ctx, actor);
  };
}

export interface AddMemberArgs {
  readonly name: string;
  readonly publicKey: string;
  readonly roles: readonly string[];
}

export function addMember(signer: string, args: AddMemberArgs): Unit<Member> {
  return authorized(signer, 'member', 'member.add', async (tx, ctx, actor) => {
    const name = validateMemberName(args.name);
    const roles = [...new Set(args.roles.map((role) => validateRoleName(role)))].sort();
    if (roles.length === 0) throw new CovenantError('validation-failed', 'a member needs at least one role', { issues: [{ field: 'roles', message: 'at least one role is required' }] });
    const key = parseMemberPublicKey(args.publicKey);
    const existing = await findMember(tx, ctx.tenant, name);
    if (existing?.status === 'active') throw new CovenantError('conflict', `member ${name} already exists`);
    const payload: MemberAdded = { name, publicKey: key.spki, alg: key.alg, roles };
    const member: Member = { tenant: ctx.tenant, name, publicKey: key.spki, alg: key.alg, roles, status: 'active', createdAt: ctx.now.toISOString() };
    return { entries: [{ type: MEMBER_ADDED, actor, payload }], result: member };
  });
}

export function removeMember(signer: string, name: string): Unit<{ name: string }> {
  return authorized(signer, 'member', 'member.remove', async (tx, ctx, actor) => {
    const member = await findMember(tx, ctx.tenant, name);
    if (member?.status !== 'active') throw new CovenantError('not-found', `no active member named ${name}`);
    const admins = (await listMembers(tx, ctx.tenant)).filter((m) => m.status === 'active' && m.roles.includes('admin'));
    if (member.roles.includes('admin') && admins.length === 1) {
      throw new CovenantError('conflict', `${name} is the last active admin; removing it would lock the tenant out`);
    }
    const payload: MemberRemoved = { name };
    return { entries: [{ type: MEMBER_REMOVED, actor, payload }], result: { name } };
  });
}

/** Bootstrap: the tenant and its first admins, committed by the system on first start. */
export function createTenant(created: TenantCreated, admins: readonly MemberAdded[]): Unit<void> {
  return async (tx, ctx) => {
    const exists = await tx.selectFrom('tenants').select('id').where('id', '=', ctx.tenant).executeTakeFirst();
    if (exists) throw new CovenantError('conflict', `tenant ${ctx.tenant} already exists`);
    return {
      entries: [
        { type: TENANT_CREATED, actor: 'system:bootstrap', payload: created },
        ...admins.map((admin) => ({ type: MEMBER_ADDED, actor: 'system:bootstrap' as const, payload: admin })),
      ],
      result: undefined,
    };
  };
}

export const trustBaseProjection: Record<string, Projector> = {
  [TENANT_CREATED]: async (tx, entry) => {
    const payload = entry.payload as TenantCreated;
    await tx.insertInto('tenants').values({ id: entry.tenant, origin: payload.origin, log_vkey: payload.logVkey, created_at: entry.time }).execute();
  },
  [MEMBER_ADDED]: async (tx, entry) => {
    const payload = entry.payload as MemberAdded;
    const row = { public_key: payload.publicKey, alg: payload.alg, roles: JSON.stringify(payload.roles), status: 'active', created_at: entry.time };
    // A removed member's name may be reused by a new key.
    await tx
      .insertInto('members')
      .values({ tenant: entry.tenant, name: payload.name, ...row })
      .onConflict((oc) => oc.columns(['tenant', 'name']).doUpdateSet(row))
      .execute();
  },
  [MEMBER_REMOVED]: async (tx, entry) => {
    const payload = entry.payload as MemberRemoved;
    await tx.updateTable('members').set({ status: 'removed' }).where('tenant', '=', entry.tenant).where('name', '=', payload.name).execute();
  },
};
