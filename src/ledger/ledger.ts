import type { Kysely } from 'kysely';
import { CovenantError } from '../core/errors.js';
import type { Database } from '../store/schema.js';
import type { LedgerEntry } from './entry.js';
import {
  EMPTY_ROOT,
  buildConsistencyProof,
  buildInclusionProof,
  consistencyProofPlan,
  inclusionProofPlan,
  rootFromNodes,
  rootPlan,
} from './merkle.js';
import { fetchNodes, nodeLookup } from './tree-store.js';

export interface TreeHead {
  readonly size: number;
  readonly root: Uint8Array;
}

export interface InclusionProof {
  readonly index: number;
  readonly treeSize: number;
  readonly leafHash: Uint8Array;
  readonly hashes: readonly Uint8Array[];
  readonly root: Uint8Array;
}

export interface ConsistencyProof {
  readonly from: number;
  readonly to: number;
  readonly hashes: readonly Uint8Array[];
}

export interface EntryFilter {
  readonly type?: string;
  readonly actor?: string;
  readonly workload?: string;
  /** ISO time: entries at or after it. */
  readonly since?: string;
  /** Entries with seq greater than this (paging). */
  readonly after?: number;
  readonly limit: number;
}

/** A stored entry exactly as kept: what `audit verify` recomputes from. */
export interface RawEntry {
  readonly seq: number;
  readonly type: string;
  readonly actor: string;
  readonly workload: string | null;
  readonly time: string;
  readonly body: Uint8Array;
  /** The stored level-0 node: lets an auditor point at the exact entry that changed. */
  readonly leafHash: Uint8Array | null;
}

export interface StoredCheckpoint {
  readonly size: number;
  readonly root: Uint8Array;
  readonly note: string;
  readonly createdAt: string;
}

const requireSize = (value: number, name: string): void => {
  if (!Number.isSafeInteger(value) || value < 0) throw new CovenantError('bad-request', `${name} must be a non-negative integer`);
};

/** Read side of the ledger: entries, tree heads and proofs, straight from the store. */
export class LedgerReader {
  constructor(private readonly db: Kysely<Database>) {}

  async head(tenant: string): Promise<TreeHead> {
    const row = await this.db.selectFrom('ledger_heads').select(['size', 'root']).where('tenant', '=', tenant).executeTakeFirst();
    return row ? { size: row.size, root: row.root } : { size: 0, root: EMPTY_ROOT };
  }

  async rootAt(tenant: string, size: number): Promise<Uint8Array> {
    const head = await this.#headCovering(tenant, size, 'tree size');
    if (size === head.size) return head.root;
    if (size === 0) return EMPTY_ROOT;
    const nodes = nodeLookup(await fetchNodes(this.db, tenant, rootPlan(size)));
    return rootFromNodes(size, nodes);
  }

  async inclusionProof(tenant: string, index: number, treeSize?: number): Promise<InclusionProof> {
    requireSize(index, 'index');
    const head = await this.head(tenant);
    const size = treeSize ?? head.size;
    requireSize(size, 'treeSize');
    if (size > head.size) throw new CovenantError('proof-unavailable', `tree size ${size} exceeds the log's size ${head.size}`);
    if (index >= size) throw new CovenantError('proof-unavailable', `index ${index} is not in a tree of size ${size}`);
    const plan = [...inclusionProofPlan(index, size), ...rootPlan(size), { level: 0, idx: index }];
    const nodes = nodeLookup(await fetchNodes(this.db, tenant, plan));
    return {
      index,
      treeSize: size,
      leafHash: nodes({ level: 0, idx: index }),
      hashes: buildInclusionProof(index, size, nodes),
      root: rootFromNodes(size, nodes),
    };
  }

  async consistencyProof(tenant: string, from: number, to: number): Promise<ConsistencyProof> {
    requireSize(from, 'from');
    requireSize(to, 'to');
    if (from > to) throw new CovenantError('proof-unavailable', `from (${from}) must not exceed to (${to})`);
    await this.#headCovering(tenant, to, 'to');
    if (from === 0 || from === to) return { from, to, hashes: [] };
    const nodes = nodeLookup(await fetchNodes(this.db, tenant, consistencyProofPlan(from, to)));
    return { from, to, hashes: buildConsistencyProof(from, to, nodes) };
  }

  async entries(tenant: string, filter: EntryFilter): Promise<LedgerEntry[]> {
    let query = this.db.selectFrom('ledger_entries').select('body').where('tenant', '=', tenant);
    if (filter.type !== undefined) query = query.where('type', '=', filter.type);
    if (filter.actor !== undefined) query = query.where('actor', '=', filter.actor);
    if (filter.workload !== undefined) query = query.where('workload', '=', filter.workload);
    if (filter.since !== undefined) query = query.where('time', '>=', filter.since);
    if (filter.after !== undefined) query = query.where('seq', '>', filter.after);
    const rows = await query.orderBy('seq').limit(filter.limit).execute();
    return rows.map((row) => JSON.parse(Buffer.from(row.body).toString('utf8')) as LedgerEntry);
  }

  async rawEntries(tenant: string, from: number, limit: number): Promise<RawEntry[]> {
    return this.db
      .selectFrom('ledger_entries as e')
      .leftJoin('ledger_nodes as n', (join) =>
        join.onRef('n.tenant', '=', 'e.tenant').on('n.level', '=', 0).onRef('n.idx', '=', 'e.seq'),
      )
      .select(['e.seq', 'e.type', 'e.actor', 'e.workload', 'e.time', 'e.body', 'n.hash as leafHash'])
      .where('e.tenant', '=', tenant)
      .where('e.seq', '>=', from)
      .orderBy('e.seq')
      .limit(limit)
      .execute();
  }

  async checkpoints(tenant: string, afterSize = -1, limit = 1000): Promise<StoredCheckpoint[]> {
    const rows = await this.db
      .selectFrom('checkpoints')
      .select(['size', 'root', 'note', 'created_at'])
      .where('tenant', '=', tenant)
      .where('size', '>', afterSize)
      .orderBy('size')
      .limit(limit)
      .execute();
    return rows.map((row) => ({ size: row.size, root: row.root, note: row.note, createdAt: row.created_at }));
  }

  async latestCheckpoint(tenant: string): Promise<StoredCheckpoint | undefined> {
    const row = await this.db
      .selectFrom('checkpoints')
      .select(['size', 'root', 'note', 'created_at'])
      .where('tenant', '=', tenant)
      .orderBy('size', 'desc')
      .limit(1)
      .executeTakeFirst();
    return row ? { size: row.size, root: row.root, note: row.note, createdAt: row.created_at } : undefined;
  }

  async #headCovering(tenant: string, size: number, name: string): Promise<TreeHead> {
    const head = await this.head(tenant);
    if (size > head.size) throw new CovenantError('proof-unavailable', `${name} ${size} exceeds the log's size ${head.size}`);
    return head;
  }
}
