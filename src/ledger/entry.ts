import { canonicalJson } from '../core/canonical.js';
import type { Actor } from '../core/model.js';

/**
 * A ledger entry: the leaf of the Merkle tree. Its leaf bytes are the RFC 8785
 * canonical JSON of this object, so `seq` (the leaf index) is bound into the hash and
 * a reordered entry cannot verify.
 */
export interface LedgerEntry<P = unknown> {
  readonly seq: number;
  readonly tenant: string;
  readonly type: string;
  readonly actor: Actor;
  /** ISO-8601 UTC with milliseconds. */
  readonly time: string;
  /** The workload the entry concerns, if any (indexed for `audit log --workload`). */
  readonly workload?: string;
  readonly payload: P;
}

/** An entry as produced by a decision, before the committer gives it a position and time. */
export type NewEntry<P = unknown> = Omit<LedgerEntry<P>, 'seq' | 'time' | 'tenant'>;

/**
 * The leaf bytes of an entry: exactly `canonicalJson(entry)`, with the envelope
 * written directly (its keys are fixed, so their RFC 8785 order is known) and only the
 * payload canonicalised. This runs once per append, on the ledger's hot path.
 */
export function encodeEntry(entry: LedgerEntry): Buffer {
  const workload = entry.workload === undefined ? '' : `,"workload":${JSON.stringify(entry.workload)}`;
  return Buffer.from(
    `{"actor":${JSON.stringify(entry.actor)},"payload":${canonicalJson(entry.payload)},"seq":${entry.seq},"tenant":${JSON.stringify(entry.tenant)},"time":${JSON.stringify(entry.time)},"type":${JSON.stringify(entry.type)}${workload}}`,
    'utf8',
  );
}
