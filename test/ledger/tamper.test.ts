import fc from 'fast-check';
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import { auditLog, type AuditReport } from '../../src/ledger/audit.js';
import { storeAuditSource } from '../../src/ledger/audit-source.js';
import { signCheckpoint } from '../../src/ledger/checkpoint.js';
import type { Store } from '../../src/store/store.js';
import { createTestPlane, newLogKey, type TestPlane } from '../support/control-plane.js';
import { buildHistory } from '../support/history.js';
import { describeEachBackend, useFreshInstance } from '../store/backends.js';

const audit = (plane: TestPlane): Promise<AuditReport> =>
  auditLog(storeAuditSource(plane.cp.ledger, plane.tenant), { tenant: plane.tenant, vkey: plane.logKey.vkey, pageSize: 7 });

async function setBody(store: Store, seq: number, body: Uint8Array): Promise<void> {
  await store.db.updateTable('ledger_entries').set({ body }).where('tenant', '=', 'default').where('seq', '=', seq).execute();
}

async function setNote(store: Store, size: number, note: string): Promise<void> {
  await store.db.updateTable('checkpoints').set({ note }).where('tenant', '=', 'default').where('size', '=', size).execute();
}

describeEachBackend('audit verify detects tampering', (backend) => {
  const instance = useFreshInstance(backend);

  async function history(): Promise<{ plane: TestPlane; bodies: Buffer[]; notes: { size: number; note: string }[] }> {
    const plane = await createTestPlane(instance().store);
    await buildHistory(plane, 4);
    const rows = await plane.cp.ledger.rawEntries(plane.tenant, 0, 10_000);
    const notes = (await plane.cp.ledger.checkpoints(plane.tenant)).map((cp) => ({ size: cp.size, note: cp.note }));
    expect((await audit(plane)).ok).toBe(true);
    return { plane, bodies: rows.map((row) => Buffer.from(row.body)), notes };
  }

  it('reports each of 100 random single-byte modifications of entries and checkpoints', async () => {
    const { plane, bodies, notes } = await history();
    const store = instance().store;
    const checkpointed = notes.filter((n) => n.size > 0);
    expect(bodies.length).toBeGreaterThan(25);
    expect(checkpointed.length).toBeGreaterThanOrEqual(4);
    let detected = 0;
    const target = fc.oneof(
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('entry' as const), which: fc.nat(), at: fc.nat(), delta: fc.integer({ min: 1, max: 255 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('checkpoint' as const), which: fc.nat(), at: fc.nat(), delta: fc.integer({ min: 1, max: 94 }) }) },
    );
    await fc.assert(
      fc.asyncProperty(target, async (t) => {
        if (t.kind === 'entry') {
          const seq = t.which % bodies.length;
          const original = bodies[seq]!;
          const changed = Buffer.from(original);
          const at = t.at % changed.length;
          changed[at] = (changed[at]! + t.delta) % 256;
          await setBody(store, seq, changed);
          const report = await audit(plane);
          await setBody(store, seq, original);
          expect(report.ok).toBe(false);
          expect(report.finding?.index).toBe(seq);
        } else {
          const { size, note } = checkpointed[t.which % checkpointed.length]!;
          // Text columns must stay valid UTF-8 (PostgreSQL refuses anything else), so
          // an ASCII byte becomes another printable ASCII byte.
          const bytes = Buffer.from(note, 'utf8');
          const ascii = [...bytes.keys()].filter((i) => bytes[i]! < 0x80);
          const at = ascii[t.at % ascii.length]!;
          const replaced = 0x20 + ((bytes[at]! - 0x20 + t.delta) % 95);
          const changed = Buffer.from(bytes);
          changed[at] = replaced === bytes[at] ? (replaced === 0x20 ? 0x21 : 0x20) : replaced;
          await setNote(store, size, changed.toString('utf8'));
          const report = await audit(plane);
          await setNote(store, size, note);
          expect(report.ok).toBe(false);
          expect(report.finding?.checkpointSize).toBe(size);
        }
        detected++;
      }),
      { numRuns: 100 },
    );
    expect(detected).toBe(100);
    // Every modification was reverted: the untouched log verifies again.
    expect((await audit(plane)).ok).toBe(true);
  });

  it('reports a deleted entry at its index', async () => {
    const { plane } = await history();
    await instance().store.db.deleteFrom('ledger_entries').where('seq', '=', 9).execute();
    expect((await audit(plane)).finding).toMatchObject({ index: 9 });
  });

  it('reports a deleted last entry', async () => {
    const { plane, bodies } = await history();
    await instance().store.db.deleteFrom('ledger_entries').where('seq', '=', bodies.length - 1).execute();
    const report = await audit(plane);
    expect(report.ok).toBe(false);
    expect(report.finding?.index).toBe(bodies.length - 1);
  });

  it('reports two reordered entries at the first of them', async () => {
    const { plane, bodies } = await history();
    const store = instance().store;
    // Swap everything but the position: the rows now claim each other's place.
    const [a, b] = [5, 12];
    const rows = await store.db.selectFrom('ledger_entries').selectAll().where('seq', 'in', [a, b]).orderBy('seq').execute();
    await setBody(store, a, bodies[b]!);
    await setBody(store, b, bodies[a]!);
    for (const [seq, row] of [[a, rows[1]!], [b, rows[0]!]] as const) {
      await store.db.updateTable('ledger_entries').set({ type: row.type, actor: row.actor, workload: row.workload, time: row.time }).where('seq', '=', seq).execute();
    }
    expect((await audit(plane)).finding).toMatchObject({ index: a });
  });

  it('reports a checkpoint replaced by one signed with another key', async () => {
    const { plane, notes } = await history();
    const victim = notes[notes.length - 1]!;
    const row = await instance().store.db.selectFrom('checkpoints').select(['root']).where('size', '=', victim.size).executeTakeFirstOrThrow();
    const forger = newLogKey();
    await setNote(instance().store, victim.size, signCheckpoint({ origin: forger.origin, size: victim.size, root: row.root }, forger.origin, forger.privateKey));
    expect((await audit(plane)).finding).toMatchObject({ index: null, checkpointSize: victim.size });
  });

  it('reports a validly signed checkpoint of a forked tree (entries rewritten together with the tree)', async () => {
    const { plane, notes } = await history();
    const store = instance().store;
    const victim = notes[notes.length - 1]!;
    // A log operator with the key rewrites an entry, its stored leaf and head, and re-signs:
    // the older checkpoints still pin the original history.
    const forkedRoot = Buffer.alloc(32, 7);
    await store.db.updateTable('checkpoints').set({ root: forkedRoot, note: signCheckpoint({ origin: plane.logKey.origin, size: victim.size, root: forkedRoot }, plane.logKey.origin, plane.logKey.privateKey) }).where('size', '=', victim.size).execute();
    const report = await audit(plane);
    expect(report.ok).toBe(false);
    expect(report.finding?.checkpointSize).toBe(victim.size);
  });

  it('reports a stored leaf hash and body changed together, at the checkpoint that covers it', async () => {
    const { plane, bodies, notes } = await history();
    const store = instance().store;
    // Still canonical JSON with matching columns: only the tree can tell.
    const seq = bodies.findIndex((body) => body.includes('first release'));
    const changed = Buffer.from(bodies[seq]!.toString('utf8').replace('first release', 'First release'), 'utf8');
    await setBody(store, seq, changed);
    const { leafHash } = await import('../../src/ledger/merkle.js');
    await store.db.updateTable('ledger_nodes').set({ hash: leafHash(changed) }).where('level', '=', 0).where('idx', '=', seq).execute();
    const report = await audit(plane);
    expect(report.ok).toBe(false);
    const covering = notes.find((n) => n.size > seq)!;
    expect(report.finding?.checkpointSize).toBe(covering.size);
    expect(report.finding!.index).toBeLessThanOrEqual(seq);
  });

  it('passes on an untouched log and counts what it checked', async () => {
    const { plane, bodies, notes } = await history();
    const report = await audit(plane);
    expect(report).toMatchObject({ ok: true, entries: bodies.length, checkpoints: notes.length, treeSize: bodies.length });
    await sql`select 1`.execute(instance().store.db);
  });
});
