/**
 * A PostgreSQL session that ends under a checked-out client (an operator's
 * pg_terminate_backend, a failover, the server's own idle_in_transaction_session_timeout)
 * must fail only the work on that session, typed and retryable, and never take the
 * process down: pg emits 'error' on such a client, which kills the process unless
 * something listens.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CovenantError } from '../../src/core/errors.js';
import { postgresBackend, PG_BASE_URL, type BackendInstance } from './backends.js';

async function admin(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: PG_BASE_URL });
  client.on('error', () => {});
  await client.connect();
  return client;
}

/** Waits until the server has ended backend `pid` (it has then sent its FATAL message). */
async function untilGone(client: pg.Client, pid: number): Promise<void> {
  for (;;) {
    const { rowCount } = await client.query('select 1 from pg_stat_activity where pid = $1', [pid]);
    if (rowCount === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function heads(instance: BackendInstance): Promise<string[]> {
  const rows = await instance.store.db.selectFrom('ledger_heads').select('tenant').orderBy('tenant').execute();
  return rows.map((row) => row.tenant);
}

describe('[postgres] a session ended under a write transaction', () => {
  let instance: BackendInstance;
  let client: pg.Client;
  beforeEach(async () => {
    instance = await postgresBackend.create();
    client = await admin();
  });
  afterEach(async () => {
    await client.end();
    await instance.destroy();
  });

  const ends: [string, (tx: Parameters<Parameters<BackendInstance['store']['writeTransaction']>[1]>[0], pid: number) => Promise<void>][] = [
    ['pg_terminate_backend', async (_tx, pid) => void (await client.query('select pg_terminate_backend($1)', [pid]))],
    // The server's own timeout takes the same path; shortened here for this one transaction.
    ['idle_in_transaction_session_timeout', async (tx) => void (await sql`set local idle_in_transaction_session_timeout = '50ms'`.execute(tx))],
  ];

  it.each(ends)('%s: the transaction fails with store-unavailable, nothing of it is kept, the next one succeeds', async (_name, end) => {
    const err = await instance.store
      .writeTransaction('lost', async (tx) => {
        await tx.insertInto('ledger_heads').values({ tenant: 'lost', size: 1, root: Buffer.alloc(32) }).execute();
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(tx);
        const pid = rows[0]!.pid;
        await end(tx, pid);
        await untilGone(client, pid);
        await tx.selectFrom('ledger_heads').select('size').execute();
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(CovenantError);
    expect((err as CovenantError).type).toBe('store-unavailable');
    expect((err as CovenantError).status).toBe(503);

    // The pool replaced the dead session.
    await instance.store.writeTransaction('kept', (tx) =>
      tx.insertInto('ledger_heads').values({ tenant: 'kept', size: 1, root: Buffer.alloc(32) }).execute(),
    );
    expect(await heads(instance)).toEqual(['kept']);
  });

  it('a read on a checked-out session that was ended fails with store-unavailable', async () => {
    const err = await instance.store.db
      .connection()
      .execute(async (db) => {
        const { rows } = await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db);
        const pid = rows[0]!.pid;
        await client.query('select pg_terminate_backend($1)', [pid]);
        await untilGone(client, pid);
        return db.selectFrom('tenants').select('id').execute();
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect((err as CovenantError).type).toBe('store-unavailable');
    expect(await heads(instance)).toEqual([]);
  });
});
