import type { Kysely } from 'kysely';
import { CovenantError } from '../core/errors.js';
import type { Unit } from '../ledger/committer.js';
import type { NewEntry } from '../ledger/entry.js';
import type { Database } from '../store/schema.js';
import type { Tx } from '../store/store.js';
import { copyKeysHint, KEY_BROKER_FILES, type KeyBrokerKeyIds } from './tenant-keys.js';

/**
 * The ids of the key broker's keys, recorded in the tenant's ledger the way the tenant
 * row records the log key: with the tenant's creation, or — for a tenant created before
 * this record existed — at the first start after the upgrade. Every later start compares
 * its own files with the newest record and refuses to serve on a mismatch, because a
 * replica with another `kek.key` cannot read any stored value and one with another
 * `sealing.key` hands instances other sealing keys, silently.
 */
export const TENANT_KEYS_RECORDED = 'tenant.keys-recorded';

export type TenantKeysRecorded = KeyBrokerKeyIds;

type Db = Kysely<Database> | Tx;

export const keysRecordedEntry = (ids: KeyBrokerKeyIds): NewEntry => ({ type: TENANT_KEYS_RECORDED, actor: 'system:bootstrap', payload: { kek: ids.kek, sealing: ids.sealing } satisfies TenantKeysRecorded });

/** The newest recorded ids, or undefined for a tenant (or store) that has none yet. */
export async function recordedKeyIds(db: Db, tenant: string): Promise<KeyBrokerKeyIds | undefined> {
  const row = await db
    .selectFrom('ledger_entries')
    .select('body')
    .where('tenant', '=', tenant)
    .where('type', '=', TENANT_KEYS_RECORDED)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  if (row === undefined) return undefined;
  const { payload } = JSON.parse(Buffer.from(row.body).toString('utf8')) as { payload: TenantKeysRecorded };
  return { kek: payload.kek, sealing: payload.sealing };
}

/** Why a server holding `held` must not serve a tenant whose ledger records `recorded` (one line), or undefined. */
export function keyIdsProblem(recorded: KeyBrokerKeyIds, held: KeyBrokerKeyIds, dataDir: string, tenant: string): string | undefined {
  for (const which of ['kek', 'sealing'] as const) {
    if (recorded[which] !== held[which]) {
      return `this server's ${KEY_BROKER_FILES[which]} is ${held[which]}, tenant ${tenant}'s is ${recorded[which]}; ${copyKeysHint(dataDir, tenant)}`;
    }
  }
  return undefined;
}

/**
 * Records `held` if the tenant has no record yet, and refuses (`conflict`) if its record
 * differs. Decided inside the write transaction, so of two replicas upgraded at once
 * with different files, one records and the other refuses.
 */
export function recordKeyIds(held: KeyBrokerKeyIds, dataDir: string): Unit<void> {
  return async (tx, ctx) => {
    const recorded = await recordedKeyIds(tx, ctx.tenant);
    if (recorded === undefined) return { entries: [keysRecordedEntry(held)], result: undefined };
    const problem = keyIdsProblem(recorded, held, dataDir, ctx.tenant);
    if (problem !== undefined) throw new CovenantError('conflict', problem);
    return { entries: [], result: undefined };
  };
}
