/**
 * PostgreSQL backend for scale-out: several stateless replicas share one database, so
 * every ordering decision is made by the database (advisory locks), never in memory.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { CovenantError, isCovenantError } from '../core/errors.js';
import { StoreHealth, StoreUnavailable, type StoreCondition } from './faults.js';
import { guardDialect } from './guarded-dialect.js';
import type { Database as Schema } from './schema.js';
import type { Store, Tx } from './store.js';

export interface PostgresStoreOptions {
  /** `postgres://` or `postgresql://` connection URL (libpq style). */
  url: string;
  /** Connections per process; default 10. */
  poolSize?: number;
}

const DEFAULT_POOL_SIZE = 10;
/** Bounds how long an unreachable or overloaded server can stall a caller. */
const CONNECT_TIMEOUT_MS = 10_000;
/**
 * A replica that stalls inside a write transaction (partition, stuck peer) would hold the
 * tenant's ledger lock forever; the server ends such sessions, which releases the lock.
 */
const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;
const INT8_OID = 20;

/** The URL with every credential removed, for logs and error messages. */
export function redactPostgresUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // An unparseable URL may still hold a password somewhere; show none of it.
    return 'postgres://<unparseable url>';
  }
  parsed.password = '';
  for (const key of ['password', 'sslpassword', 'sslkey']) parsed.searchParams.delete(key);
  return parsed.toString();
}

/** `host:port` (or a socket directory) to name the server in errors. */
function endpointOf(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
    return `${host}:${parsed.port || parsed.searchParams.get('port') || '5432'}`;
  } catch {
    return '<unparseable url>';
  }
}

function passwordOf(url: string): string | undefined {
  try {
    const parsed = new URL(url);
    const password = decodeURIComponent(parsed.password) || parsed.searchParams.get('password') || '';
    return password === '' ? undefined : password;
  } catch {
    return undefined;
  }
}

/**
 * The advisory-lock key that serialises one tenant's ledger writes: the first 8 bytes of
 * SHA-256('covenant-ledger:' + tenant) as a signed 64-bit integer. Derived in the client
 * so every replica, whatever its PostgreSQL version, agrees on it. Collisions only make
 * two tenants share a lock, which costs throughput, never correctness.
 */
export function ledgerLockKey(tenant: string): bigint {
  return createHash('sha256').update(`covenant-ledger:${tenant}`, 'utf8').digest().readBigInt64BE(0);
}

const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** Errors meaning the server is unreachable or went away, as opposed to a failed query. */
function isConnectionFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (CONNECTION_ERROR_CODES.has(code)) return true;
    // SQLSTATE 08: connection exception; 57P01-03: shutdown / not accepting connections;
    // 57P05 and 25P03: the server ended an idle session; 53300: too many connections;
    // 28: authentication failed; 3D000: no such database.
    if (/^(08|57P0[1235]|25P03|53300|28|3D000)/.test(code)) return true;
  }
  // pg raises these without a code.
  return /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/.test(
    err.message,
  );
}

/** SQLSTATE 53100 disk_full: the server has no room to write. */
function conditionOf(err: unknown): StoreCondition | undefined {
  if (isConnectionFailure(err)) return 'connection-lost';
  if ((err as { code?: unknown } | null)?.code === '53100') return 'disk-full';
  return undefined;
}

function unavailable(url: string, err: unknown): CovenantError {
  let reason = err instanceof Error ? err.message || (err as { code?: string }).code || err.name : String(err);
  const password = passwordOf(url);
  // pg does not put the password in its messages today; this keeps it that way.
  if (password !== undefined) reason = reason.split(password).join('***');
  return new CovenantError('store-unavailable', `PostgreSQL at ${endpointOf(url)} is unavailable: ${reason}`, {
    cause: err,
  });
}

export async function openPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  const { url } = options;
  const location = redactPostgresUrl(url);

  // Per pool, not pg.types: other pg users in the process keep their own parsing.
  // Counts and sequence numbers stay far below 2^53, so number is exact.
  const types = new pg.TypeOverrides();
  types.setTypeParser(INT8_OID, 'text', (value: string) => Number(value));

  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize ?? DEFAULT_POOL_SIZE,
    types,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
    application_name: 'covenant',
  });
  // A client whose server connection drops emits 'error', and an unhandled 'error' event
  // kills the process. When idle, the pool discards it and re-emits the error on itself;
  // when checked out (a transaction, a failover, idle_in_transaction_session_timeout), the
  // error also fails its pending and next queries, which is where it is handled, and the
  // pool discards the client when it comes back. So both listeners only keep the process
  // alive; the next query gets a fresh connection or fails with store-unavailable.
  pool.on('error', () => {});
  pool.on('connect', (client) => client.on('error', () => {}));

  const health = new StoreHealth();
  const translate = (err: unknown): unknown => {
    if (isCovenantError(err)) return err;
    const condition = conditionOf(err);
    return condition === undefined ? err : health.fail(condition, err);
  };
  const db = new Kysely<Schema>({ dialect: guardDialect(new PostgresDialect({ pool }), translate) });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= (async () => {
      try {
        await db.destroy();
      } finally {
        // kysely only ends a pool it has initialised.
        if (!pool.ended) await pool.end();
      }
    })();
    return closed;
  };

  try {
    await sql`select 1`.execute(db);
  } catch (err) {
    await close().catch(() => {});
    // At start the operator needs the endpoint and the driver's reason.
    throw unavailable(url, err instanceof StoreUnavailable ? err.cause : err);
  }

  const store: Store = {
    kind: 'postgres',
    location,
    db,
    health,
    async writeTransaction<T>(tenant: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
      try {
        // Must stay READ COMMITTED: each statement then sees what the previous lock holder
        // committed. Under REPEATABLE READ the snapshot would predate the lock wait.
        const result = await db.transaction().execute(async (tx) => {
          await sql`select pg_advisory_xact_lock(${ledgerLockKey(tenant)}::bigint)`.execute(tx);
          return health.within(() => fn(tx));
        });
        health.wrote();
        return result;
      } catch (err) {
        throw translate(err);
      }
    },
    async insertLedgerRows(tx, tenant, entries, nodes): Promise<void> {
      // One statement per table whatever the batch size: arrays travel as parameters.
      if (entries.length > 0) {
        await sql`insert into ledger_entries (tenant, seq, type, actor, workload, time, body)
          select ${tenant}, * from unnest(
            ${entries.map((e) => e.seq)}::bigint[], ${entries.map((e) => e.type)}::text[], ${entries.map((e) => e.actor)}::text[],
            ${entries.map((e) => e.workload)}::text[], ${entries.map((e) => e.time)}::text[], ${entries.map((e) => Buffer.from(e.body))}::bytea[])`.execute(tx);
      }
      if (nodes.length > 0) {
        await sql`insert into ledger_nodes (tenant, level, idx, hash)
          select ${tenant}, * from unnest(${nodes.map((n) => n.level)}::bigint[], ${nodes.map((n) => n.idx)}::bigint[], ${nodes.map((n) => Buffer.from(n.hash))}::bytea[])`.execute(tx);
      }
    },
    async ping(): Promise<void> {
      await sql`select 1`.execute(db);
      health.answered();
    },
    close,
  };
  return store;
}
