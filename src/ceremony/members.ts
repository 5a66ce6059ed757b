import type { Kysely } from 'kysely';
import { CovenantError } from '../core/errors.js';
import { LruCache } from '../core/lru.js';
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

/**
 * Active members found vouched for by the ledger, per store handle (the server's
 * `store.db` lives as long as the process; a transaction's handle as long as it):
 * the seq of the `member.added` entry that vouched, by member, key and roles.
 */
const vouched = new WeakMap<object, LruCache<string, number>>();

const memberEntries = (db: Db, tenant: string, types: readonly string[]) =>
  db.selectFrom('ledger_entries').select(['seq', 'type', 'body']).where('tenant', '=', tenant).where('type', 'in', [...types]).orderBy('seq').execute();

const payloadOf = (body: Uint8Array): { name: string } & Partial<MemberAdded> => (JSON.parse(Buffer.from(body).toString('utf8')) as { payload: { name: string } & Partial<MemberAdded> }).payload;

/**
 * Whether the ledger says what an active member row says: its latest membership entry
 * is a `member.added` with the same key, algorithm and roles. The search (the tenant's
 * membership entries, found by the type index) runs once per member and key; later
 * reads only look for a removal after the entry that vouched, so a removed member's
 * row set back to active is not obeyed either.
 */
async function ledgerVouches(db: Db, member: Member): Promise<boolean> {
  if (member.status !== 'active') return true;
  const key = [member.tenant, member.name, member.alg, member.publicKey, JSON.stringify(member.roles)].join('\n');
  let memo = vouched.get(db);
  if (memo === undefined) vouched.set(db, (memo = new LruCache(1024)));
  const seq = memo.get(key);
  if (seq !== undefined) {
    const removals = await memberEntries(db, member.tenant, [MEMBER_REMOVED]);
    return !removals.some((row) => row.seq > seq && payloadOf(row.body).name === member.name);
  }
  const entries = await memberEntries(db, member.tenant, [MEMBER_ADDED, MEMBER_REMOVED]);
  const last = entries.filter((row) => payloadOf(row.body).name === member.name).at(-1);
  if (last?.type !== MEMBER_ADDED) return false;
  const added = payloadOf(last.body);
  if (added.publicKey !== member.publicKey || added.alg !== member.alg || JSON.stringify(added.roles) !== JSON.stringify(member.roles)) return false;
  memo.set(key, last.seq);
  return true;
}

/**
 * The member of that name, as the ledger made it. An active row no `member.added` entry
 * vouches for (inserted or edited in the store directly) is no member: it authenticates
 * nothing. Server start and `audit verify` report such rows (src/app/state-check.ts).
 */
export async function findMember(db: Db, tenant: string, name: string): Promise<Member | undefined> {
  const row = await db.selectFrom('members').selectAll().where('tenant', '=', tenant).where('name', '=', name).executeTakeFirst();
  if (row === undefined) return undefined;
  const member = memberFromRow(row);
  return (await ledgerVouches(db, member)) ? member : undefined;
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
