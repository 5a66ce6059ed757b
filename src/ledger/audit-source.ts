import type { AuditSource } from './audit.js';
import type { LedgerReader } from './ledger.js';

/** Reads the log straight from a store, for auditing a data directory or database in place. */
export function storeAuditSource(reader: LedgerReader, tenant: string): AuditSource {
  return {
    head: () => reader.head(tenant),
    entries: (from, limit) => reader.rawEntries(tenant, from, limit),
    async checkpoints() {
      const all = [];
      for (;;) {
        const page = await reader.checkpoints(tenant, all.length === 0 ? -1 : all[all.length - 1]!.size);
        if (page.length === 0) return all;
        all.push(...page);
      }
    },
    consistency: async (from, to) => (await reader.consistencyProof(tenant, from, to)).hashes,
  };
}
