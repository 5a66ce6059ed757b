import type { KeyObject } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { Store } from '../store/store.js';
import { signCheckpoint } from './checkpoint.js';
import { LedgerReader, type StoredCheckpoint } from './ledger.js';

/** A tenant's log signing identity. The key name equals the checkpoint origin (C2SP). */
export interface LogKey {
  readonly origin: string;
  readonly privateKey: KeyObject;
  /** Note verifier key: `<origin>+<hex key id>+<base64>`. */
  readonly vkey: string;
}

/** Signs C2SP checkpoints over the ledger and keeps the periodic ones in the store. */
export class Checkpointer {
  constructor(
    private readonly store: Store,
    private readonly reader: LedgerReader,
    private readonly logKey: (tenant: string) => LogKey,
    private readonly clock: Clock,
  ) {}

  /**
   * A signed checkpoint for any size up to the head. Ed25519 is deterministic and the
   * body carries no timestamp, so the same size always yields the same note, and
   * signing an older size never contradicts a newer one.
   */
  async signedAt(tenant: string, size?: number): Promise<{ size: number; note: string }> {
    const treeSize = size ?? (await this.reader.head(tenant)).size;
    const root = await this.reader.rootAt(tenant, treeSize);
    return { size: treeSize, note: this.#sign(tenant, treeSize, root) };
  }

  #sign(tenant: string, size: number, root: Uint8Array): string {
    const key = this.logKey(tenant);
    return signCheckpoint({ origin: key.origin, size, root }, key.origin, key.privateKey);
  }

  /** Stores a checkpoint of the current head unless the latest stored one already covers it. */
  async checkpoint(tenant: string): Promise<StoredCheckpoint> {
    return this.store.writeTransaction(tenant, async (tx) => {
      // Read through this transaction: the reader's own connection would wait on the
      // single SQLite connection the transaction holds.
      const inTx = new LedgerReader(tx);
      const latest = await inTx.latestCheckpoint(tenant);
      const head = await inTx.head(tenant);
      if (latest && latest.size >= head.size) return latest;
      const note = this.#sign(tenant, head.size, head.root);
      const createdAt = this.clock().toISOString();
      await tx.insertInto('checkpoints').values({ tenant, size: head.size, root: head.root, note, created_at: createdAt }).execute();
      return { size: head.size, root: head.root, note, createdAt };
    });
  }
}
