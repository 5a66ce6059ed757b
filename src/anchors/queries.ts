import type { Kysely } from 'kysely';
import type { Database, TrustAnchorsTable } from '../store/schema.js';
import type { Tx } from '../store/store.js';
import type { AnchorClass } from './classes.js';
import type { TrustAnchorAdded } from './events.js';

type Db = Kysely<Database> | Tx;

export interface StoredTrustAnchor extends Omit<TrustAnchorAdded, 'certificate'> {
  readonly addedAt: string;
  readonly addedBy: string;
}

const fromRow = (row: TrustAnchorsTable): StoredTrustAnchor => ({
  tee: row.tee as AnchorClass,
  digest: row.digest,
  subject: row.subject,
  notBefore: row.not_before,
  notAfter: row.not_after,
  addedAt: row.added_at,
  addedBy: row.added_by,
});

export async function findTrustAnchor(db: Db, tenant: string, tee: AnchorClass, digest: string): Promise<StoredTrustAnchor | undefined> {
  const row = await db.selectFrom('trust_anchors').selectAll().where('tenant', '=', tenant).where('tee', '=', tee).where('digest', '=', digest).executeTakeFirst();
  return row === undefined ? undefined : fromRow(row);
}

/** By class, then oldest first. */
export async function listTrustAnchors(db: Db, tenant: string): Promise<StoredTrustAnchor[]> {
  const rows = await db.selectFrom('trust_anchors').selectAll().where('tenant', '=', tenant).orderBy('tee').orderBy('added_at').orderBy('digest').execute();
  return rows.map(fromRow);
}

/** The certificate files of every anchor valid at `now`, with their class. */
export async function validTrustAnchors(db: Db, tenant: string, now: Date): Promise<{ tee: AnchorClass; certificate: Uint8Array }[]> {
  const at = now.toISOString();
  const rows = await db
    .selectFrom('trust_anchors')
    .select(['tee', 'certificate'])
    .where('tenant', '=', tenant)
    .where('not_before', '<=', at)
    .where('not_after', '>', at)
    .orderBy('tee')
    .orderBy('added_at')
    .orderBy('digest')
    .execute();
  return rows.map((row) => ({ tee: row.tee as AnchorClass, certificate: new Uint8Array(Buffer.from(row.certificate, 'base64')) }));
}
