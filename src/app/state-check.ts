/**
 * State against ledger: the state tables are a projection of the ledger, so replaying
 * the ledger into an empty store must give them back exactly. Anything else means a
 * row was written, edited or deleted outside the spine. `audit verify --data-dir` (or
 * `--database`) compares every projection table this way; server start compares the
 * two that decide who may act and what is accepted (members, policy versions).
 */
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { CovenantError } from '../core/errors.js';
import type { LedgerEntry } from '../ledger/entry.js';
import { MEMBER_ADDED, MEMBER_REMOVED } from '../ceremony/events.js';
import { POLICY_VERSION_CREATED } from '../policy/events.js';
import { migrateToLatest } from '../store/migrations.js';
import { PROJECTION_TABLES, type Database as Schema, type ProjectionTable } from '../store/schema.js';
import { projectEntry } from './control-plane.js';

/** Primary keys of the projection tables (src/store/migrations.ts): how rows are paired. */
const KEYS: Record<ProjectionTable, readonly string[]> = {
  tenants: ['id'],
  workloads: ['tenant', 'name'],
  releases: ['tenant', 'workload', 'version'],
  policy_versions: ['tenant', 'id'],
  members: ['tenant', 'name'],
  instances: ['tenant', 'workload', 'instance'],
  rollouts: ['tenant', 'workload', 'number'],
  health_signals: ['tenant', 'workload', 'source'],
  constitution: ['tenant', 'action'],
  proposals: ['tenant', 'id'],
  proposal_votes: ['tenant', 'proposal', 'member'],
  secrets: ['tenant', 'resource'],
  secret_versions: ['tenant', 'resource', 'version'],
  sealing_windows: ['tenant', 'workload'],
  collateral: ['tenant', 'digest'],
  trust_anchors: ['tenant', 'tee', 'digest'],
};

/** The first place where stored state and the ledger's replay disagree. */
export interface StateDifference {
  readonly table: ProjectionTable;
  /** The row's primary key, `column=value` pairs. */
  readonly key: string;
  /** The first differing column; absent when the row is missing on one side. */
  readonly column?: string;
  readonly message: string;
}

export interface StateCheckScope {
  /** Tables compared (default: every projection table). */
  readonly tables?: readonly ProjectionTable[];
  /** Entry types replayed (default: all); the ones that build `tables` are enough. */
  readonly types?: readonly string[];
  readonly pageSize?: number;
}

/** Members and policy versions: who may act, and what is accepted. Checked at server start. */
export const TRUST_BASE_SCOPE: StateCheckScope = {
  tables: ['members', 'policy_versions'],
  types: [MEMBER_ADDED, MEMBER_REMOVED, POLICY_VERSION_CREATED],
};

type Row = Record<string, unknown>;

/** Backend-neutral cell text: bytes as hex, int8 as number, everything else as JSON. */
function cell(value: unknown): string {
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  if (typeof value === 'bigint') return String(Number(value));
  return JSON.stringify(value ?? null);
}

const keyOf = (table: ProjectionTable, row: Row): string => KEYS[table].map((column) => `${column}=${cell(row[column])}`).join(', ');

async function tenantRows(db: Kysely<Schema>, table: ProjectionTable, tenant: string): Promise<Map<string, Row>> {
  const query = table === 'tenants' ? db.selectFrom('tenants').selectAll().where('id', '=', tenant) : db.selectFrom(table).selectAll().where('tenant', '=', tenant);
  const rows = (await query.execute()) as Row[];
  return new Map(rows.map((row) => [keyOf(table, row), row]));
}

/** Pure: the first difference between two tables' rows (keys in sorted order, columns by name). */
export function firstDifference(table: ProjectionTable, stored: ReadonlyMap<string, Row>, rebuilt: ReadonlyMap<string, Row>): StateDifference | undefined {
  for (const key of [...new Set([...stored.keys(), ...rebuilt.keys()])].sort()) {
    const have = stored.get(key);
    const want = rebuilt.get(key);
    if (want === undefined) return { table, key, message: `${table} [${key}]: row is in the store but no ledger entry made it` };
    if (have === undefined) return { table, key, message: `${table} [${key}]: row the ledger made is missing from the store` };
    for (const column of [...new Set([...Object.keys(have), ...Object.keys(want)])].sort()) {
      if (cell(have[column]) !== cell(want[column])) return { table, key, column, message: `${table} [${key}]: column ${column} differs from the ledger's` };
    }
  }
  return undefined;
}

/**
 * Replays the tenant's ledger (the given entry types) into a scratch in-memory SQLite
 * store and compares the given tables with the stored ones. Reads the ledger a page at
 * a time; the scratch store holds the rebuilt state (what a rebuild costs anyway).
 */
export async function compareStateWithLedger(db: Kysely<Schema>, tenant: string, scope: StateCheckScope = {}): Promise<StateDifference | undefined> {
  const pageSize = scope.pageSize ?? 1000;
  const scratch = new Kysely<Schema>({ dialect: new SqliteDialect({ database: new Database(':memory:') }) });
  try {
    await migrateToLatest(scratch, 'sqlite');
    for (let after = -1; ; ) {
      let query = db.selectFrom('ledger_entries').select(['seq', 'body']).where('tenant', '=', tenant).where('seq', '>', after);
      if (scope.types !== undefined) query = query.where('type', 'in', [...scope.types]);
      const page = await query.orderBy('seq').limit(pageSize).execute();
      if (page.length === 0) break;
      await scratch.transaction().execute(async (tx) => {
        for (const row of page) await projectEntry(tx, JSON.parse(Buffer.from(row.body).toString('utf8')) as LedgerEntry);
      });
      after = page[page.length - 1]!.seq;
    }
    for (const table of scope.tables ?? PROJECTION_TABLES) {
      const difference = firstDifference(table, await tenantRows(db, table, tenant), await tenantRows(scratch, table, tenant));
      if (difference !== undefined) return difference;
    }
    return undefined;
  } finally {
    await scratch.destroy();
  }
}

/**
 * Server start: refuses a store whose members or policy versions are not the ledger's
 * (one pass over those entry types, found by the type index).
 */
export async function requireTrustBaseMatchesLedger(db: Kysely<Schema>, tenant: string): Promise<void> {
  const difference = await compareStateWithLedger(db, tenant, TRUST_BASE_SCOPE);
  if (difference !== undefined) {
    throw new CovenantError('integrity', `state does not match the ledger: ${difference.message}; restore the store from a backup or rebuild it from the ledger (see docs on audit verify)`);
  }
}
