import type { Store } from '../store/store.js';

export const DEFAULT_RETENTION_SECONDS = 86_400;

/**
 * Drops what has outlived its purpose: spent sessions past their expiry (the MAC'd
 * expiry refuses them anyway) and evidence past its retention — except each
 * instance's latest, which `policy dry-run` re-appraises for as long as the instance
 * is in the inventory.
 */
export async function pruneAttestationState(store: Store, now: Date): Promise<void> {
  const at = now.toISOString();
  await store.db.deleteFrom('attestation_sessions').where('expires_at', '<', at).execute();
  await store.db
    .deleteFrom('attachments')
    .where('expires_at', '<', at)
    .where(({ not, exists, selectFrom, ref }) =>
      not(
        exists(
          selectFrom('instances')
            .select('instances.instance')
            .whereRef('instances.tenant', '=', ref('attachments.tenant'))
            .whereRef('instances.evidence_digest', '=', ref('attachments.digest')),
        ),
      ),
    )
    .execute();
}
