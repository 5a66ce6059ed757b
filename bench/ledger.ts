/**
 * Ledger append throughput (group commit) beside the same store's raw single-row
 * insert rate: one durable commit per row, through the same driver, same row size.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import type { ControlPlane } from '../src/app/control-plane.js';
import type { NewEntry } from '../src/ledger/entry.js';
import { openStore, type Store, type StoreKind } from '../src/store/index.js';
import {
  BENCH_TENANT,
  benchEntry,
  benchPlane,
  benchRow,
  collectGarbage,
  createScratchDatabase,
  interleave,
  median,
  msSince,
  now,
  tempDir,
  type Interleaved,
} from './support.js';

export const APPEND_GOALS: Readonly<Record<StoreKind, number>> = { sqlite: 20_000, postgres: 5_000 };

export interface AppendOptions {
  /** Single-entry appends per round. */
  readonly appends: number;
  /** Appends outstanding at any moment. */
  readonly inFlight: number;
  /** Raw inserts per round, at most… */
  readonly rawRows: number;
  /** …and for at most this long. */
  readonly rawMaxMs: number;
  /** Baseline/subject pairs; the figures are their medians. */
  readonly rounds: number;
}

export interface AppendFigures {
  readonly store: StoreKind;
  /** Median ledger appends per second. */
  readonly appendsPerSec: number;
  /** Median raw single-row inserts per second. */
  readonly rawInsertsPerSec: number;
  readonly ratio: number;
  readonly goalPerSec: number;
  readonly met: boolean;
  /** Every round: baseline = raw inserts/s, subject = appends/s. */
  readonly rounds: Interleaved;
  /** Mean appends sharing one transaction over the measured rounds. */
  readonly meanBatch: number;
  readonly options: AppendOptions;
}

/** The scratch table a raw-insert baseline writes to, one autocommit statement per row. */
export interface RawTable {
  insert(seq: number): Promise<void>;
  close(): Promise<void>;
}

const SCRATCH_COLUMNS = 'tenant, seq, type, actor, workload, time, body';

function scratchDdl(int: string, bytes: string, suffix = ''): string {
  return `create table scratch (tenant text not null, seq ${int} not null, type text not null, actor text not null,
    workload text, time text not null, body ${bytes} not null, primary key (tenant, seq))${suffix}`;
}

/** better-sqlite3 directly, with the store's pragmas (WAL, synchronous = FULL). */
export function openRawSqlite(file: string): RawTable {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(scratchDdl('integer', 'blob', ' strict'));
  const insert = db.prepare(`insert into scratch (${SCRATCH_COLUMNS}) values (?, ?, ?, ?, ?, ?, ?)`);
  return {
    insert(seq) {
      const row = benchRow(seq, new Date().toISOString());
      insert.run(BENCH_TENANT, row.seq, row.type, row.actor, row.workload, row.time, row.body);
      return Promise.resolve();
    },
    close() {
      db.close();
      return Promise.resolve();
    },
  };
}

/** `pg` directly: one client, one parameterised autocommit INSERT per row. */
export async function openRawPostgres(url: string): Promise<RawTable> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {});
  await client.connect();
  await client.query(scratchDdl('bigint', 'bytea'));
  const text = `insert into scratch (${SCRATCH_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7)`;
  return {
    async insert(seq) {
      const row = benchRow(seq, new Date().toISOString());
      await client.query(text, [BENCH_TENANT, row.seq, row.type, row.actor, row.workload, row.time, row.body]);
    },
    close: () => client.end(),
  };
}

/** Raw inserts per second: sequential single-row inserts until `rows` or `maxMs`. */
export async function measureRawInserts(table: RawTable, firstSeq: number, rows: number, maxMs: number): Promise<{ rate: number; rows: number }> {
  collectGarbage();
  const start = now();
  let done = 0;
  while (done < rows && (done === 0 || msSince(start) < maxMs)) {
    await table.insert(firstSeq + done);
    done++;
  }
  return { rate: done / (msSince(start) / 1000), rows: done };
}

/** Ledger appends per second: `entries.length` single-entry appends, `inFlight` at a time. */
export async function measureAppends(cp: ControlPlane, entries: readonly NewEntry[], inFlight: number): Promise<number> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < entries.length) {
      const entry = entries[next++] as NewEntry;
      await cp.committer.append(BENCH_TENANT, [entry]);
    }
  };
  collectGarbage();
  const start = now();
  await Promise.all(Array.from({ length: Math.min(inFlight, entries.length) }, worker));
  return entries.length / (msSince(start) / 1000);
}

/** Interleaves raw inserts and ledger appends on one store and checks the ledger grew as asked. */
async function compareAppends(store: Store, raw: RawTable, options: AppendOptions): Promise<AppendFigures> {
  let transactions = 0;
  const cp = benchPlane(store, () => {
    transactions++;
  });
  const entries = Array.from({ length: options.appends }, (_, i) => benchEntry(i));
  let rawSeq = 0;
  const rawRound = async (rows: number): Promise<number> => {
    const { rate, rows: done } = await measureRawInserts(raw, rawSeq, rows, options.rawMaxMs);
    rawSeq += done;
    return rate;
  };

  // Warm-up (JIT, connections, the tenant's head row), not reported.
  const warm = entries.slice(0, Math.min(1000, entries.length));
  await measureAppends(cp, warm, options.inFlight);
  await rawRound(Math.min(200, options.rawRows));
  transactions = 0;

  const rounds = await interleave(
    options.rounds,
    () => rawRound(options.rawRows),
    () => measureAppends(cp, entries, options.inFlight),
  );

  const expected = warm.length + options.rounds * entries.length;
  const head = await cp.ledger.head(BENCH_TENANT);
  if (head.size !== expected) throw new Error(`${store.kind}: ledger holds ${head.size} entries, expected ${expected}`);

  const appendsPerSec = median(rounds.subject);
  const rawInsertsPerSec = median(rounds.baseline);
  const goalPerSec = APPEND_GOALS[store.kind];
  return {
    store: store.kind,
    appendsPerSec,
    rawInsertsPerSec,
    ratio: appendsPerSec / rawInsertsPerSec,
    goalPerSec,
    met: appendsPerSec >= goalPerSec,
    rounds,
    meanBatch: (options.rounds * entries.length) / Math.max(1, transactions),
    options,
  };
}

export async function benchSqliteAppends(options: AppendOptions): Promise<AppendFigures> {
  const dir = await tempDir('sqlite');
  try {
    const store = await openStore({ dataDir: dir });
    // Same directory, so the same filesystem and fsync cost as the store's database.
    const raw = openRawSqlite(path.join(dir, 'raw-baseline.db'));
    try {
      return await compareAppends(store, raw, options);
    } finally {
      await raw.close();
      await store.close();
    }
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

export async function benchPostgresAppends(baseUrl: string, options: AppendOptions): Promise<AppendFigures> {
  const database = await createScratchDatabase(baseUrl);
  try {
    // dataDir is required by openStore but unused by PostgreSQL.
    const store = await openStore({ dataDir: os.tmpdir(), storeUrl: database.url });
    try {
      const raw = await openRawPostgres(database.url);
      try {
        return await compareAppends(store, raw, options);
      } finally {
        await raw.close();
      }
    } finally {
      await store.close();
    }
  } finally {
    await database.drop();
  }
}
