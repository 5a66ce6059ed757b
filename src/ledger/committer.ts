import type { Clock } from '../core/clock.js';
import { CovenantError } from '../core/errors.js';
import { StoreUnavailable } from '../store/faults.js';
import type { LedgerEntryRow, Store, Tx } from '../store/store.js';
import { encodeEntry, type LedgerEntry, type NewEntry } from './entry.js';
import { appendLeaves, frontierPlan, leafHash, rootFromFrontier, type NodeId } from './merkle.js';
import { fetchNodes, nodeLookup } from './tree-store.js';

/**
 * What a command decided. `entries` are committed in any case — a refused
 * security-relevant request is ledgered too — and then either `result` is returned or
 * `rejection` is thrown to the caller.
 */
export type Decision<T> = (
  | { readonly entries: readonly NewEntry[]; readonly result: T }
  | { readonly entries: readonly NewEntry[]; readonly rejection: CovenantError }
) & { readonly attachments?: readonly Attachment[] };

/**
 * Content-addressed data an entry refers to by digest (raw evidence), stored in the
 * same transaction as the entry but outside the tree, and dropped after `expiresAt`:
 * the ledger proves what was decided; the attachment lets it be re-examined for a while.
 */
export interface Attachment {
  /** `sha256:<hex>` of `body`. */
  readonly digest: string;
  readonly mediaType: string;
  readonly body: Uint8Array;
  /** JSON-compatible; for evidence, its verified claims. */
  readonly meta: unknown;
  readonly expiresAt: Date;
}

export interface UnitContext {
  readonly tenant: string;
  readonly now: Date;
  /** The index the unit's first entry will get (set by the committer): what its attachments can name their entry by. */
  readonly nextSeq?: number;
}

/**
 * One command's trip through the spine: read current state inside the write
 * transaction, decide (pure), return the entries. Units only read; writes happen
 * through the projector so that state is always a function of the ledger.
 */
export type Unit<T> = (tx: Tx, ctx: UnitContext) => Promise<Decision<T>>;

/**
 * Applies one committed entry to the state tables (the projection of the ledger).
 * Returns nothing for entry types that change no state, sparing the hot path an await.
 */
export type Projector = (tx: Tx, entry: LedgerEntry) => Promise<void> | undefined;

export interface Committed<T> {
  readonly result: T;
  readonly entries: readonly LedgerEntry[];
}

interface Pending {
  readonly unit: Unit<unknown>;
  readonly resolve: (value: Committed<unknown>) => void;
  readonly reject: (error: unknown) => void;
}

interface Outcome {
  readonly result?: unknown;
  readonly error?: unknown;
  readonly entries: LedgerEntry[];
}

interface TenantQueue {
  waiting: Pending[];
  flushing: boolean;
}

interface Head {
  size: number;
  root: Uint8Array;
  frontier: Uint8Array[];
}

export interface CommitterOptions {
  /** Upper bound of units sharing one transaction. */
  readonly maxBatch?: number;
  readonly onBatch?: (units: number, entries: number) => void;
}

/**
 * Group commit: commands submitted while a transaction is in flight share the next
 * one — one transaction, one tree update, one fsync — however many arrive.
 */
export class Committer {
  readonly #queues = new Map<string, TenantQueue>();
  readonly #heads = new Map<string, Head>();
  readonly #maxBatch: number;
  readonly #onBatch: CommitterOptions['onBatch'];

  constructor(
    private readonly store: Store,
    private readonly project: Projector,
    private readonly clock: Clock,
    options: CommitterOptions = {},
  ) {
    this.#maxBatch = options.maxBatch ?? 2000;
    this.#onBatch = options.onBatch;
  }

  submit<T>(tenant: string, unit: Unit<T>): Promise<Committed<T>> {
    return new Promise<Committed<T>>((resolve, reject) => {
      let queue = this.#queues.get(tenant);
      if (!queue) {
        queue = { waiting: [], flushing: false };
        this.#queues.set(tenant, queue);
      }
      queue.waiting.push({ unit, resolve: resolve as Pending['resolve'], reject });
      if (!queue.flushing) this.#schedule(tenant, queue);
    });
  }

  /** Appends plain entries (no state reads) — the ledger's own API and the benchmark's. */
  append(tenant: string, entries: readonly NewEntry[]): Promise<Committed<undefined>> {
    return this.submit(tenant, async () => ({ entries, result: undefined }));
  }

  #schedule(tenant: string, queue: TenantQueue): void {
    queue.flushing = true;
    // setImmediate lets every submit of the current I/O turn join the batch.
    setImmediate(() => {
      void this.#flush(tenant, queue);
    });
  }

  async #flush(tenant: string, queue: TenantQueue): Promise<void> {
    const batch = queue.waiting.splice(0, this.#maxBatch);
    try {
      await this.#settle(tenant, batch);
    } catch (error) {
      // One command's unexpected failure must not fail the commands that merely
      // shared its transaction: retry each alone, so only the culprit fails. A store
      // fault is nobody's culprit: retrying one by one against a dead connection or a
      // full disk would only hold the queue, so the whole batch gets the retryable 503.
      if (batch.length === 1 || error instanceof StoreUnavailable) for (const pending of batch) pending.reject(error);
      else for (const pending of batch) await this.#settle(tenant, [pending]).catch((alone: unknown) => pending.reject(alone));
    }
    if (queue.waiting.length > 0) this.#schedule(tenant, queue);
    else queue.flushing = false;
  }

  async #settle(tenant: string, batch: readonly Pending[]): Promise<void> {
    let outcomes: Outcome[];
    try {
      outcomes = await this.#commitBatch(tenant, batch);
    } catch (error) {
      this.#heads.delete(tenant);
      throw error;
    }
    this.#onBatch?.(batch.length, outcomes.reduce((sum, outcome) => sum + outcome.entries.length, 0));
    batch.forEach((pending, i) => {
      const outcome = outcomes[i]!;
      if (outcome.error) pending.reject(outcome.error);
      else pending.resolve({ result: outcome.result, entries: outcome.entries });
    });
  }

  async #commitBatch(tenant: string, batch: readonly Pending[]): Promise<Outcome[]> {
    return this.store.writeTransaction(tenant, async (tx) => {
      const head = await this.#loadHead(tx, tenant);
      const now = this.clock();
      const time = now.toISOString();
      const outcomes: Outcome[] = [];
      const rows: LedgerEntryRow[] = [];
      const leaves: Uint8Array[] = [];
      const attachments = new Map<string, Attachment>();
      let size = head.size;

      for (const pending of batch) {
        let decision: Decision<unknown>;
        try {
          decision = await pending.unit(tx, { tenant, now, nextSeq: size });
        } catch (error) {
          // A typed refusal that wants no ledger entry; anything else (a store fault
          // included) aborts the batch.
          if (error instanceof CovenantError && !(error instanceof StoreUnavailable)) {
            outcomes.push({ error, entries: [] });
            continue;
          }
          throw error;
        }
        const committed: LedgerEntry[] = [];
        for (const entry of decision.entries) {
          const full: LedgerEntry = { ...entry, seq: size++, tenant, time };
          const body = encodeEntry(full);
          rows.push({
            seq: full.seq,
            type: full.type,
            actor: full.actor,
            workload: full.workload ?? null,
            time,
            body,
          });
          leaves.push(leafHash(body));
          committed.push(full);
          const projected = this.project(tx, full);
          if (projected) await projected;
        }
        for (const attachment of decision.attachments ?? []) attachments.set(attachment.digest, attachment);
        outcomes.push('rejection' in decision ? { error: decision.rejection, entries: committed } : { result: decision.result, entries: committed });
      }
      if (attachments.size > 0) await insertAttachments(tx, tenant, [...attachments.values()]);

      if (rows.length > 0) {
        const appended = appendLeaves(head.size, head.frontier, leaves);
        const root = rootFromFrontier(size, appended.frontier);
        await this.store.insertLedgerRows(tx, tenant, rows, appended.nodes);
        if (head.size === 0) {
          await tx.insertInto('ledger_heads').values({ tenant, size, root: root }).execute();
        } else {
          await tx.updateTable('ledger_heads').set({ size, root: root }).where('tenant', '=', tenant).execute();
        }
        // Cached only once the transaction has committed (see #flush's catch).
        this.#heads.set(tenant, { size, root: root, frontier: appended.frontier });
      }
      return outcomes;
    });
  }

  /**
   * The frontier is cached between batches; it is re-read whenever another writer
   * (a second replica on PostgreSQL) has moved the head since.
   */
  async #loadHead(tx: Tx, tenant: string): Promise<Head> {
    const row = await tx.selectFrom('ledger_heads').select(['size', 'root']).where('tenant', '=', tenant).executeTakeFirst();
    if (!row) return { size: 0, root: new Uint8Array(), frontier: [] };
    const cached = this.#heads.get(tenant);
    if (cached && cached.size === row.size && Buffer.compare(Buffer.from(cached.root), Buffer.from(row.root)) === 0) return cached;
    const plan: NodeId[] = frontierPlan(row.size);
    const lookup = nodeLookup(await fetchNodes(tx, tenant, plan));
    return { size: row.size, root: row.root, frontier: plan.map(lookup) };
  }
}

/**
 * Same digest, same bytes: a second copy (a retried request) is no news, except that it
 * is kept for the longer of the two lives (ISO times compare as text).
 */
async function insertAttachments(tx: Tx, tenant: string, attachments: readonly Attachment[]): Promise<void> {
  // Chunked below SQLite's 32,766 bound variables per statement.
  for (let at = 0; at < attachments.length; at += 1000) {
    await tx
      .insertInto('attachments')
      .values(
        attachments.slice(at, at + 1000).map((a) => ({
          tenant,
          digest: a.digest,
          media_type: a.mediaType,
          body: a.body,
          meta: JSON.stringify(a.meta),
          expires_at: a.expiresAt.toISOString(),
        })),
      )
      .onConflict((oc) =>
        oc.columns(['tenant', 'digest']).doUpdateSet({
          expires_at: (eb) => eb.case().when('excluded.expires_at', '>', eb.ref('attachments.expires_at')).then(eb.ref('excluded.expires_at')).else(eb.ref('attachments.expires_at')).end(),
        }),
      )
      .execute();
  }
}
