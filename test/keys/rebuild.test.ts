import { expect, it } from 'vitest';
import { projectEntry } from '../../src/app/control-plane.js';
import type { LedgerEntry } from '../../src/ledger/entry.js';
import { PROJECTION_TABLES } from '../../src/store/schema.js';
import type { Store } from '../../src/store/store.js';
import { describeEachBackend, useFreshInstance } from '../store/backends.js';
import { createBrokerServer, endRollout, instanceOf, ledger, putSecret, setRule, setUpWorkload, startRollout, W, WORKLOAD } from './support.js';

async function projectionRows(store: Store): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const table of PROJECTION_TABLES) {
    const rows = await store.db.selectFrom(table).selectAll().execute();
    out[table] = rows.map((row) => JSON.stringify(row, Object.keys(row).sort())).sort();
  }
  return out;
}

describeEachBackend('key-broker state rebuilt from the ledger alone', (backend) => {
  const instance = useFreshInstance(backend);

  it('equals the stored state, table by table', async () => {
    const server = await createBrokerServer(instance().store);
    try {
      await setUpWorkload(server, [{ version: '1.0.0' }, { version: '1.1.0', svn: 2 }], ['1.0.0']);
      await putSecret(server, 'default/key/db', 'one');
      await putSecret(server, 'default/cert/tls', 'two');
      expect((await server.signed('POST', '/v1/secrets/default/key/db/versions', { generate: 32 })).statusCode).toBe(201);
      await setRule(server, 'default/key/db', { name: 'b', workloads: [WORKLOAD], versions: 2 });
      await setRule(server, 'default/key/db', { name: 'a', workloads: [WORKLOAD], phases: ['rollout-to'], when: 'svn >= 2' });
      expect((await server.signed('DELETE', '/v1/secrets/default/key/db/rules/b')).statusCode).toBe(200);
      expect((await server.signed('POST', `/v1/workloads/${W}/sealing`, { migrationWindow: '2h' })).statusCode).toBe(200);
      expect((await server.signed('POST', `/v1/workloads/${W}/sealing`, { migrationWindow: 600 })).statusCode).toBe(200);
      await startRollout(server, '1.1.0');
      const b = instanceOf(server, '1.1.0', { svn: 2 });
      await b.getResource('default/key/db');
      await b.sealingKey('legacy');
      await b.getResource('default/cert/tls').catch(() => undefined);
      await endRollout(server, 'complete');

      const entries: LedgerEntry[] = await ledger(server.app);
      const types = new Set(entries.map((e) => e.type));
      for (const type of ['secret.written', 'secret.rules-set', 'sealing.window-set', 'secret.released', 'secret.refused']) expect(types).toContain(type);

      const fresh = await backend.create();
      try {
        for (const entry of entries) await fresh.store.writeTransaction(server.tenant, async (tx) => projectEntry(tx, entry));
        const rebuilt = await projectionRows(fresh.store);
        const stored = await projectionRows(instance().store);
        expect(rebuilt['secrets']).toHaveLength(2);
        expect(rebuilt['secret_versions']).toHaveLength(3);
        expect(rebuilt['sealing_windows']).toHaveLength(1);
        expect(rebuilt).toEqual(stored);
      } finally {
        await fresh.destroy();
      }
    } finally {
      await server.app.close();
    }
  });
});
