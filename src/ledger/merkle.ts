/**
 * RFC 6962 / RFC 9162 Merkle tree hashing, proofs and verification (SHA-256).
 *
 * The store keeps the hash of every complete subtree: node (level L, idx i) covers
 * leaves [i·2^L, (i+1)·2^L). Every hash a proof or root needs is either such a node
 * or an "incomplete" range on the right border, which is the fold of the complete
 * subtrees its length decomposes into. So each operation is split into a pure plan
 * (which nodes to fetch, in one query) and a pure assembly from those hashes.
 *
 * Indexes and sizes are JS numbers; anything that is not a safe non-negative integer
 * is rejected, which keeps all arithmetic exact (no 32-bit bit operators below).
 */
import crypto from 'node:crypto';
import { CovenantError } from '../core/errors.js';

export const HASH_SIZE = 32;

// crypto.hash (Node ≥ 20.12) skips the Hash object and is markedly faster for the
// millions of tiny inputs a large append or `audit verify` hashes.
const oneShot: (data: Uint8Array) => Buffer =
  typeof crypto.hash === 'function'
    ? (data) => crypto.hash('sha256', data, 'buffer')
    : (data) => crypto.createHash('sha256').update(data).digest();

/** MTH({}) = SHA-256 of nothing. */
export const EMPTY_ROOT: Buffer = crypto.createHash('sha256').digest();

export function leafHash(data: Uint8Array): Buffer {
  const input = Buffer.allocUnsafe(1 + data.length);
  input[0] = 0x00;
  input.set(data, 1);
  return oneShot(input);
}

// Reused because hashing is synchronous; saves an allocation per node.
const nodeInput = Buffer.alloc(1 + 2 * HASH_SIZE);

export function nodeHash(left: Uint8Array, right: Uint8Array): Buffer {
  if (left.length !== HASH_SIZE || right.length !== HASH_SIZE) {
    return crypto.createHash('sha256').update(Buffer.of(0x01)).update(left).update(right).digest();
  }
  nodeInput[0] = 0x01;
  nodeInput.set(left, 1);
  nodeInput.set(right, 1 + HASH_SIZE);
  return oneShot(nodeInput);
}

/** A complete subtree: covers leaves [idx·2^level, (idx+1)·2^level). */
export interface NodeId {
  readonly level: number;
  readonly idx: number;
}

export interface StoredNode extends NodeId {
  readonly hash: Buffer;
}

/** Supplies the hash of a planned node; `undefined` means the store lacks it. */
export type NodeLookup = (id: NodeId) => Uint8Array | undefined;

/** Stable map key for a node, for stores that index fetched rows. */
export function nodeKey(id: NodeId): string {
  return `${id.level}:${id.idx}`;
}

// Exact powers of two up to 2^53; indexing beats Math.pow in the hot loops.
const POW2: readonly number[] = Array.from({ length: 54 }, (_, i) => 2 ** i);

function pow2(level: number): number {
  return POW2[level] as number;
}

function isIndex(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function requireIndex(name: string, value: number): void {
  if (!isIndex(value)) throw new CovenantError('bad-request', `${name} must be a non-negative safe integer, got ${String(value)}`);
}

/** Largest power of two strictly below n (n ≥ 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// ---------------------------------------------------------------------------
// Ranges: a proof element is the MTH of a range [start, end) that the RFC's
// recursion produces. Such a range is aligned (start is a multiple of the
// smallest power of two ≥ its length), so it splits into complete subtrees by
// the set bits of its length, largest first.

interface Range {
  readonly start: number;
  readonly end: number;
}

function decompose(start: number, end: number): NodeId[] {
  const ids: NodeId[] = [];
  let at = start;
  for (let level = 53; level >= 0 && at < end; level--) {
    const width = pow2(level);
    if (end - at >= width) {
      ids.push({ level, idx: at / width });
      at += width;
    }
  }
  return ids;
}

function fetchNode(nodes: NodeLookup, id: NodeId): Uint8Array {
  const hash = nodes(id);
  if (hash === undefined) {
    throw new CovenantError('ledger-corrupt', `Merkle node level ${id.level} index ${id.idx} is missing from the store`);
  }
  if (hash.length !== HASH_SIZE) {
    throw new CovenantError('ledger-corrupt', `Merkle node level ${id.level} index ${id.idx} has ${hash.length} bytes, expected ${HASH_SIZE}`);
  }
  return hash;
}

/** MTH recursion: right-hand pieces are combined first, so fold from the right. */
function foldRight(hashes: readonly Uint8Array[]): Buffer {
  let i = hashes.length - 1;
  let acc: Buffer = Buffer.from(hashes[i] as Uint8Array);
  while (--i >= 0) acc = nodeHash(hashes[i] as Uint8Array, acc);
  return acc;
}

function rangeHash(range: Range, nodes: NodeLookup): Buffer {
  return foldRight(decompose(range.start, range.end).map((id) => fetchNode(nodes, id)));
}

function planRanges(ranges: readonly Range[]): NodeId[] {
  const seen = new Set<string>();
  const plan: NodeId[] = [];
  for (const range of ranges) {
    for (const id of decompose(range.start, range.end)) {
      const key = nodeKey(id);
      if (!seen.has(key)) {
        seen.add(key);
        plan.push(id);
      }
    }
  }
  return plan;
}

/**
 * The ranges whose hashes form the audit path of `index`, leaf → root. Below level
 * `inner` (where index and size-1 first share a subtree) every level has a sibling;
 * above it only left siblings exist, the right border being promoted unchanged.
 */
function inclusionRanges(index: number, size: number): Range[] {
  requireIndex('leaf index', index);
  requireIndex('tree size', size);
  if (index >= size) throw new CovenantError('bad-request', `leaf index ${index} is not below tree size ${size}`);
  const ranges: Range[] = [];
  const last = size - 1;
  for (let level = 0; level < 54; level++) {
    const width = pow2(level);
    const mine = Math.floor(index / width);
    if (mine === Math.floor(last / width)) {
      // From here up the path is the right border: only left siblings remain.
      for (let up = level; up < 54; up++) {
        const w = pow2(up);
        const node = Math.floor(index / w);
        if (node === 0) break;
        if (node % 2 === 1) ranges.push({ start: (node - 1) * w, end: node * w });
      }
      break;
    }
    const sibling = mine % 2 === 0 ? mine + 1 : mine - 1;
    const start = sibling * width;
    ranges.push({ start, end: Math.min(start + width, size) });
  }
  return ranges;
}

/** RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], true), as ranges in output order. */
function consistencyRanges(m: number, n: number): Range[] {
  requireIndex('old tree size', m);
  requireIndex('new tree size', n);
  if (m === 0 || m > n) throw new CovenantError('bad-request', `no consistency proof from tree size ${m} to ${n}`);
  if (m === n) return [];
  const siblings: Range[] = [];
  let start = 0;
  let size = n;
  let old = m;
  let complete = true;
  while (old !== size) {
    const k = splitPoint(size);
    if (old <= k) {
      siblings.push({ start: start + k, end: start + size });
      size = k;
    } else {
      siblings.push({ start, end: start + k });
      start += k;
      size -= k;
      old -= k;
      complete = false;
    }
  }
  siblings.reverse();
  // When the old tree is itself a prefix subtree the verifier already holds its root.
  return complete ? siblings : [{ start, end: start + size }, ...siblings];
}

export function inclusionProofPlan(index: number, size: number): NodeId[] {
  return planRanges(inclusionRanges(index, size));
}

export function consistencyProofPlan(m: number, n: number): NodeId[] {
  return planRanges(consistencyRanges(m, n));
}

/** Nodes for the root of [0, size); empty for size 0. Same nodes as the frontier. */
export function rootPlan(size: number): NodeId[] {
  requireIndex('tree size', size);
  return decompose(0, size);
}

/** The complete subtrees of the binary decomposition of [0, size), largest first. */
export function frontierPlan(size: number): NodeId[] {
  return rootPlan(size);
}

export function buildInclusionProof(index: number, size: number, nodes: NodeLookup): Buffer[] {
  return inclusionRanges(index, size).map((range) => rangeHash(range, nodes));
}

export function buildConsistencyProof(m: number, n: number, nodes: NodeLookup): Buffer[] {
  return consistencyRanges(m, n).map((range) => rangeHash(range, nodes));
}

export function rootFromNodes(size: number, nodes: NodeLookup): Buffer {
  requireIndex('tree size', size);
  return size === 0 ? Buffer.from(EMPTY_ROOT) : rangeHash({ start: 0, end: size }, nodes);
}

// ---------------------------------------------------------------------------
// Appends: the frontier is a stack of the perfect subtrees covering [0, size),
// largest at the bottom. Appending pushes a leaf and merges equal-height tops,
// each merge being a node that just became complete. Amortised O(1) hashes per leaf.

export interface AppendResult {
  /** Every complete-subtree node created, leaves included, in creation order. */
  readonly nodes: StoredNode[];
  readonly frontier: Buffer[];
  readonly size: number;
}

function frontierLevels(size: number): number[] {
  return decompose(0, size).map((id) => id.level);
}

function checkFrontier(size: number, frontier: readonly Uint8Array[]): number[] {
  requireIndex('tree size', size);
  const levels = frontierLevels(size);
  if (frontier.length !== levels.length) {
    throw new CovenantError('ledger-corrupt', `frontier of tree size ${size} needs ${levels.length} hashes, got ${frontier.length}`);
  }
  for (const hash of frontier) {
    if (hash.length !== HASH_SIZE) throw new CovenantError('ledger-corrupt', `frontier hash has ${hash.length} bytes, expected ${HASH_SIZE}`);
  }
  return levels;
}

/**
 * Appends leaf hashes (already `leafHash(data)`, not raw leaf data) to a tree of
 * `size` leaves with the given frontier (ordered as `frontierPlan(size)`).
 */
export function appendLeaves(size: number, frontier: readonly Uint8Array[], leafHashes: readonly Uint8Array[]): AppendResult {
  const levels = checkFrontier(size, frontier);
  if (!Number.isSafeInteger(size + leafHashes.length)) throw new CovenantError('bad-request', 'tree size would exceed 2^53 - 1');
  const stack: Buffer[] = frontier.map((h) => Buffer.from(h));
  const created: StoredNode[] = [];
  let count = size;
  for (const leaf of leafHashes) {
    if (leaf.length !== HASH_SIZE) throw new CovenantError('bad-request', `leaf hash has ${leaf.length} bytes, expected ${HASH_SIZE}`);
    let hash: Buffer = Buffer.from(leaf);
    let level = 0;
    let idx = count;
    created.push({ level, idx, hash });
    while (levels.length > 0 && levels[levels.length - 1] === level) {
      levels.pop();
      hash = nodeHash(stack.pop() as Buffer, hash);
      level += 1;
      idx = Math.floor(idx / 2);
      created.push({ level, idx, hash });
    }
    levels.push(level);
    stack.push(hash);
    count += 1;
  }
  return { nodes: created, frontier: stack, size: count };
}

export function newNodesOnAppend(size: number, leafHashValue: Uint8Array, frontier: readonly Uint8Array[]): AppendResult {
  return appendLeaves(size, frontier, [leafHashValue]);
}

export function rootFromFrontier(size: number, frontier: readonly Uint8Array[]): Buffer {
  checkFrontier(size, frontier);
  return size === 0 ? Buffer.from(EMPTY_ROOT) : foldRight(frontier);
}

// ---------------------------------------------------------------------------
// Verification (RFC 9162 §2.1.3.2 and §2.1.4.2). Proof material is untrusted:
// any malformed input yields false, never an exception.

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

function allHashes(proof: readonly Uint8Array[]): boolean {
  return proof.every((h) => h instanceof Uint8Array && h.length === HASH_SIZE);
}

/**
 * The root implied by an inclusion proof. Throws CovenantError 'bad-request' when
 * the inputs cannot form a valid proof (index out of range, wrong proof length,
 * hashes not 32 bytes).
 */
export function rootFromInclusionProof(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[]): Buffer {
  requireIndex('leaf index', index);
  requireIndex('tree size', size);
  if (index >= size) throw new CovenantError('bad-request', `leaf index ${index} is not below tree size ${size}`);
  if (leaf.length !== HASH_SIZE) throw new CovenantError('bad-request', `leaf hash has ${leaf.length} bytes, expected ${HASH_SIZE}`);
  if (!allHashes(proof)) throw new CovenantError('bad-request', `inclusion proof hashes must be ${HASH_SIZE} bytes`);
  let fn = index;
  let sn = size - 1;
  let hash: Buffer = Buffer.from(leaf);
  for (const sibling of proof) {
    if (sn === 0) throw new CovenantError('bad-request', 'inclusion proof is longer than the tree is tall');
    if (fn % 2 === 1 || fn === sn) {
      hash = nodeHash(sibling, hash);
      // Skip the levels where this node is promoted without a sibling.
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      hash = nodeHash(hash, sibling);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  if (sn !== 0) throw new CovenantError('bad-request', 'inclusion proof is shorter than the tree is tall');
  return hash;
}

export function verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: readonly Uint8Array[], root: Uint8Array): boolean {
  try {
    return sameBytes(rootFromInclusionProof(index, size, leaf, proof), root);
  } catch (error) {
    if (error instanceof CovenantError) return false;
    throw error;
  }
}

export function verifyConsistency(size1: number, size2: number, proof: readonly Uint8Array[], root1: Uint8Array, root2: Uint8Array): boolean {
  if (!isIndex(size1) || !isIndex(size2) || size1 === 0 || size2 < size1) return false;
  // Equal sizes need no proof; the roots are compared as opaque bytes.
  if (size1 === size2) return proof.length === 0 && sameBytes(root1, root2);
  if (proof.length === 0 || !allHashes(proof)) return false;
  // A power-of-two old tree is a complete subtree, so the proof omits its root.
  const hashes = isPow2(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr: Buffer = Buffer.from(hashes[0] as Uint8Array);
  let sr = fr;
  for (let i = 1; i < hashes.length; i++) {
    const c = hashes[i] as Uint8Array;
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn /= 2;
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && sameBytes(fr, root1) && sameBytes(sr, root2);
}

function isPow2(n: number): boolean {
  let k = 1;
  while (k < n) k *= 2;
  return k === n;
}

// ---------------------------------------------------------------------------
// Reference implementations straight from RFC 6962 §2.1 (MTH, PATH, SUBPROOF).
// Deliberately naive: they recompute everything from the leaf hashes, so they
// serve as an independent oracle for tests and for `audit verify`.

function mth(leaves: readonly Uint8Array[], lo: number, hi: number): Buffer {
  const n = hi - lo;
  if (n === 0) return Buffer.from(EMPTY_ROOT);
  if (n === 1) return Buffer.from(leaves[lo] as Uint8Array);
  const k = splitPoint(n);
  return nodeHash(mth(leaves, lo, lo + k), mth(leaves, lo + k, hi));
}

/** MTH over leaf hashes (not leaf data). */
export function merkleTreeHash(leafHashes: readonly Uint8Array[]): Buffer {
  return mth(leafHashes, 0, leafHashes.length);
}

function path(m: number, leaves: readonly Uint8Array[], lo: number, hi: number): Buffer[] {
  const n = hi - lo;
  if (n <= 1) return [];
  const k = splitPoint(n);
  return m < k
    ? [...path(m, leaves, lo, lo + k), mth(leaves, lo + k, hi)]
    : [...path(m - k, leaves, lo + k, hi), mth(leaves, lo, lo + k)];
}

export function inclusionProofFromLeaves(index: number, leafHashes: readonly Uint8Array[]): Buffer[] {
  requireIndex('leaf index', index);
  if (index >= leafHashes.length) throw new CovenantError('bad-request', `leaf index ${index} is not below tree size ${leafHashes.length}`);
  return path(index, leafHashes, 0, leafHashes.length);
}

function subproof(m: number, leaves: readonly Uint8Array[], lo: number, hi: number, whole: boolean): Buffer[] {
  const n = hi - lo;
  if (m === n) return whole ? [] : [mth(leaves, lo, hi)];
  const k = splitPoint(n);
  return m <= k
    ? [...subproof(m, leaves, lo, lo + k, whole), mth(leaves, lo + k, hi)]
    : [...subproof(m - k, leaves, lo + k, hi, false), mth(leaves, lo, lo + k)];
}

export function consistencyProofFromLeaves(m: number, leafHashes: readonly Uint8Array[]): Buffer[] {
  requireIndex('old tree size', m);
  if (m === 0 || m > leafHashes.length) {
    throw new CovenantError('bad-request', `no consistency proof from tree size ${m} to ${leafHashes.length}`);
  }
  return subproof(m, leafHashes, 0, leafHashes.length, true);
}
