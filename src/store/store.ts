import type { Kysely, Transaction } from 'kysely';
import type { StoreHealth } from './faults.js';
import type { Database, LedgerEntriesTable, LedgerNodesTable } from './schema.js';

export type StoreKind = 'sqlite' | 'postgres';

export type LedgerEntryRow = Omit<LedgerEntriesTable, 'tenant'>;
export type LedgerNodeRow = Omit<LedgerNodesTable, 'tenant'>;
export type Tx = Transaction<Database>;

/**
 * The one storage interface. Both backends speak the same kysely schema; what differs
 * (locking, durability, dialect quirks) stays behind this interface.
 */
export interface Store {
  readonly kind: StoreKind;
  /** Human-readable location for logs: a file path or a URL with the password removed. */
  readonly location: string;
  /**
   * Every storage failure of a query through `db` (or of a write transaction) surfaces
   * as a `StoreUnavailable` (503, retryable) and is recorded in `health`.
   */
  readonly db: Kysely<Database>;
  /** The current storage fault, if any: readiness fails while there is one. */
  readonly health: StoreHealth;
  /**
   * Runs `fn` in one transaction that holds the tenant's write lock, so ledger
   * sequencing is serialised across every process sharing the store (SQLite: the
   * single writer, `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory lock).
   * Commits when `fn` resolves, rolls back when it throws, and also rolls back when a
   * storage fault was raised meanwhile, even one that `fn` caught: a unit must not turn
   * a lost connection into a ledgered refusal.
   *
   * Inside `fn` use only `tx`: on SQLite `db` waits for the one connection the
   * transaction holds (a deadlock); on PostgreSQL it runs outside the transaction.
   * Must stay in PostgreSQL's default READ COMMITTED isolation, so each statement sees
   * what the previous lock holder committed.
   */
  writeTransaction<T>(tenant: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Inserts a group commit's ledger rows inside `writeTransaction`: the ledger's hot
   * path, so each backend writes it its own fastest way (SQLite: cached prepared
   * statements; PostgreSQL: one `unnest` insert per table).
   */
  insertLedgerRows(tx: Tx, tenant: string, entries: readonly LedgerEntryRow[], nodes: readonly LedgerNodeRow[]): Promise<void>;
  /** Cheap liveness probe for /readyz; SQLite also checks its files are still its own. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
