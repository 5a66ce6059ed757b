import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { CovenantError } from '../../src/core/errors.js';
import {
  EMPTY_ROOT,
  appendLeaves,
  buildConsistencyProof,
  buildInclusionProof,
  consistencyProofFromLeaves,
  consistencyProofPlan,
  frontierPlan,
  inclusionProofFromLeaves,
  inclusionProofPlan,
  leafHash,
  merkleTreeHash,
  newNodesOnAppend,
  nodeHash,
  nodeKey,
  rootFromFrontier,
  rootFromInclusionProof,
  rootFromNodes,
  rootPlan,
  verifyConsistency,
  verifyInclusion,
  type NodeId,
  type NodeLookup,
} from '../../src/ledger/merkle.js';

const MAX = 300;
const leaves: Buffer[] = Array.from({ length: MAX }, (_, i) => leafHash(Buffer.from(`leaf ${i}`)));

/** Every complete-subtree node of the first `size` leaves, as the store would hold them. */
function storeFor(size: number): Map<string, Buffer> {
  const { nodes } = appendLeaves(0, [], leaves.slice(0, size));
  return new Map(nodes.map((n) => [nodeKey(n), n.hash]));
}

const roots = new Map<number, Buffer>();
function rootOf(size: number): Buffer {
  let root = roots.get(size);
  if (root === undefined) {
    root = merkleTreeHash(leaves.slice(0, size));
    roots.set(size, root);
  }
  return root;
}

const stores = new Map<number, Map<string, Buffer>>();
function lookupFor(size: number, plan?: NodeId[]): NodeLookup {
  let store = stores.get(size);
  if (store === undefined) {
    store = storeFor(size);
    stores.set(size, store);
  }
  const s = store;
  // Only planned nodes are visible, so a builder that strays from its plan fails.
  const allowed = plan === undefined ? undefined : new Set(plan.map(nodeKey));
  return (id) => (allowed === undefined || allowed.has(nodeKey(id)) ? s.get(nodeKey(id)) : undefined);
}

const hex = (hashes: readonly Uint8Array[]): string[] => hashes.map((h) => Buffer.from(h).toString('hex'));

function flipBit(proof: Buffer[], element: number, bit: number): Buffer[] {
  return proof.map((h, i) => {
    if (i !== element) return h;
    const copy = Buffer.from(h);
    copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
    return copy;
  });
}

describe('hashing', () => {
  it('uses RFC 6962 domain separation', () => {
    expect(EMPTY_ROOT.toString('hex')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(leafHash(Buffer.alloc(0)).toString('hex')).toBe('6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d');
    expect(merkleTreeHash([])).toEqual(EMPTY_ROOT);
    const [a, b] = [leaves[0] as Buffer, leaves[1] as Buffer];
    expect(merkleTreeHash([a, b])).toEqual(nodeHash(a, b));
  });

  it('hashes an odd tree by promoting, not duplicating, the last node', () => {
    const [a, b, c] = leaves as [Buffer, Buffer, Buffer];
    expect(merkleTreeHash([a, b, c])).toEqual(nodeHash(nodeHash(a, b), c));
  });
});

describe('plans', () => {
  it('names the complete subtrees of the root and frontier', () => {
    expect(rootPlan(0)).toEqual([]);
    expect(rootPlan(13)).toEqual([
      { level: 3, idx: 0 },
      { level: 2, idx: 2 },
      { level: 0, idx: 12 },
    ]);
    expect(frontierPlan(13)).toEqual(rootPlan(13));
  });

  it('plans an inclusion proof with one node per level for a complete tree', () => {
    expect(inclusionProofPlan(5, 8)).toEqual([
      { level: 0, idx: 4 },
      { level: 1, idx: 3 },
      { level: 2, idx: 0 },
    ]);
  });

  it('returns deduplicated plans', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5000 }), fc.integer({ min: 1, max: 5000 }), (a, b) => {
        const [m, n] = a <= b ? [a, b] : [b, a];
        for (const plan of [consistencyProofPlan(m, n), inclusionProofPlan(m - 1, n), rootPlan(n)]) {
          expect(new Set(plan.map(nodeKey)).size).toBe(plan.length);
        }
      }),
    );
  });

  it('rejects impossible requests with bad-request', () => {
    for (const call of [
      () => inclusionProofPlan(3, 3),
      () => inclusionProofPlan(-1, 3),
      () => inclusionProofPlan(0.5, 3),
      () => inclusionProofPlan(0, 2 ** 53),
      () => consistencyProofPlan(0, 3),
      () => consistencyProofPlan(4, 3),
      () => rootPlan(Number.NaN),
      () => inclusionProofFromLeaves(2, leaves.slice(0, 2)),
      () => consistencyProofFromLeaves(0, leaves.slice(0, 2)),
    ]) {
      expect(call).toThrow(CovenantError);
      try {
        call();
      } catch (error) {
        expect((error as CovenantError).type).toBe('bad-request');
      }
    }
  });

  it('reports a missing or malformed stored node as ledger-corrupt', () => {
    expect(() => rootFromNodes(5, () => undefined)).toThrow(expect.objectContaining({ type: 'ledger-corrupt' }));
    expect(() => buildInclusionProof(0, 5, () => Buffer.alloc(31))).toThrow(expect.objectContaining({ type: 'ledger-corrupt' }));
  });
});

describe('node-based proofs match RFC 6962 PATH and SUBPROOF', () => {
  it('inclusion, for every size 1..300 and random indexes', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX }), fc.nat(), (size, seed) => {
        const index = seed % size;
        const tree = leaves.slice(0, size);
        const plan = inclusionProofPlan(index, size);
        const proof = buildInclusionProof(index, size, lookupFor(size, plan));
        expect(hex(proof)).toEqual(hex(inclusionProofFromLeaves(index, tree)));
        const root = rootOf(size);
        expect(rootFromNodes(size, lookupFor(size, rootPlan(size)))).toEqual(root);
        expect(verifyInclusion(index, size, tree[index] as Buffer, proof, root)).toBe(true);
        expect(verifyInclusion(index, size, leafHash(Buffer.from('other')), proof, root)).toBe(false);
        if (size > 1) expect(verifyInclusion((index + 1) % size, size, tree[index] as Buffer, proof, root)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('inclusion, exhaustively for sizes 1..64', () => {
    for (let size = 1; size <= 64; size++) {
      const tree = leaves.slice(0, size);
      const root = merkleTreeHash(tree);
      for (let index = 0; index < size; index++) {
        const proof = buildInclusionProof(index, size, lookupFor(size, inclusionProofPlan(index, size)));
        expect(hex(proof)).toEqual(hex(inclusionProofFromLeaves(index, tree)));
        expect(rootFromInclusionProof(index, size, tree[index] as Buffer, proof)).toEqual(root);
      }
    }
  });

  it('consistency, between random m ≤ n', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX }), fc.integer({ min: 1, max: MAX }), (a, b) => {
        const [m, n] = a <= b ? [a, b] : [b, a];
        const tree = leaves.slice(0, n);
        const proof = buildConsistencyProof(m, n, lookupFor(n, consistencyProofPlan(m, n)));
        expect(hex(proof)).toEqual(hex(consistencyProofFromLeaves(m, tree)));
        const [root1, root2] = [rootOf(m), rootOf(n)];
        expect(verifyConsistency(m, n, proof, root1, root2)).toBe(true);
        expect(verifyConsistency(m, n, proof, root2, root1)).toBe(m === n && root1.equals(root2));
        if (m < n) {
          expect(verifyConsistency(m, n, proof.slice(0, -1), root1, root2)).toBe(false);
          expect(verifyConsistency(m, n, [...proof, root1], root1, root2)).toBe(false);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('consistency, exhaustively for sizes 1..48', () => {
    for (let n = 1; n <= 48; n++) {
      const tree = leaves.slice(0, n);
      const root2 = merkleTreeHash(tree);
      for (let m = 1; m <= n; m++) {
        const proof = buildConsistencyProof(m, n, lookupFor(n, consistencyProofPlan(m, n)));
        expect(hex(proof)).toEqual(hex(consistencyProofFromLeaves(m, tree)));
        expect(verifyConsistency(m, n, proof, merkleTreeHash(tree.slice(0, m)), root2)).toBe(true);
      }
    }
  });
});

describe('tampering', () => {
  it('any single bit flip in an inclusion proof fails verification', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: MAX }), fc.nat(), fc.nat(), fc.integer({ min: 0, max: 255 }), (size, seed, which, bit) => {
        const index = seed % size;
        const tree = leaves.slice(0, size);
        const proof = inclusionProofFromLeaves(index, tree);
        const root = merkleTreeHash(tree);
        const tampered = flipBit(proof, which % proof.length, bit);
        expect(verifyInclusion(index, size, tree[index] as Buffer, tampered, root)).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('any single bit flip in a consistency proof fails verification', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX }), fc.integer({ min: 2, max: MAX }), fc.nat(), fc.integer({ min: 0, max: 255 }), (a, b, which, bit) => {
        const [m, n] = a < b ? [a, b] : [Math.max(1, b - 1), Math.max(a, b)];
        if (m >= n) return;
        const tree = leaves.slice(0, n);
        const proof = consistencyProofFromLeaves(m, tree);
        const tampered = flipBit(proof, which % proof.length, bit);
        expect(verifyConsistency(m, n, tampered, merkleTreeHash(tree.slice(0, m)), merkleTreeHash(tree))).toBe(false);
      }),
      { numRuns: 1000 },
    );
  });

  it('rejects non-safe-integer indexes and wrong hash lengths without throwing', () => {
    const tree = leaves.slice(0, 5);
    const root = merkleTreeHash(tree);
    const proof = inclusionProofFromLeaves(1, tree);
    for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 53, 2 ** 64]) {
      expect(verifyInclusion(bad, 5, tree[1] as Buffer, proof, root)).toBe(false);
      expect(verifyInclusion(1, bad, tree[1] as Buffer, proof, root)).toBe(false);
      expect(verifyConsistency(bad, 5, [], root, root)).toBe(false);
      expect(verifyConsistency(1, bad, [], root, root)).toBe(false);
    }
    expect(verifyInclusion(1, 5, (tree[1] as Buffer).subarray(1), proof, root)).toBe(false);
    expect(verifyInclusion(1, 5, tree[1] as Buffer, [...proof.slice(0, -1), Buffer.alloc(33)], root)).toBe(false);
    expect(verifyConsistency(0, 0, [], EMPTY_ROOT, EMPTY_ROOT)).toBe(false);
  });
});

describe('appends', () => {
  it('frontier appends give the same root as merkleTreeHash', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 12 }), (batches) => {
        let size = 0;
        let frontier: Buffer[] = [];
        const nodes = new Map<string, Buffer>();
        for (const count of batches) {
          const batch = leaves.slice(size, Math.min(size + count, MAX));
          const result = appendLeaves(size, frontier, batch);
          for (const n of result.nodes) {
            expect(nodes.has(nodeKey(n))).toBe(false);
            nodes.set(nodeKey(n), n.hash);
          }
          size = result.size;
          frontier = result.frontier;
          const root = merkleTreeHash(leaves.slice(0, size));
          expect(rootFromFrontier(size, frontier)).toEqual(root);
          expect(rootFromNodes(size, (id) => nodes.get(nodeKey(id)))).toEqual(root);
          expect(frontier).toEqual(frontierPlan(size).map((id) => nodes.get(nodeKey(id))));
        }
      }),
    );
  });

  it('creates the leaf node plus each parent that becomes complete', () => {
    const { frontier } = appendLeaves(0, [], leaves.slice(0, 7));
    const step = newNodesOnAppend(7, leaves[7] as Buffer, frontier);
    expect(step.nodes.map(({ level, idx }) => ({ level, idx }))).toEqual([
      { level: 0, idx: 7 },
      { level: 1, idx: 3 },
      { level: 2, idx: 1 },
      { level: 3, idx: 0 },
    ]);
    expect(step.size).toBe(8);
    expect(step.frontier).toEqual([merkleTreeHash(leaves.slice(0, 8))]);
    expect(rootFromFrontier(0, [])).toEqual(EMPTY_ROOT);
  });

  it('rejects a frontier that does not fit the size, and non-hash leaves', () => {
    expect(() => appendLeaves(3, [leaves[0] as Buffer], [])).toThrow(expect.objectContaining({ type: 'ledger-corrupt' }));
    expect(() => rootFromFrontier(1, [Buffer.alloc(3)])).toThrow(expect.objectContaining({ type: 'ledger-corrupt' }));
    expect(() => appendLeaves(0, [], [Buffer.from('not a hash')])).toThrow(expect.objectContaining({ type: 'bad-request' }));
  });
});

describe('scale', () => {
  it('appends 100,000 leaves in batches and builds proofs at 1,000,000 leaves in well under 1 ms', () => {
    const many = Array.from({ length: 100_000 }, (_, i) => leafHash(Buffer.from(String(i))));
    const t0 = performance.now();
    let state = appendLeaves(0, [], []);
    for (let i = 0; i < many.length; i += 1000) state = appendLeaves(state.size, state.frontier, many.slice(i, i + 1000));
    const appendMs = performance.now() - t0;
    expect(state.size).toBe(100_000);
    // ~2 hashes per leaf; generous bound for shared CI machines.
    expect(appendMs).toBeLessThan(2000);

    // Node hashes for a 1,000,000-leaf tree are synthetic: assembly only combines what it is given.
    const size = 1_000_000;
    const fake: NodeLookup = ({ level, idx }) => leafHash(Buffer.from(`${level}:${idx}`));
    const runs = 200;
    const t1 = performance.now();
    for (let r = 0; r < runs; r++) {
      const index = (r * 7919) % size;
      buildInclusionProof(index, size, fake);
      buildConsistencyProof(size - 1 - r, size, fake);
    }
    const perPair = (performance.now() - t1) / runs;
    expect(perPair).toBeLessThan(1);
  });

  it('round-trips proofs at 1,000,000 leaves through verification', () => {
    // Leaves repeat with period 1024, so every subtree of level ≥ 10 is identical and a
    // consistent store for a million leaves needs only a few thousand memoised hashes.
    const memo = new Map<string, Buffer>();
    const periodic: NodeLookup = (id) => {
      const level = id.level;
      const idx = level >= 10 ? 0 : id.idx % 2 ** (10 - level);
      const key = `${level}:${idx}`;
      let hash = memo.get(key);
      if (hash === undefined) {
        hash =
          level === 0
            ? leafHash(Buffer.from(String(idx)))
            : nodeHash(periodic({ level: level - 1, idx: 2 * idx }) as Buffer, periodic({ level: level - 1, idx: 2 * idx + 1 }) as Buffer);
        memo.set(key, hash);
      }
      return hash;
    };
    const size = 1_000_003;
    const root = rootFromNodes(size, periodic);
    for (const index of [0, 1, 1023, 524_287, 999_999, 1_000_000, 1_000_002]) {
      const proof = buildInclusionProof(index, size, periodic);
      const leaf = periodic({ level: 0, idx: index }) as Buffer;
      expect(verifyInclusion(index, size, leaf, proof, root)).toBe(true);
      expect(verifyInclusion(index, size, leaf, proof.slice(1), root)).toBe(false);
    }
    for (const m of [1, 2, 3, 1000, 524_288, 999_999, 1_000_002, 1_000_003]) {
      const proof = buildConsistencyProof(m, size, periodic);
      expect(verifyConsistency(m, size, proof, rootFromNodes(m, periodic), root)).toBe(true);
    }
  });
});
