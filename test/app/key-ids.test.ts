/**
 * The key broker's key ids in the tenant's ledger: recorded with the tenant, or at the
 * first start of a tenant created before the record existed; checked at every start.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { keyIdsProblem } from '../../src/app/key-ids.js';
import { ControlPlane } from '../../src/app/control-plane.js';
import { createTenantKeys, loadTenantKeys } from '../../src/app/tenant-keys.js';
import { createTenant } from '../../src/ceremony/members.js';
import { LedgerReader } from '../../src/ledger/ledger.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { openStore } from '../../src/store/index.js';
import { asyncRejection } from '../support/errors.js';
import { newMember, testServeOptions } from '../support/control-plane.js';
import { createPostgresDatabase } from '../store/backends.js';

const TENANT = 'default';
const admin = newMember('admin');
const admins = [{ name: admin.name, publicKey: admin.publicKey, alg: admin.alg, roles: ['admin'] }];

interface Storage {
  readonly dataDir: string;
  readonly storeUrl?: string;
  destroy(): Promise<void>;
}

const storages = {
  sqlite: async (): Promise<Storage> => {
    const dataDir = await mkdtemp(join(tmpdir(), 'covenant-key-ids-'));
    return { dataDir, destroy: () => rm(dataDir, { recursive: true, force: true }) };
  },
  postgres: async (): Promise<Storage> => {
    const dataDir = await mkdtemp(join(tmpdir(), 'covenant-key-ids-'));
    const database = await createPostgresDatabase();
    return {
      dataDir,
      storeUrl: database.url,
      async destroy() {
        await database.drop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  },
};

describe.each(['sqlite', 'postgres'] as const)('key broker key ids (%s)', (backend) => {
  let storage: Storage;
  const keyFile = (name: string) => join(storage.dataDir, 'keys', TENANT, name);
  const start = (): Promise<RunningServer> =>
    startServer(testServeOptions(storage.dataDir, { tenant: TENANT, ...(storage.storeUrl === undefined ? {} : { storeUrl: storage.storeUrl }) }));
  const recorded = async (server: RunningServer) => (await new LedgerReader(server.store.db).entries(TENANT, { type: 'tenant.keys-recorded', limit: 10 })).map((e) => [e.seq, e.actor, e.payload]);
  const restart = async (check: (server: RunningServer) => Promise<void>) => {
    const server = await start();
    try {
      await check(server);
    } finally {
      await server.close();
    }
  };

  beforeEach(async () => {
    storage = await storages[backend]();
  });
  afterEach(async () => {
    await storage.destroy();
  });

  it('are recorded with the tenant, and a start with other or missing key files refuses, creating nothing', async () => {
    await createTenantKeys(storage.dataDir, TENANT, 'covenant/default', admins);
    let ids: unknown;
    await restart(async (server) => {
      const entries = await recorded(server);
      // In the tenant's first transaction, after tenant.created and the bootstrap admin.
      expect(entries).toEqual([[2, 'system:bootstrap', { kek: expect.stringMatching(/^file:[0-9a-f]{16}$/) as unknown, sealing: expect.stringMatching(/^sealing:[0-9a-f]{16}$/) as unknown }]]);
      ids = entries[0]![2];
    });
    // Restarts with the same files record nothing more.
    await restart(async (server) => expect((await recorded(server)).map((e) => e[2])).toEqual([ids]));

    const sealing = await readFile(keyFile('sealing.key'), 'utf8');
    await writeFile(keyFile('sealing.key'), randomBytes(32).toString('base64'));
    const other = await asyncRejection(start());
    expect(other.type).toBe('conflict');
    expect(other.message).toBe(
      `this server's sealing.key is ${/sealing:[0-9a-f]{16}/.exec(other.message)![0]}, tenant default's is ${(ids as { sealing: string }).sealing}; copy keys/default/ from the data directory the tenant was initialised in (or its backup) to ${join(storage.dataDir, 'keys', TENANT)}`,
    );
    await writeFile(keyFile('sealing.key'), sealing);

    await unlink(keyFile('kek.key'));
    const missing = await asyncRejection(start());
    expect(missing.type).toBe('conflict');
    expect(missing.message).toMatch(new RegExp(`^this server has no ${keyFile('kek.key')}, tenant default's is ${(ids as { kek: string }).kek}; copy keys/default/ `));
    // A recorded key is never replaced by a new one.
    await expect(access(keyFile('kek.key'))).rejects.toThrow(/ENOENT/);
  });

  it('are recorded at the first start of a tenant created before the record existed (an upgrade), once', async () => {
    // A data directory from before init made the key broker's files, and its tenant.
    await createTenantKeys(storage.dataDir, TENANT, 'covenant/default', admins);
    await unlink(keyFile('kek.key'));
    await unlink(keyFile('sealing.key'));
    const store = await openStore({ dataDir: storage.dataDir, ...(storage.storeUrl === undefined ? {} : { storeUrl: storage.storeUrl }) });
    try {
      const log = (await loadTenantKeys(storage.dataDir, TENANT)).log;
      await new ControlPlane({ store, clock: () => new Date(), logKey: () => log }).execute(TENANT, createTenant({ origin: log.origin, logVkey: log.vkey }, admins));
    } finally {
      await store.close();
    }

    let first: unknown;
    await restart(async (server) => {
      const entries = await recorded(server);
      expect(entries.map((e) => [e[0], e[1]])).toEqual([[2, 'system:bootstrap']]);
      first = entries[0]![2];
    });
    await restart(async (server) => expect((await recorded(server)).map((e) => e[2])).toEqual([first]));
  });
});

describe('the key ids check', () => {
  const recorded = { kek: 'file:1111111111111111', sealing: 'sealing:2222222222222222' };

  it('names the first differing file, this server’s id, the tenant’s and the fix', () => {
    expect(keyIdsProblem(recorded, recorded, '/srv/r2', 'acme')).toBeUndefined();
    expect(keyIdsProblem(recorded, { ...recorded, kek: 'file:3333333333333333' }, '/srv/r2', 'acme')).toBe(
      "this server's kek.key is file:3333333333333333, tenant acme's is file:1111111111111111; copy keys/acme/ from the data directory the tenant was initialised in (or its backup) to /srv/r2/keys/acme",
    );
    expect(keyIdsProblem(recorded, { ...recorded, sealing: 'sealing:4444444444444444' }, '/srv/r2', 'acme')).toMatch(/^this server's sealing\.key is sealing:4444444444444444, tenant acme's is sealing:2222222222222222; /);
  });
});

describe('the backup list of docs/operations.md', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'covenant-backup-list-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names every file init creates in keys/<tenant>/, and retired/', async () => {
    await createTenantKeys(dir, TENANT, 'covenant/default', admins);
    // Where versions before online rotation kept the token keys they rotated out.
    await mkdir(join(dir, 'keys', TENANT, 'retired'));
    const names = await readdir(join(dir, 'keys', TENANT));
    for (const name of ['kek.key', 'sealing.key', 'session.key', 'retired']) expect(names).toContain(name);
    const operations = await readFile(fileURLToPath(new URL('../../docs/operations.md', import.meta.url)), 'utf8');
    const backup = operations.slice(operations.indexOf('## Backup and restore'), operations.indexOf('### SQLite', operations.indexOf('## Backup and restore')));
    for (const name of names) expect(backup, name).toContain(`\`${name === 'retired' ? 'retired/' : name}\``);
  });
});
