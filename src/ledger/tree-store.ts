import type { Kysely } from 'kysely';
import { CovenantError } from '../core/errors.js';
import type { Database } from '../store/schema.js';
import { nodeKey, type NodeId } from './merkle.js';

type Db = Kysely<Database>;

/** Tuples per query: keeps SQLite well under its bound-parameter limit. */
const FETCH_CHUNK = 200;

/** Fetches the named complete-subtree hashes in as few queries as possible. */
export async function fetchNodes(db: Db, tenant: string, ids: readonly NodeId[]): Promise<Map<string, Uint8Array>> {
  const found = new Map<string, Uint8Array>();
  for (let start = 0; start < ids.length; start += FETCH_CHUNK) {
    const chunk = ids.slice(start, start + FETCH_CHUNK);
    const rows = await db
      .selectFrom('ledger_nodes')
      .select(['level', 'idx', 'hash'])
      .where('tenant', '=', tenant)
      .where(({ eb, refTuple, tuple }) =>
        eb(
          refTuple('level', 'idx'),
          'in',
          chunk.map((id) => tuple(id.level, id.idx)),
        ),
      )
      .execute();
    for (const row of rows) found.set(nodeKey(row), row.hash);
  }
  return found;
}

/** A lookup over fetched nodes that fails loudly when the store lacks one (a damaged tree). */
export function nodeLookup(nodes: Map<string, Uint8Array>): (id: NodeId) => Uint8Array {
  return (id) => {
    const hash = nodes.get(nodeKey(id));
    if (hash === undefined) throw new CovenantError('ledger-corrupt', `ledger node ${id.level}/${id.idx} is missing from the store`);
    return hash;
  };
}
