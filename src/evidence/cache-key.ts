import type { Hash } from 'node:crypto';

/**
 * Feeds a list of byte items to a hash unambiguously — the count, then each item's
 * length before its bytes — so that no two different lists (split differently,
 * reordered, one item more) hash alike. Verified-chain caches key on this.
 */
export function updateWithItems(hash: Hash, items: readonly Uint8Array[]): Hash {
  const u32 = (n: number): Uint8Array => {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setUint32(0, n);
    return out;
  };
  hash.update(u32(items.length));
  for (const item of items) hash.update(u32(item.length)).update(item);
  return hash;
}
