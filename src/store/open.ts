import { CovenantError } from '../core/errors.js';
import { migrateToLatest } from './migrations.js';
import { openPostgresStore } from './postgres.js';
import { openSqliteStore } from './sqlite.js';
import type { Store } from './store.js';

export interface OpenStoreOptions {
  /** The data directory; holds the SQLite database when no `storeUrl` is given. */
  dataDir: string;
  /** `postgres://…` / `postgresql://…` selects PostgreSQL; absent or empty selects SQLite. */
  storeUrl?: string;
  /** PostgreSQL connections per process. */
  poolSize?: number;
}

/** Opens the configured backend and brings its schema up to date before handing it out. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const store = await openBackend(options);
  try {
    await migrateToLatest(store.db, store.kind);
  } catch (err) {
    await store.close().catch(() => {});
    throw err;
  }
  return store;
}

function openBackend(options: OpenStoreOptions): Promise<Store> {
  const url = options.storeUrl?.trim();
  if (url === undefined || url === '') return openSqliteStore({ dataDir: options.dataDir });
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'postgres' || scheme === 'postgresql') {
    return openPostgresStore({ url, ...(options.poolSize === undefined ? {} : { poolSize: options.poolSize }) });
  }
  // Only the scheme is echoed: the rest of a URL may carry credentials.
  return Promise.reject(
    new CovenantError(
      'bad-request',
      scheme === undefined
        ? 'store URL must start with postgres:// or postgresql:// (omit it to use SQLite in the data directory)'
        : `unsupported store URL scheme "${scheme}:"; use postgres:// or postgresql:// (omit it to use SQLite in the data directory)`,
    ),
  );
}
