/**
 * Conformance harness: every store test in the project runs once per backend through
 * `describeEachBackend`, so SQLite and PostgreSQL are held to the same behaviour.
 *
 * PostgreSQL is mandatory, never skipped: a suite that silently drops a backend would
 * report green while half the product is untested. The server comes from
 * COVENANT_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres); every
 * instance gets a database of its own, dropped again by destroy().
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, beforeEach, describe } from 'vitest';
import { openStore } from '../../src/store/index.js';
import type { Store, StoreKind } from '../../src/store/index.js';

export const PG_BASE_URL = process.env['COVENANT_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface BackendInstance {
  /** A migrated store, opened through openStore as the server would. */
  readonly store: Store;
  /** A fresh temporary data directory (the SQLite files live here; PostgreSQL gets one too). */
  readonly dataDir: string;
  /** PostgreSQL only: URL of this instance's own database. */
  readonly url?: string;
  /**
   * Opens one more store on the same storage, as a restart or another replica would.
   * On SQLite the data-directory lock allows this only once the other stores are closed.
   */
  open(): Promise<Store>;
  /** Closes every store opened here and deletes the storage. */
  destroy(): Promise<void>;
}

export interface BackendFactory {
  readonly name: StoreKind;
  create(): Promise<BackendInstance>;
}

/** Small pools: test files run in parallel against one server with max_connections 100. */
const TEST_POOL_SIZE = 4;

async function tempDataDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'covenant-store-'));
}

function instance(dataDir: string, url: string | undefined, first: Store, cleanup: () => Promise<void>): BackendInstance {
  const opened: Store[] = [first];
  return {
    store: first,
    dataDir,
    ...(url === undefined ? {} : { url }),
    async open() {
      const store = await openStore({
        dataDir,
        ...(url === undefined ? {} : { storeUrl: url, poolSize: TEST_POOL_SIZE }),
      });
      opened.push(store);
      return store;
    },
    async destroy() {
      await Promise.allSettled(opened.map((s) => s.close()));
      await cleanup();
    },
  };
}

function withDatabase(baseUrl: string, database: string): string {
  const url = new URL(baseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

function describeBaseUrl(): string {
  const url = new URL(PG_BASE_URL);
  url.password = '';
  return url.toString();
}

async function adminClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: PG_BASE_URL, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    const reason = err instanceof Error ? err.message || String((err as { code?: unknown }).code) : String(err);
    throw new Error(
      `PostgreSQL is required by the store conformance suite but ${describeBaseUrl()} is not reachable (${reason}). ` +
        'Start PostgreSQL or point COVENANT_TEST_PG_URL at one; these tests never skip.',
      { cause: err },
    );
  }
  return client;
}

/** A new empty database on the test server, for tests that must see it before any migration. */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `covenant_test_${process.pid}_${randomBytes(6).toString('hex')}`;
  const admin = await adminClient();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(PG_BASE_URL, name),
    async drop() {
      const client = await adminClient();
      try {
        await client.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

export const sqliteBackend: BackendFactory = {
  name: 'sqlite',
  async create() {
    const dataDir = await tempDataDir();
    try {
      const store = await openStore({ dataDir });
      return instance(dataDir, undefined, store, () => fs.rm(dataDir, { recursive: true, force: true }));
    } catch (err) {
      await fs.rm(dataDir, { recursive: true, force: true });
      throw err;
    }
  },
};

export const postgresBackend: BackendFactory = {
  name: 'postgres',
  async create() {
    const database = await createPostgresDatabase();
    const dataDir = await tempDataDir();
    const cleanup = async () => {
      await fs.rm(dataDir, { recursive: true, force: true });
      await database.drop();
    };
    try {
      const store = await openStore({ dataDir, storeUrl: database.url, poolSize: TEST_POOL_SIZE });
      return instance(dataDir, database.url, store, cleanup);
    } catch (err) {
      await cleanup();
      throw err;
    }
  },
};

export const backends: BackendFactory[] = [sqliteBackend, postgresBackend];

/**
 * `describe` once per backend, titled `[sqlite] <title>` / `[postgres] <title>`. `fn`
 * receives the factory; call `create()` in a hook or test and `destroy()` afterwards.
 */
export function describeEachBackend(title: string, fn: (backend: BackendFactory) => void): void {
  // A loop rather than describe.each: each's `$name` interpolation quotes strings.
  for (const backend of backends) describe(`[${backend.name}] ${title}`, () => fn(backend));
}

/**
 * A fresh instance per test: created in `beforeEach`, destroyed in `afterEach`. Call it
 * inside the `describeEachBackend` callback and read the getter inside tests.
 */
export function useFreshInstance(backend: BackendFactory): () => BackendInstance {
  let current: BackendInstance | undefined;
  beforeEach(async () => {
    current = await backend.create();
  });
  afterEach(async () => {
    const done = current;
    current = undefined;
    await done?.destroy();
  });
  return () => {
    if (current === undefined) throw new Error('useFreshInstance: no instance outside a test');
    return current;
  };
}
