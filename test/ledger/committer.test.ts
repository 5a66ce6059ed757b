import { expect, it } from 'vitest';
import { CovenantError } from '../../src/core/errors.js';
import { Committer } from '../../src/ledger/committer.js';
import type { NewEntry } from '../../src/ledger/entry.js';
import { LedgerReader } from '../../src/ledger/ledger.js';
import { leafHash, merkleTreeHash } from '../../src/ledger/merkle.js';
import { describeEachBackend, useFreshInstance } from '../store/backends.js';

const TENANT = 'default';
const entry = (n: number): NewEntry => ({ type: 'test.appended', actor: 'system:test', payload: { n } });
const noProjection = async (): Promise<void> => {};

describeEachBackend('group commit', (backend) => {
  const instance = useFreshInstance(backend);

  it('concurrent appends share transactions, get distinct positions and one consistent tree', async () => {
    const batches: number[] = [];
    const committer = new Committer(instance().store, noProjection, () => new Date(), { onBatch: (units) => batches.push(units) });
    const committed = await Promise.all(Array.from({ length: 500 }, (_, n) => committer.append(TENANT, [entry(n)])));
    const seqs = committed.map((c) => c.entries[0]!.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(batches.reduce((a, b) => a + b, 0)).toBe(500);
    // Grouped: far fewer transactions than appends.
    expect(batches.length).toBeLessThan(50);

    const reader = new LedgerReader(instance().store.db);
    const rows = await reader.rawEntries(TENANT, 0, 1000);
    const head = await reader.head(TENANT);
    expect(head.size).toBe(500);
    expect(Buffer.from(head.root)).toEqual(merkleTreeHash(rows.map((row) => leafHash(row.body))));
  });

  it('a refusal with entries commits them and rejects only its own caller', async () => {
    const committer = new Committer(instance().store, noProjection, () => new Date());
    const refused = committer.submit(TENANT, async () => ({ entries: [entry(1)], rejection: new CovenantError('forbidden', 'no') }));
    const thrown = committer.submit(TENANT, async () => {
      throw new CovenantError('conflict', 'exists');
    });
    const fine = committer.append(TENANT, [entry(2)]);
    await expect(refused).rejects.toMatchObject({ type: 'forbidden' });
    await expect(thrown).rejects.toMatchObject({ type: 'conflict' });
    expect((await fine).entries[0]!.seq).toBe(1);
    expect((await new LedgerReader(instance().store.db).head(TENANT)).size).toBe(2);
  });

  it('an unexpected failure fails only its own command, not the ones sharing its batch', async () => {
    const batches: number[] = [];
    const committer = new Committer(instance().store, noProjection, () => new Date(), { onBatch: (units) => batches.push(units) });
    const before = committer.append(TENANT, [entry(1)]);
    const broken = committer.submit(TENANT, async () => {
      throw new Error('disk on fire');
    });
    const after = committer.append(TENANT, [entry(2)]);
    await expect(broken).rejects.toThrow('disk on fire');
    expect((await before).entries[0]!.seq).toBe(0);
    expect((await after).entries[0]!.seq).toBe(1);
    // The shared attempt rolled back; the retries committed one by one.
    expect(batches).toEqual([1, 1]);
    const reader = new LedgerReader(instance().store.db);
    const rows = await reader.rawEntries(TENANT, 0, 10);
    expect(rows.map((row) => JSON.parse(Buffer.from(row.body).toString('utf8')).payload)).toEqual([{ n: 1 }, { n: 2 }]);
    expect(Buffer.from((await reader.head(TENANT)).root)).toEqual(merkleTreeHash(rows.map((row) => leafHash(row.body))));
  });
});

describeEachBackend('two writers on one store', (backend) => {
  const instance = useFreshInstance(backend);

  it('interleaved appends from two committers keep one gap-free, verifiable tree', async () => {
    // On PostgreSQL these are two replicas with their own pools; on SQLite two
    // committers share the process's single connection.
    const second = backend.name === 'postgres' ? await instance().open() : instance().store;
    const a = new Committer(instance().store, noProjection, () => new Date());
    const b = new Committer(second, noProjection, () => new Date());
    const results = await Promise.all(
      Array.from({ length: 300 }, (_, n) => (n % 2 === 0 ? a : b).append(TENANT, [entry(n)])),
    );
    const seqs = results.map((r) => r.entries[0]!.seq).sort((x, y) => x - y);
    expect(seqs).toEqual(Array.from({ length: 300 }, (_, i) => i));
    const reader = new LedgerReader(instance().store.db);
    const rows = await reader.rawEntries(TENANT, 0, 1000);
    expect(Buffer.from((await reader.head(TENANT)).root)).toEqual(merkleTreeHash(rows.map((row) => leafHash(row.body))));
    // Every stored node agrees with the recomputed tree: proofs from either side verify.
    const proof = await reader.inclusionProof(TENANT, 137);
    const { verifyInclusion } = await import('../../src/ledger/merkle.js');
    expect(verifyInclusion(137, 300, leafHash(rows[137]!.body), proof.hashes, proof.root)).toBe(true);
  });
});
