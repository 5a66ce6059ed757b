import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { CovenantError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/index.js';
import type { Store } from '../../src/store/index.js';
import { migrateToLatest } from '../../src/store/migrations.js';
import { createPostgresDatabase, describeEachBackend, useFreshInstance } from './backends.js';

const TABLES = [
  'attachments',
  'attestation_sessions',
  'checkpoints',
  'collateral',
  'constitution',
  'health_signals',
  'instances',
  'ledger_entries',
  'ledger_heads',
  'ledger_nodes',
  'members',
  'policy_versions',
  'proposal_votes',
  'proposals',
  'releases',
  'request_nonces',
  'rollouts',
  'sealing_windows',
  'secret_versions',
  'secrets',
  'tenants',
  'trust_anchors',
  'workloads',
];

const MIGRATIONS = ['0001_foundation', '0002_attestation', '0003_rollouts', '0004_key_broker', '0005_ceremonies', '0006_collateral', '0007_trust_anchors'];

const PRIMARY_KEYS: Record<string, string[]> = {
  tenants: ['id'],
  ledger_entries: ['tenant', 'seq'],
  ledger_nodes: ['tenant', 'level', 'idx'],
  ledger_heads: ['tenant'],
  checkpoints: ['tenant', 'size'],
  workloads: ['tenant', 'name'],
  releases: ['tenant', 'workload', 'version'],
  policy_versions: ['tenant', 'id'],
  members: ['tenant', 'name'],
  request_nonces: ['tenant', 'key_id', 'nonce'],
  instances: ['tenant', 'workload', 'instance'],
  attestation_sessions: ['tenant', 'id'],
  attachments: ['tenant', 'digest'],
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

const SECONDARY_INDEXES: Record<string, string[][]> = {
  ledger_entries: [
    ['tenant', 'type'],
    ['tenant', 'workload'],
  ],
  request_nonces: [['expires_at']],
  attestation_sessions: [['expires_at']],
  attachments: [['expires_at']],
  proposals: [['tenant', 'status']],
};

async function primaryKey(store: Store, table: string): Promise<string[]> {
  if (store.kind === 'sqlite') {
    const { rows } = await sql<{ name: string }>`
      select name from pragma_table_info(${table}) where pk > 0 order by pk`.execute(store.db);
    return rows.map((r) => r.name);
  }
  const { rows } = await sql<{ column_name: string }>`
    select k.column_name
    from information_schema.table_constraints c
    join information_schema.key_column_usage k
      on k.constraint_name = c.constraint_name and k.table_schema = c.table_schema and k.table_name = c.table_name
    where c.table_schema = current_schema() and c.table_name = ${table} and c.constraint_type = 'PRIMARY KEY'
    order by k.ordinal_position`.execute(store.db);
  return rows.map((r) => r.column_name);
}

/** Column lists of the non-unique indexes on `table`. */
async function secondaryIndexes(store: Store, table: string): Promise<string[][]> {
  if (store.kind === 'sqlite') {
    const { rows: indexes } = await sql<{ name: string }>`
      select name from pragma_index_list(${table}) where origin = 'c' and "unique" = 0`.execute(store.db);
    const result: string[][] = [];
    for (const { name } of indexes) {
      const { rows } = await sql<{ name: string }>`select name from pragma_index_info(${name}) order by seqno`.execute(
        store.db,
      );
      result.push(rows.map((r) => r.name));
    }
    return result;
  }
  const { rows } = await sql<{ columns: string[] }>`
    select array_agg(a.attname::text order by k.ord) as columns
    from pg_index i
    join pg_class t on t.oid = i.indrelid
    join pg_namespace n on n.oid = t.relnamespace
    cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
    join pg_attribute a on a.attrelid = t.oid and a.attnum = k.attnum
    where n.nspname = current_schema() and t.relname = ${table} and not i.indisunique
    group by i.indexrelid`.execute(store.db);
  return rows.map((r) => r.columns);
}

function sortLists(lists: string[][]): string[][] {
  return lists.map((l) => l.join(',')).sort().map((l) => l.split(','));
}

describeEachBackend('store', (backend) => {
  const instance = useFreshInstance(backend);

  describe('migrations', () => {
    it('create exactly the schema tables', async () => {
      const { store } = instance();
      const tables = await store.db.introspection.getTables();
      expect(tables.map((t) => t.name).sort()).toEqual(TABLES);
    });

    it('give every table its primary key', async () => {
      const { store } = instance();
      for (const [table, columns] of Object.entries(PRIMARY_KEYS)) {
        expect({ table, pk: await primaryKey(store, table) }).toEqual({ table, pk: columns });
      }
    });

    it('create the secondary indexes', async () => {
      const { store } = instance();
      for (const table of TABLES) {
        const expected = sortLists(SECONDARY_INDEXES[table] ?? []);
        expect({ table, indexes: sortLists(await secondaryIndexes(store, table)) }).toEqual({ table, indexes: expected });
      }
    });

    it('enforce primary keys and unique (tenant, workload, number) on policy_versions', async () => {
      const { store } = instance();
      const entry = { tenant: 't', seq: 0, type: 'x', actor: 'a', workload: null, time: 't0', body: Buffer.from('{}') };
      await store.db.insertInto('ledger_entries').values(entry).execute();
      await expect(store.db.insertInto('ledger_entries').values(entry).execute()).rejects.toThrow();

      const policy = {
        tenant: 't',
        workload: 'w',
        number: 1,
        predecessor: null,
        actor: 'a',
        reason: 'r',
        created_at: 't0',
        doc: '{}',
      };
      await store.db.insertInto('policy_versions').values({ ...policy, id: 'p1' }).execute();
      await expect(store.db.insertInto('policy_versions').values({ ...policy, id: 'p2' }).execute()).rejects.toThrow();
      await store.db.insertInto('policy_versions').values({ ...policy, id: 'p2', number: 2 }).execute();
    });

    it('are idempotent: reopening applies nothing and keeps the data', async () => {
      const inst = instance();
      await inst.store.db.insertInto('tenants').values({ id: 't', origin: 'o', log_vkey: 'k', created_at: 't0' }).execute();
      await inst.store.close();

      const reopened = await inst.open();
      expect(await migrateToLatest(reopened.db, reopened.kind)).toEqual([]);
      const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(reopened.db);
      expect(applied.rows.map((r) => r.name)).toEqual(MIGRATIONS);
      expect((await reopened.db.introspection.getTables()).map((t) => t.name).sort()).toEqual(TABLES);
      expect(await reopened.db.selectFrom('tenants').selectAll().execute()).toEqual([
        { id: 't', origin: 'o', log_vkey: 'k', created_at: 't0' },
      ]);
    });
  });

  describe('values', () => {
    it('round-trip bytes exactly, including 0x00 and 0xff', async () => {
      const { store } = instance();
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      const edges = new Uint8Array([0x00, 0x00, 0xff, 0x00, 0xff, 0xff]);
      // A view into a larger buffer: only the viewed bytes may be stored.
      const backing = new Uint8Array([0xaa, 0x00, 0xff, 0x01, 0xbb]);
      const view = backing.subarray(1, 4);
      const cases = [all, edges, view, Buffer.from([0xff]), new Uint8Array(0)];

      await store.db
        .insertInto('ledger_nodes')
        .values(cases.map((hash, idx) => ({ tenant: 't', level: 0, idx, hash })))
        .execute();
      const rows = await store.db.selectFrom('ledger_nodes').selectAll().orderBy('idx').execute();

      expect(rows).toHaveLength(cases.length);
      for (const [i, row] of rows.entries()) {
        expect(row.hash).toBeInstanceOf(Uint8Array);
        expect(Buffer.from(row.hash).toString('hex')).toBe(Buffer.from(cases[i]!).toString('hex'));
      }
    });

    it('return integers as numbers, beyond 2^32 and up to 2^53-1', async () => {
      const { store } = instance();
      const seqs = [0, 1, 2 ** 31, 2 ** 32 + 1, 2 ** 40 + 5, Number.MAX_SAFE_INTEGER];
      await store.db
        .insertInto('ledger_entries')
        .values(
          seqs.map((seq) => ({ tenant: 't', seq, type: 'x', actor: 'a', workload: 'w', time: 't0', body: Buffer.of(1) })),
        )
        .execute();
      const rows = await store.db.selectFrom('ledger_entries').select('seq').orderBy('seq').execute();
      expect(rows.map((r) => r.seq)).toEqual(seqs);
      for (const { seq } of rows) expect(typeof seq).toBe('number');

      const count = await store.db
        .selectFrom('ledger_entries')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .executeTakeFirstOrThrow();
      expect(count.n).toBe(seqs.length);
    });

    it('round-trip text and null', async () => {
      const { store } = instance();
      const texts = ['', 'plain', "quote ' \" \\ back", 'line\nbreak\ttab', 'ünïcødé ✓ 🔐 中文', 'x'.repeat(100_000)];
      await store.db
        .insertInto('members')
        .values(
          texts.map((public_key, i) => ({
            tenant: 't',
            name: `m${i}`,
            public_key,
            alg: 'ed25519',
            roles: '["admin"]',
            status: 'active',
            created_at: '2025-01-01T00:00:00.000Z',
          })),
        )
        .execute();
      const rows = await store.db.selectFrom('members').select(['name', 'public_key']).execute();
      const byName = new Map(rows.map((r) => [r.name, r.public_key]));
      texts.forEach((text, i) => expect(byName.get(`m${i}`)).toBe(text));

      await store.db
        .insertInto('ledger_entries')
        .values({ tenant: 't', seq: 0, type: 'x', actor: 'a', workload: null, time: 't0', body: Buffer.of(0) })
        .execute();
      const entry = await store.db.selectFrom('ledger_entries').select('workload').executeTakeFirstOrThrow();
      expect(entry.workload).toBeNull();
    });
  });

  describe('writeTransaction', () => {
    const head = (size: number) => ({ tenant: 't', size, root: Buffer.alloc(32, size) });

    it('commits when fn resolves and returns its value', async () => {
      const { store } = instance();
      const result = await store.writeTransaction('t', async (tx) => {
        await tx.insertInto('ledger_heads').values(head(1)).execute();
        return 'done';
      });
      expect(result).toBe('done');
      const row = await store.db.selectFrom('ledger_heads').selectAll().executeTakeFirstOrThrow();
      expect(row.size).toBe(1);
    });

    it('rolls back when fn throws and rethrows the same error', async () => {
      const { store } = instance();
      await store.db.insertInto('ledger_heads').values(head(1)).execute();
      const boom = new CovenantError('conflict', 'boom');
      await expect(
        store.writeTransaction('t', async (tx) => {
          await tx.updateTable('ledger_heads').set({ size: 2 }).where('tenant', '=', 't').execute();
          await tx.insertInto('tenants').values({ id: 't', origin: 'o', log_vkey: 'k', created_at: 't0' }).execute();
          throw boom;
        }),
      ).rejects.toBe(boom);
      expect(await store.db.selectFrom('ledger_heads').select('size').executeTakeFirstOrThrow()).toEqual({ size: 1 });
      expect(await store.db.selectFrom('tenants').selectAll().execute()).toEqual([]);
    });

    it('rolls back when a statement fails', async () => {
      const { store } = instance();
      await expect(
        store.writeTransaction('t', async (tx) => {
          await tx.insertInto('ledger_heads').values(head(1)).execute();
          await tx.insertInto('ledger_heads').values(head(2)).execute();
        }),
      ).rejects.toThrow();
      expect(await store.db.selectFrom('ledger_heads').selectAll().execute()).toEqual([]);
      // The store stays usable after a failed transaction.
      await store.writeTransaction('t', (tx) => tx.insertInto('ledger_heads').values(head(3)).execute());
      await store.ping();
    });

    it(
      backend.name === 'postgres'
        ? 'serialises one tenant across two replicas: 50 concurrent increments give 50'
        : 'serialises one tenant: 50 concurrent increments give 50',
      async () => {
        const inst = instance();
        await inst.store.db.insertInto('ledger_heads').values(head(0)).execute();
        // PostgreSQL: a second Store on the same database stands in for a second replica.
        const stores = backend.name === 'postgres' ? [inst.store, await inst.open()] : [inst.store];

        const increment = (store: Store) =>
          store.writeTransaction('t', async (tx) => {
            const { size } = await tx
              .selectFrom('ledger_heads')
              .select('size')
              .where('tenant', '=', 't')
              .executeTakeFirstOrThrow();
            // Yield between read and write so an unserialised interleaving would show up.
            await new Promise((resolve) => setTimeout(resolve, 1));
            await tx.updateTable('ledger_heads').set({ size: size + 1 }).where('tenant', '=', 't').execute();
          });
        await Promise.all(Array.from({ length: 50 }, (_, i) => increment(stores[i % stores.length]!)));

        const { size } = await inst.store.db.selectFrom('ledger_heads').select('size').executeTakeFirstOrThrow();
        expect(size).toBe(50);
      },
    );
  });

  it('ping resolves and close is idempotent', async () => {
    const { store } = instance();
    await store.ping();
    await store.close();
    await store.close();
  });
});

describeEachBackend('store location', (backend) => {
  const instance = useFreshInstance(backend);

  it('names the database without credentials', async () => {
    const { store, dataDir, url } = instance();
    expect(store.kind).toBe(backend.name);
    if (backend.name === 'sqlite') {
      expect(store.location).toBe(path.join(dataDir, 'covenant.db'));
    } else {
      const parsed = new URL(url!);
      expect(store.location).toContain(parsed.pathname);
      if (parsed.password !== '') expect(store.location).not.toContain(parsed.password);
    }
  });
});

describe('[postgres] replicas', () => {
  it('several replicas starting at once on a fresh database migrate it exactly once', async () => {
    const database = await createPostgresDatabase();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'covenant-store-'));
    const opened: Store[] = [];
    try {
      const results = await Promise.allSettled(
        Array.from({ length: 5 }, () => openStore({ dataDir, storeUrl: database.url, poolSize: 2 })),
      );
      for (const r of results) if (r.status === 'fulfilled') opened.push(r.value);
      expect(results.filter((r) => r.status === 'rejected')).toEqual([]);

      const store = opened[0]!;
      const applied = await sql<{ name: string }>`select name from kysely_migration`.execute(store.db);
      expect(applied.rows.map((r) => r.name)).toEqual(MIGRATIONS);
      expect((await store.db.introspection.getTables()).map((t) => t.name).sort()).toEqual(TABLES);
    } finally {
      await Promise.allSettled(opened.map((s) => s.close()));
      fs.rmSync(dataDir, { recursive: true, force: true });
      await database.drop();
    }
  });

  it('different tenants do not wait for each other', async () => {
    const database = await createPostgresDatabase();
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'covenant-store-'));
    const store = await openStore({ dataDir, storeUrl: database.url, poolSize: 4 });
    try {
      let releaseA!: () => void;
      const aHolding = new Promise<void>((resolve) => (releaseA = resolve));
      let aStarted!: () => void;
      const aIn = new Promise<void>((resolve) => (aStarted = resolve));
      const a = store.writeTransaction('tenant-a', async () => {
        aStarted();
        await aHolding;
      });
      await aIn;
      // Would hang until the test timeout if tenant-b needed tenant-a's lock.
      await store.writeTransaction('tenant-b', (tx) =>
        tx.insertInto('ledger_heads').values({ tenant: 'tenant-b', size: 1, root: Buffer.alloc(32) }).execute(),
      );
      releaseA();
      await a;
    } finally {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
      await database.drop();
    }
  });
});

describe('[sqlite] specifics', () => {
  it('creates the data directory 0700 and opens covenant.db in WAL mode with synchronous=FULL and foreign keys', async () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'covenant-store-'));
    const dataDir = path.join(parent, 'nested', 'data');
    const store = await openStore({ dataDir });
    try {
      expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      expect(fs.existsSync(path.join(dataDir, 'covenant.db'))).toBe(true);
      const pragma = async (name: string) =>
        Object.values((await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(store.db)).rows[0] ?? {})[0];
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('synchronous')).toBe(2);
      expect(await pragma('foreign_keys')).toBe(1);
      expect(await pragma('busy_timeout')).toBeGreaterThan(0);
    } finally {
      await store.close();
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  it('rejects a value of the wrong type, as PostgreSQL does', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'covenant-store-'));
    const store = await openStore({ dataDir });
    try {
      await expect(
        sql`insert into ledger_heads (tenant, size, root) values ('t', 'not a number', x'00')`.execute(store.db),
      ).rejects.toThrow();
    } finally {
      await store.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('openStore', () => {
  it.each(['mysql://user:hunter2@db.example/covenant', 'sqlite:///tmp/x.db', 'not a url hunter2'])(
    'rejects %s with bad-request and without echoing the URL',
    async (storeUrl) => {
      const err = await openStore({ dataDir: os.tmpdir(), storeUrl }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CovenantError);
      expect((err as CovenantError).type).toBe('bad-request');
      expect((err as CovenantError).message).not.toContain('hunter2');
    },
  );
});
