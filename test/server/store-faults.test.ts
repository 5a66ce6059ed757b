/**
 * The storage failing under a running server (issue 13): a lost PostgreSQL connection,
 * a deleted data directory, a full disk. Each must fail the affected requests with a
 * retryable 503, take the server out of rotation while it lasts, log it once rather than
 * once per request, and lose nothing that was acknowledged.
 */
import fs from 'node:fs';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import type { LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WORKLOAD_CREATED } from '../../src/policy/events.js';
import { PG_BASE_URL, postgresBackend, sqliteBackend } from '../store/backends.js';
import { enc, entries, expectProblem, get, useTestServer, type ServerFixture } from './support.js';

/** Asserts a retryable store-unavailable answer. */
function expectUnavailable(res: LightMyRequestResponse): void {
  expectProblem(res, 503, 'store-unavailable');
  expect(Number(res.headers['retry-after']), res.body).toBeGreaterThan(0);
}

async function createWorkload(fixture: ServerFixture, name: string): Promise<LightMyRequestResponse> {
  return fixture.server.signed('POST', '/v1/workloads', { name });
}

/** Every workload named in `names` exists and has its `workload.created` ledger entry. */
async function expectKept(fixture: ServerFixture, names: readonly string[]): Promise<void> {
  const { app } = fixture.server;
  for (const name of names) expect((await get(app, `/v1/workloads/${enc(name)}`)).statusCode, name).toBe(200);
  const created = new Set((await entries(app, 'limit=1000')).filter((e) => e.type === WORKLOAD_CREATED).map((e) => e.workload));
  for (const name of names) expect(created.has(name), name).toBe(true);
}

describe('[postgres] sessions ended while signed writes are in flight', () => {
  const fixture = useTestServer(postgresBackend);
  let admin: pg.Client;
  beforeEach(async () => {
    admin = new pg.Client({ connectionString: PG_BASE_URL });
    admin.on('error', () => {});
    await admin.connect();
  });
  afterEach(async () => {
    await admin.end();
  });

  /** Ends every session of the server's database but this one, and waits until they are gone. */
  async function terminateAll(database: string): Promise<void> {
    const { rows } = await admin.query<{ pid: number }>(
      'select pid from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
      [database],
    );
    await admin.query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [rows.map((row) => row.pid)]);
    for (;;) {
      const { rowCount } = await admin.query('select 1 from pg_stat_activity where pid = any($1::int[])', [rows.map((row) => row.pid)]);
      if (rowCount === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('fails only the affected requests with 503, keeps every acknowledged write, and reconnects', async () => {
    const f = fixture();
    const database = new URL(f.instance.url!).pathname.slice(1);
    const acknowledged: string[] = [];
    let refused = 0;
    for (let round = 0; round < 4; round++) {
      const names = Array.from({ length: 24 }, (_, i) => `faults/r${round}-${i}`);
      const writes = names.map(async (name, i) => {
        // Stagger the writes across the termination so that some are mid-transaction.
        if (i % 2 === 1) await new Promise((resolve) => setImmediate(resolve));
        return [name, await createWorkload(f, name)] as const;
      });
      const reads = Array.from({ length: 4 }, () => get(f.server.app, '/v1/workloads'));
      const [written, read] = await Promise.all([Promise.all(writes), Promise.all(reads), terminateAll(database)]);
      for (const [name, res] of written) {
        if (res.statusCode === 201) acknowledged.push(name);
        else {
          expectUnavailable(res);
          refused++;
        }
      }
      for (const res of read) if (res.statusCode !== 200) expectUnavailable(res);
    }
    expect(acknowledged.length + refused).toBe(4 * 24);

    // The pool replaced every ended session.
    expect((await createWorkload(f, 'faults/after')).statusCode).toBe(201);
    expect((await get(f.server.app, '/readyz')).statusCode).toBe(200);
    await expectKept(f, [...acknowledged, 'faults/after']);
  });
});

describe('[sqlite] the data directory deleted under a running server', () => {
  const fixture = useTestServer(sqliteBackend);

  it('refuses writes with 503 and fails readiness from then on', async () => {
    const f = fixture();
    expect((await createWorkload(f, 'dir/before')).statusCode).toBe(201);
    expect((await get(f.server.app, '/readyz')).statusCode).toBe(200);

    fs.rmSync(f.instance.dataDir, { recursive: true, force: true });

    for (const name of ['dir/after-1', 'dir/after-2']) {
      const res = await createWorkload(f, name);
      expectUnavailable(res);
      expect(res.json<{ detail: string }>().detail).toMatch(/data directory was deleted or replaced/);
    }
    const ready = await get(f.server.app, '/readyz');
    expectUnavailable(ready);
    expect(ready.json<{ detail: string }>().detail).toMatch(/data directory was deleted or replaced/);

    // A directory re-created at the same path is not this server's: still refused.
    fs.mkdirSync(f.instance.dataDir);
    fs.writeFileSync(`${f.instance.dataDir}/covenant.db`, '');
    expectUnavailable(await createWorkload(f, 'dir/after-3'));
    expectUnavailable(await get(f.server.app, '/readyz'));
  });
});

describe('[sqlite] a full disk', () => {
  const lines: { level: number; msg: string }[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
      done();
    },
  });
  const fixture = useTestServer(sqliteBackend, { logger: { level: 'info', stream: sink } });
  beforeEach(() => {
    lines.length = 0;
  });

  it('refuses writes with 503, fails readiness, logs it once, and recovers without a restart', async () => {
    const f = fixture();
    const { db } = f.instance.store;
    expect((await createWorkload(f, 'disk/before')).statusCode).toBe(201);

    // No page beyond the current ones: SQLite then fails a write that needs a new page
    // with SQLITE_FULL, as on a full disk. Writes still fit until a table's last page fills.
    const { rows } = await sql<{ page_count: number }>`pragma page_count`.execute(db);
    await sql.raw(`pragma max_page_count = ${rows[0]!.page_count}`).execute(db);
    lines.length = 0;
    let fitted = 0;
    for (;;) {
      const res = await createWorkload(f, `disk/fits-${fitted}`);
      if (res.statusCode !== 201) {
        expectUnavailable(res);
        break;
      }
      fitted++;
      expect(fitted).toBeLessThan(1000);
    }

    for (let i = 0; i < 20; i++) expectUnavailable(await createWorkload(f, `disk/full-${i}`));
    const ready = await get(f.server.app, '/readyz');
    expectUnavailable(ready);
    expect(ready.json<{ detail: string }>().detail).toMatch(/disk is full/);
    // One error line for the condition, not one stack per request (or per probe).
    expect(lines.filter((line) => line.level >= 50)).toHaveLength(1);

    await sql.raw('pragma max_page_count = 1073741823').execute(db);
    expect((await createWorkload(f, 'disk/after')).statusCode).toBe(201);
    expect((await get(f.server.app, '/readyz')).statusCode).toBe(200);
    await expectKept(f, ['disk/before', ...Array.from({ length: fitted }, (_, i) => `disk/fits-${i}`), 'disk/after']);
  });
});
