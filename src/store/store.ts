import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

export type StoreKind = 'sqlite' | 'postgres';
export type Tx = Transaction<Database>;

/**
 * The one storage interface. Both backends speak the same kysely schema; what differs
 * (locking, durability, dialect quirks) stays behind this interface.
 */
export interface Store {
  readonly kind: StoreKind;
  /** Human-readable location for logs: a file path or a URL with the password removed. */
  readonly location: string;
  readonly db: Kysely<Database>;
  /**
   * Runs `fn` in one transaction that holds the tenant's write lock, so ledger
   * sequencing is serialised across every process sharing the store (SQLite: the
   * single writer, `BEGIN IMMEDIATE`; PostgreSQL: a transaction-scoped advisory lock).
   * Commits when `fn` resolves, rolls back when it throws.
   *
   * Inside `fn` use only `tx`: on SQLite `db` waits for the one connection the
   * transaction holds (a deadlock); on PostgreSQL it runs outside the transaction.
   * Must stay in PostgreSQL's default READ COMMITTED isolation, so each statement sees
   * what the previous lock holder committed.
   */
  writeTransaction<T>(tenant: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  /** Cheap liveness probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
