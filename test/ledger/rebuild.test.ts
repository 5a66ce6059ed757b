import { expect, it } from 'vitest';
import { projectEntry } from '../../src/app/control-plane.js';
import type { LedgerEntry } from '../../src/ledger/entry.js';
import { PROJECTION_TABLES } from '../../src/store/schema.js';
import type { Store } from '../../src/store/store.js';
import { createTestPlane } from '../support/control-plane.js';
import { buildGovernanceHistory, buildHistory } from '../support/history.js';
import { describeEachBackend, useFreshInstance } from '../store/backends.js';

async function projectionRows(store: Store): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const table of PROJECTION_TABLES) {
    const rows = await store.db.selectFrom(table).selectAll().execute();
    out[table] = rows.map((row) => JSON.stringify(row, Object.keys(row).sort())).sort();
  }
  return out;
}

describeEachBackend('state rebuilt from the ledger alone', (backend) => {
  const instance = useFreshInstance(backend);

  it('equals the stored state, table by table', async () => {
    const plane = await createTestPlane(instance().store);
    await buildHistory(plane);
    await buildGovernanceHistory(plane);
    const entries: LedgerEntry[] = [];
    for (;;) {
      const page = await plane.cp.ledger.entries(plane.tenant, { after: entries.length - 1, limit: 1000 });
      if (page.length === 0) break;
      entries.push(...page);
    }
    expect(entries.map((e) => e.seq)).toEqual(entries.map((_, i) => i));
    expect(new Set(entries.map((e) => e.type))).toEqual(
      new Set([
        'tenant.created',
        'member.added',
        'member.removed',
        'authorization.denied',
        'change.authorized',
        'workload.created',
        'release.registered',
        'policy.version-created',
        'rollout.started',
        'rollout.advanced',
        'rollout.rolled-back',
        'rollout.completed',
        'rollout.health-signalled',
        'release.revoked',
        'policy.break-glass',
        'policy.break-glass-ratified',
        'constitution.rule-set',
        'proposal.created',
        'proposal.voted',
        'proposal.rejected',
        'proposal.invalidated',
        'collateral.imported',
        'trust-anchor.added',
        'trust-anchor.removed',
      ]),
    );

    const fresh = await backend.create();
    try {
      // Replay in the ledger's order, one entry per transaction, as a rebuild tool would.
      for (const entry of entries) await fresh.store.writeTransaction(plane.tenant, async (tx) => projectEntry(tx, entry));
      const rebuilt = await projectionRows(fresh.store);
      const stored = await projectionRows(instance().store);
      expect(rebuilt.releases!.length).toBeGreaterThan(0);
      expect(rebuilt.policy_versions!.length).toBe(16);
      expect(rebuilt.proposals!.length).toBe(3);
      // The inventory is rebuilt with the attestation histories of test/rollout/property.test.ts.
      for (const table of ['tenants', 'workloads', 'releases', 'policy_versions', 'members', 'rollouts', 'health_signals', 'constitution', 'proposals', 'proposal_votes', 'collateral', 'trust_anchors']) {
        expect(rebuilt[table]!.length, table).toBeGreaterThan(0);
      }
      expect(rebuilt).toEqual(stored);
    } finally {
      await fresh.destroy();
    }
  });
});
