import type { Clock } from '../core/clock.js';
import type { TeeClass } from '../core/model.js';
import type { AnchorClass } from '../anchors/classes.js';
import { validTrustAnchors } from '../anchors/queries.js';
import { validCollateral } from '../collateral/queries.js';
import type { Store } from '../store/store.js';

/** How long another replica's import may go unseen. */
const REFRESH_MS = 30_000;
/** The newest imports a verifier is offered, per class: plugins bound the items they read. */
export const MAX_ITEMS_PER_CLASS = 16;

/**
 * What members gave the verifiers, by the TEE class that reads it: imported collateral
 * (the newest 16 per class), for verification to run offline, and the trust anchors
 * they added. Read from the store at most every 30 s (and at once after a change on
 * this replica), so verification never waits on a query; items past their validity
 * drop out at the next read.
 */
export class VerificationMaterial {
  readonly #store: Store;
  readonly #tenant: string;
  readonly #clock: Clock;
  #byClass: ReadonlyMap<TeeClass, readonly Uint8Array[]> = new Map();
  #anchors: ReadonlyMap<TeeClass, readonly Uint8Array[]> = new Map();
  #readAt = Number.NEGATIVE_INFINITY;
  /** Bumped by each invalidation, so that a read begun before an import does not count as fresh. */
  #generation = 0;
  #reading: Promise<void> | undefined;

  constructor(store: Store, tenant: string, clock: Clock) {
    this.#store = store;
    this.#tenant = tenant;
    this.#clock = clock;
  }

  /** Every valid item a verifier of `tee` may use, newest import first. */
  async forClass(tee: TeeClass): Promise<readonly Uint8Array[]> {
    if (this.#clock().getTime() - this.#readAt >= REFRESH_MS) await this.#read();
    return this.#byClass.get(tee) ?? [];
  }

  /** The trust anchors members added for `tee` and valid now, oldest first. */
  async anchorsFor(tee: TeeClass): Promise<readonly Uint8Array[]> {
    if (this.#clock().getTime() - this.#readAt >= REFRESH_MS) await this.#read();
    return this.#anchors.get(tee) ?? [];
  }

  /** After a change: the next verification reads the store again. */
  invalidate(): void {
    this.#generation += 1;
    this.#readAt = Number.NEGATIVE_INFINITY;
  }

  #read(): Promise<void> {
    // Concurrent verifications share one read.
    this.#reading ??= (async () => {
      try {
        const generation = this.#generation;
        const now = this.#clock();
        const byClass = new Map<TeeClass, Uint8Array[]>();
        for (const item of await validCollateral(this.#store.db, this.#tenant, now)) {
          for (const tee of item.classes) {
            const items = byClass.get(tee) ?? [];
            if (items.length < MAX_ITEMS_PER_CLASS) byClass.set(tee, [...items, item.body]);
          }
        }
        const anchors = new Map<AnchorClass, Uint8Array[]>();
        for (const { tee, certificate } of await validTrustAnchors(this.#store.db, this.#tenant, now)) anchors.set(tee, [...(anchors.get(tee) ?? []), certificate]);
        this.#byClass = byClass;
        this.#anchors = anchors;
        if (generation === this.#generation) this.#readAt = now.getTime();
      } finally {
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }
}
