import type { Kysely } from 'kysely';
import { CovenantError } from '../core/errors.js';
import type { Actor, Member, MemberAlgorithm, MemberStatus } from '../core/model.js';
import type { Projector, Unit } from '../ledger/committer.js';
import type { Database, MembersTable } from '../store/schema.js';
import type { Tx } from '../store/store.js';
import { MEMBER_ADDED, MEMBER_REMOVED, TENANT_CREATED, type MemberAdded, type MemberRemoved, type TenantCreated } from './events.js';

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
