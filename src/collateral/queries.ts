import type { Kysely } from 'kysely';
import type { TeeClass } from '../core/model.js';
import type { CollateralKind } from '../evidence/collateral.js';
import type { CollateralTable, Database } from '../store/schema.js';
import type { CollateralImported } from './events.js';
import type { Tx } from '../store/store.js';

type Db = Kysely<Database> | Tx;

export interface StoredCollateral extends CollateralImported {
  readonly importedAt: string;
  readonly importedBy: string;
}

const fromRow = (row: CollateralTable): StoredCollateral => ({
  digest: row.digest,
  size: row.size,
  kind: row.kind as CollateralKind,
  classes: JSON.parse(row.classes) as TeeClass[],
  subject: row.subject,
  notBefore: row.not_before,
  notAfter: row.not_after,
  importedAt: row.imported_at,
  importedBy: row.imported_by,
});

export async function findCollateral(db: Db, tenant: string, digest: string): Promise<StoredCollateral | undefined> {
  const row = await db.selectFrom('collateral').selectAll().where('tenant', '=', tenant).where('digest', '=', digest).executeTakeFirst();
  return row === undefined ? undefined : fromRow(row);
}

/** Newest import first; expired items too (their bytes are gone), for the record. */
export async function listCollateral(db: Db, tenant: string): Promise<StoredCollateral[]> {
  const rows = await db.selectFrom('collateral').selectAll().where('tenant', '=', tenant).orderBy('imported_at', 'desc').orderBy('digest').execute();
  return rows.map(fromRow);
}

/** The bytes of every item valid at `now`, newest import first, with the classes that read it. */
export async function validCollateral(db: Db, tenant: string, now: Date): Promise<{ classes: readonly TeeClass[]; body: Uint8Array }[]> {
  const at = now.toISOString();
  const rows = await db
    .selectFrom('collateral')
    .innerJoin('attachments', (join) => join.onRef('attachments.tenant', '=', 'collateral.tenant').onRef('attachments.digest', '=', 'collateral.digest'))
    .select(['collateral.classes', 'attachments.body'])
    .where('collateral.tenant', '=', tenant)
    .where('collateral.not_before', '<=', at)
    .where('collateral.not_after', '>', at)
    .orderBy('collateral.imported_at', 'desc')
    .orderBy('collateral.digest')
    .execute();
  return rows.map((row) => ({ classes: JSON.parse(row.classes) as TeeClass[], body: new Uint8Array(row.body) }));
}
