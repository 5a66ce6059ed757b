/**
 * Embedded SQLite backend. One process owns a data directory at a time; within it,
 * kysely's SqliteDriver funnels every query through one connection, so transactions
 * are serialised in process and the file lock keeps every other process out.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { CompiledQuery, Kysely, SqliteDialect, SqliteDriver, sql, type SqliteDatabase } from 'kysely';
import type { DatabaseConnection, Driver } from 'kysely';
import { CovenantError, isCovenantError } from '../core/errors.js';
import { StoreHealth, type StoreCondition } from './faults.js';
import { guardDialect } from './guarded-dialect.js';
import type { Database as Schema } from './schema.js';
import type { Store, Tx } from './store.js';

export interface SqliteStoreOptions {
  dataDir: string;
}

export const SQLITE_DB_FILE = 'covenant.db';
export const SQLITE_LOCK_FILE = 'covenant.lock';
export const SQLITE_PID_FILE = 'covenant.pid';

/**
 * Only waits out readers/writers from outside covenant (a `sqlite3` shell, a backup
 * tool); covenant itself never contends with itself here. better-sqlite3 blocks the
 * event loop while it waits, so this stays short.
 */
const BUSY_TIMEOUT_MS = 5_000;

type ReleaseLock = () => void;

function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function readHolderPid(pidPath: string): string {
  try {
    const pid = fs.readFileSync(pidPath, 'utf8').trim();
    return /^\d+$/.test(pid) ? pid : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Takes the data directory's process lock: an exclusive SQLite lock on a separate,
 * otherwise unused file, held by a transaction that stays open for the life of the
 * store. SQLite locks are POSIX fcntl locks, so the kernel drops them when the holder
 * dies, even by SIGKILL, and a restart right after a crash finds the directory free.
 * SQLite also tracks its locks per inode inside the process, so a second opener in the
 * same process is refused too. The lock lives in its own file so that refusing a second
 * process never involves touching covenant.db.
 *
 * Nothing in this process may open and close covenant.lock by other means (fs.readFile,
 * a copy tool): closing any descriptor of a file drops all of the process's fcntl locks
 * on it.
 */
function acquireDataDirLock(dataDir: string): ReleaseLock {
  const lockPath = path.join(dataDir, SQLITE_LOCK_FILE);
  const pidPath = path.join(dataDir, SQLITE_PID_FILE);
  let guard: Database.Database | undefined;
  try {
    // timeout 0: a held lock must be reported at once, not waited for.
    guard = new Database(lockPath, { timeout: 0 });
    // Nothing is ever written to the guard, so no journal file is needed next to it.
    guard.pragma('journal_mode = MEMORY');
    guard.pragma('locking_mode = EXCLUSIVE');
    guard.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    guard?.close();
    const code = sqliteCode(err);
    if (code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))) {
      throw new CovenantError(
        'data-dir-locked',
        `data directory ${dataDir} is in use by another covenant process (pid ${readHolderPid(pidPath)})`,
        { cause: err },
      );
    }
    throw new CovenantError('store-unavailable', `cannot lock data directory ${dataDir}: ${messageOf(err)}`, {
      cause: err,
    });
  }
  const held = guard;

  try {
    // Written only once the lock is ours, and by rename, so a refused opener never reads
    // a half-written pid. A holder killed before this leaves the previous pid behind;
    // that only affects the wording of the refusal.
    const tmp = `${pidPath}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, `${process.pid}\n`);
    fs.renameSync(tmp, pidPath);
  } catch (err) {
    held.close();
    throw new CovenantError('store-unavailable', `cannot write ${pidPath}: ${messageOf(err)}`, { cause: err });
  }

  return () => {
    // The pid file goes first: once the lock is released a successor may write its own.
    try {
      if (readHolderPid(pidPath) === String(process.pid)) fs.rmSync(pidPath, { force: true });
    } catch {
      // A directory made read-only while we ran: the stale file only words a later
      // refusal (see above) and the next holder replaces it, so stopping goes on quietly.
    } finally {
      held.close();
    }
  };
}

/**
 * kysely prepares every query it runs, and better-sqlite3 compiles SQL on each prepare:
 * the few statements of the hot paths were compiled thousands of times a second.
 * Statements are reusable (better-sqlite3 re-prepares them itself after a schema
 * change), so the same SQL text gets the same compiled statement.
 */
const STATEMENT_CACHE_CAPACITY = 500;

function withStatementCache(database: Database.Database): SqliteDatabase {
  // The SQL texts come from code, so they are few; the bound only guards against a
  // caller that inlines values. No recency bookkeeping: lookups are the hot path.
  const statements = new Map<string, Database.Statement>();
  return {
    close: () => database.close(),
    prepare: (text: string) => {
      let statement = statements.get(text);
      if (statement === undefined) {
        statement = database.prepare(text);
        if (statements.size < STATEMENT_CACHE_CAPACITY) statements.set(text, statement);
      }
      return statement;
    },
  };
}

/**
 * kysely's SqliteDriver opens transactions with a deferred `BEGIN`; a writer then only
 * takes the write lock at its first write and can fail with SQLITE_BUSY halfway through.
 * `BEGIN IMMEDIATE` takes it up front, so a write transaction either starts owning the
 * database or waits before doing anything.
 */
class ImmediateSqliteDriver extends SqliteDriver {
  readonly #database: Database.Database;

  constructor(database: Database.Database) {
    super({ database: withStatementCache(database) });
    this.#database = database;
  }

  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'));
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    // SQLite rolls back by itself on some errors (SQLITE_FULL, SQLITE_IOERR); a second
    // ROLLBACK would then fail and hide the error that caused it.
    if (this.#database.inTransaction) await super.rollbackTransaction(connection);
  }
}

class CovenantSqliteDialect extends SqliteDialect {
  readonly #database: Database.Database;

  constructor(database: Database.Database) {
    super({ database });
    this.#database = database;
  }

  override createDriver(): Driver {
    return new ImmediateSqliteDriver(this.#database);
  }
}

/** The storage itself failed, as opposed to a query or constraint error. */
function conditionOf(err: unknown): StoreCondition | undefined {
  const code = sqliteCode(err) ?? (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return undefined;
  if (code.startsWith('SQLITE_FULL') || code === 'ENOSPC') return 'disk-full';
  if (/^SQLITE_(BUSY|LOCKED)/.test(code)) return 'busy';
  if (/^SQLITE_(IOERR|READONLY|CANTOPEN|CORRUPT|NOTADB|PROTOCOL)/.test(code)) return 'storage-error';
  return undefined;
}

interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

function identityOf(file: string): FileIdentity | undefined {
  try {
    const { dev, ino } = fs.statSync(file);
    return { dev, ino };
  } catch {
    return undefined;
  }
}

/**
 * The files this store opened are still the ones at their paths. A deleted or replaced
 * data directory leaves the open descriptors pointing at unlinked files: writes would
 * still succeed, and vanish at the next restart, while another server could lock a
 * re-created directory and start a second history.
 */
function sameFiles(opened: readonly FileIdentity[], now: readonly (FileIdentity | undefined)[]): boolean {
  return opened.every((file, i) => now[i] !== undefined && now[i].dev === file.dev && now[i].ino === file.ino);
}

function openDatabase(dbPath: string): Database.Database {
  const database = new Database(dbPath, { timeout: BUSY_TIMEOUT_MS });
  try {
    const mode = database.pragma('journal_mode = WAL', { simple: true });
    if (String(mode).toLowerCase() !== 'wal') {
      throw new Error(`journal_mode is ${String(mode)}, WAL is required`);
    }
    // FULL: a commit survives power loss, not only a process crash; the ledger depends on it.
    database.pragma('synchronous = FULL');
    database.pragma('foreign_keys = ON');
    database.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return database;
  } catch (err) {
    database.close();
    throw err;
  }
}

export async function openSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const dataDir = path.resolve(options.dataDir);
  try {
    // 0700: the directory holds the ledger and tenant state; other users have no business here.
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new CovenantError('store-unavailable', `cannot create data directory ${dataDir}: ${messageOf(err)}`, {
      cause: err,
    });
  }

  const releaseLock = acquireDataDirLock(dataDir);
  const dbPath = path.join(dataDir, SQLITE_DB_FILE);
  let database: Database.Database;
  try {
    database = openDatabase(dbPath);
  } catch (err) {
    releaseLock();
    throw new CovenantError('store-unavailable', `cannot open ${dbPath}: ${messageOf(err)}`, { cause: err });
  }

  const health = new StoreHealth();
  const translate = (err: unknown): unknown => {
    if (isCovenantError(err)) return err;
    const condition = conditionOf(err);
    return condition === undefined ? err : health.fail(condition, err);
  };
  const files = [dbPath, path.join(dataDir, SQLITE_LOCK_FILE)];
  const opened = files.map(identityOf);
  /** Two stats per group commit and per readiness probe: cheap next to the commit's fsync. */
  const checkFiles = (): void => {
    if (opened.every((file) => file !== undefined) && sameFiles(opened, files.map(identityOf))) return;
    throw health.fail('data-dir-replaced', new Error(`${files.join(' or ')} was deleted or replaced`), true);
  };

  const db = new Kysely<Schema>({ dialect: guardDialect(new CovenantSqliteDialect(database), translate) });
  let closed: Promise<void> | undefined;
  let ledgerInserts: { entry: Database.Statement; node: Database.Statement } | undefined;

  const store: Store = {
    kind: 'sqlite',
    location: dbPath,
    db,
    health,
    async writeTransaction<T>(_tenant: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
      // One writer for all tenants: the single connection serialises transactions in
      // this process and the data-directory lock excludes every other process.
      try {
        checkFiles();
        const result = await db.transaction().execute((tx) => health.within(() => fn(tx)));
        health.wrote();
        return result;
      } catch (err) {
        // insertLedgerRows runs statements on the raw handle, past the guarded dialect.
        throw translate(err);
      }
    },
    async insertLedgerRows(_tx, tenant, entries, nodes): Promise<void> {
      // The raw handle is the transaction's own single connection, so these statements
      // run inside the open transaction.
      ledgerInserts ??= {
        entry: database.prepare('insert into ledger_entries (tenant, seq, type, actor, workload, time, body) values (?, ?, ?, ?, ?, ?, ?)'),
        node: database.prepare('insert into ledger_nodes (tenant, level, idx, hash) values (?, ?, ?, ?)'),
      };
      const { entry, node } = ledgerInserts;
      for (const row of entries) entry.run(tenant, row.seq, row.type, row.actor, row.workload, row.time, row.body);
      for (const row of nodes) node.run(tenant, row.level, row.idx, row.hash);
    },
    async ping(): Promise<void> {
      checkFiles();
      await sql`select 1`.execute(db);
      health.answered();
    },
    close(): Promise<void> {
      closed ??= (async () => {
        try {
          await db.destroy();
        } finally {
          // kysely only closes what it initialised, i.e. nothing if no query ever ran.
          try {
            if (database.open) database.close();
          } finally {
            releaseLock();
          }
        }
      })();
      return closed;
    },
  };
  return store;
}
