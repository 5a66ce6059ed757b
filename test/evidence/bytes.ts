/** One-byte edits of test vectors, shared by every plugin's fixtures. */

/** XORs one byte in place (a typed helper: `b[i] ^= m` trips noUncheckedIndexedAccess). */
export function xorAt(bytes: Uint8Array, at: number, mask: number): void {
  bytes[at] = (bytes[at] ?? 0) ^ mask;
}

/** A copy with one byte flipped. */
export function flipped(bytes: Uint8Array, at: number, mask = 0x01): Uint8Array {
  const copy = new Uint8Array(bytes);
  xorAt(copy, at, mask);
  return copy;
}
