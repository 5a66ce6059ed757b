import type { Projector, Unit } from '../ledger/committer.js';

/**
 * The fleet inventory forgets instances it has not seen for a while: instance keys are
 * per boot in most deployments, so without this the inventory (and each instance's
 * retained latest evidence) would grow with every restart, forever. Forgetting is a
 * ledger entry like every other change of state, so a rebuild forgets the same rows;
 * the verdicts of a forgotten instance stay in the ledger.
 */
export const INVENTORY_PRUNED = 'fleet.inventory-pruned';

export interface InventoryPruned {
  /** Instances last seen before this time were forgotten. */
  readonly before: string;
  /** How many, for the record (the projection deletes by `before`, not by count). */
  readonly instances: number;
}

/** Thirty days: longer than any release cycle a compliance report looks back over. */
export const DEFAULT_INVENTORY_RETENTION_SECONDS = 30 * 86_400;

/** Forgets the instances not seen for `retentionSeconds`; records nothing when there are none. */
export function pruneInventory(retentionSeconds: number): Unit<number> {
  return async (tx, ctx) => {
    const before = new Date(ctx.now.getTime() - retentionSeconds * 1000).toISOString();
    const { n } = await tx
      .selectFrom('instances')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('tenant', '=', ctx.tenant)
      .where('last_seen', '<', before)
      .executeTakeFirstOrThrow();
    const instances = Number(n);
    if (instances === 0) return { entries: [], result: 0 };
    const payload: InventoryPruned = { before, instances };
    return { entries: [{ type: INVENTORY_PRUNED, actor: 'system:retention', payload }], result: instances };
  };
}

export const inventoryProjection: Record<string, Projector> = {
  [INVENTORY_PRUNED]: async (tx, entry) => {
    const { before } = entry.payload as InventoryPruned;
    await tx.deleteFrom('instances').where('tenant', '=', entry.tenant).where('last_seen', '<', before).execute();
  },
};
