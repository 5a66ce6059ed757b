import { canonicalJson } from '../core/canonical.js';
import { isCovenantError } from '../core/errors.js';
import { openCheckpoint } from './checkpoint.js';
import type { RawEntry, StoredCheckpoint, TreeHead } from './ledger.js';
import { appendLeaves, EMPTY_ROOT, leafHash, rootFromFrontier, verifyConsistency } from './merkle.js';
import { parseVerifierKey } from './note.js';

/** Where an auditor reads the log from: the store directly, or a server over HTTP. */
export interface AuditSource {
  head(): Promise<TreeHead>;
  entries(from: number, limit: number): Promise<readonly RawEntry[]>;
  checkpoints(): Promise<readonly StoredCheckpoint[]>;
  consistency(from: number, to: number): Promise<readonly Uint8Array[]>;
}

export interface AuditFinding {
  /** The first entry index found bad; null when the fault is a checkpoint's alone. */
  readonly index: number | null;
  readonly checkpointSize?: number;
  readonly message: string;
}

export interface AuditReport {
  readonly ok: boolean;
  readonly entries: number;
  readonly checkpoints: number;
  readonly treeSize: number;
  readonly root: string;
  readonly finding?: AuditFinding;
}

export interface AuditOptions {
  readonly tenant: string;
  /** The pinned log verifier key; checkpoints signed by anything else fail. */
  readonly vkey: string;
  readonly pageSize?: number;
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

class Fault extends Error {
  constructor(readonly finding: AuditFinding) {
    super(finding.message);
  }
}

/** Checks that a stored entry is exactly the canonical leaf of what its columns say. */
function checkEntry(tenant: string, position: number, row: RawEntry): void {
  const fail = (message: string): never => {
    throw new Fault({ index: position, message: `entry ${position}: ${message}` });
  };
  if (row.seq !== position) fail(`expected index ${position}, found ${row.seq} (entry deleted or reordered)`);
  const text = Buffer.from(row.body).toString('utf8');
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return fail('body is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || canonicalJson(parsed) !== text || !same(Buffer.from(text, 'utf8'), row.body)) {
    fail('body is not canonical JSON');
  }
  if (parsed.seq !== position) fail(`body names index ${String(parsed.seq)}`);
  if (parsed.tenant !== tenant) fail('body names another tenant');
  if (parsed.type !== row.type || parsed.actor !== row.actor || parsed.time !== row.time || (parsed.workload ?? null) !== row.workload) {
    fail('indexed columns disagree with the body');
  }
}

/**
 * Recomputes every leaf and the tree from the stored entries, checks every checkpoint's
 * signature, that each is consistent with the previous one, and that the head matches.
 * Streams the entries: memory stays at one page plus the O(log n) frontier.
 */
export async function auditLog(source: AuditSource, options: AuditOptions): Promise<AuditReport> {
  const pageSize = options.pageSize ?? 5000;
  const head = await source.head();
  const stored = await source.checkpoints();
  let size = 0;
  let frontier: Uint8Array[] = [];
  let root: Uint8Array = EMPTY_ROOT;
  const report = (finding?: AuditFinding): AuditReport => ({
    ok: finding === undefined,
    entries: size,
    checkpoints: stored.length,
    treeSize: head.size,
    root: hex(root),
    ...(finding ? { finding } : {}),
  });

  try {
    const vkey = parseVerifierKey(options.vkey);
    const origin = vkey.name;
    const checkpoints = stored.map((cp) => {
      let opened: { origin: string; size: number; root: Uint8Array };
      try {
        opened = openCheckpoint(cp.note, vkey, { origin });
      } catch (error) {
        const why = isCovenantError(error) ? error.message : 'unreadable';
        throw new Fault({ index: null, checkpointSize: cp.size, message: `checkpoint at size ${cp.size}: ${why}` });
      }
      if (opened.size !== cp.size || !same(opened.root, cp.root)) {
        throw new Fault({ index: null, checkpointSize: cp.size, message: `checkpoint at size ${cp.size}: stored size or root differs from the signed note` });
      }
      if (opened.size > head.size) {
        throw new Fault({ index: head.size, checkpointSize: cp.size, message: `checkpoint at size ${cp.size} covers entries the log no longer has (log size ${head.size})` });
      }
      return opened;
    });

    for (let k = 1; k < checkpoints.length; k++) {
      const previous = checkpoints[k - 1]!;
      const current = checkpoints[k]!;
      if (previous.size === 0) continue;
      const proof = await source.consistency(previous.size, current.size);
      if (!verifyConsistency(previous.size, current.size, proof, previous.root, current.root)) {
        throw new Fault({ index: previous.size, checkpointSize: current.size, message: `checkpoint at size ${current.size} is not consistent with the one at size ${previous.size}` });
      }
    }

    let nextCheckpoint = 0;
    let lastGood = 0;
    const checkRootAt = (): void => {
      while (nextCheckpoint < checkpoints.length && checkpoints[nextCheckpoint]!.size === size) {
        const cp = checkpoints[nextCheckpoint]!;
        if (!same(cp.root, root)) {
          throw new Fault({ index: lastGood, checkpointSize: cp.size, message: `entries ${lastGood}..${size - 1} do not match the signed checkpoint at size ${size}` });
        }
        lastGood = size;
        nextCheckpoint++;
      }
    };
    checkRootAt();
    for (;;) {
      const page = await source.entries(size, pageSize);
      if (page.length === 0) break;
      const leaves: Uint8Array[] = [];
      for (const row of page) {
        const position = size + leaves.length;
        checkEntry(options.tenant, position, row);
        const leaf = leafHash(row.body);
        if (row.leafHash !== null && !same(leaf, row.leafHash)) {
          throw new Fault({ index: position, message: `entry ${position}: its bytes do not hash to the stored leaf` });
        }
        leaves.push(leaf);
        // Checkpoint roots are compared at exact sizes, so flush at each boundary.
        const boundary = checkpoints[nextCheckpoint]?.size;
        if (boundary === position + 1 || row === page[page.length - 1]) {
          const appended = appendLeaves(size, frontier, leaves);
          size += leaves.length;
          frontier = appended.frontier;
          root = rootFromFrontier(size, frontier);
          leaves.length = 0;
          checkRootAt();
        }
      }
    }
    if (nextCheckpoint < checkpoints.length) {
      throw new Fault({ index: size, checkpointSize: checkpoints[nextCheckpoint]!.size, message: `log ends at ${size} entries but a checkpoint covers ${checkpoints[nextCheckpoint]!.size} (entries deleted)` });
    }
    if (size !== head.size || !same(root, head.root)) {
      throw new Fault({ index: Math.min(size, head.size), message: `recomputed tree (size ${size}) does not match the stored head (size ${head.size})` });
    }
    return report();
  } catch (error) {
    if (error instanceof Fault) return report(error.finding);
    throw error;
  }
}
