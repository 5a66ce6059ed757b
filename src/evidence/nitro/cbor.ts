import { decode, Tag, type DecodeOptions } from 'cbor2';
import { EvidenceError } from '../plugin.js';

/**
 * CBOR decoding of untrusted Nitro bytes, configured so that what comes back is plain
 * data with one reading only:
 * - no tag decoder runs (`ignoreGlobalTags`): a tag arrives as a `Tag` value, which the
 *   schema checks then refuse, so no URL, RegExp or embedded-CBOR decoder sees our input,
 *   whatever other modules registered globally;
 * - maps are always `Map`s, so a `__proto__` key is just a key;
 * - duplicate keys, indefinite lengths, floats, bignums and simple values other than
 *   true/false/null/undefined are refused, and nesting is shallow: an attestation
 *   document is at most a map of maps and arrays of byte strings.
 * The decoder refuses trailing bytes after the item itself.
 */
const OPTIONS: DecodeOptions = {
  ignoreGlobalTags: true,
  preferMap: true,
  rejectDuplicateKeys: true,
  rejectStreaming: true,
  rejectFloats: true,
  rejectBigInts: true,
  rejectSimple: true,
  rejectUndefined: true,
  maxDepth: 4,
};

/** Decodes exactly one CBOR item, or refuses as 'malformed' naming `what`. */
export function decodeStrict(bytes: Uint8Array, what: string): unknown {
  try {
    return decode(bytes, OPTIONS);
  } catch (cause) {
    throw new EvidenceError('malformed', `${what} is not well-formed CBOR of the expected shape: ${(cause as Error).message}`, { cause });
  }
}

export const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;

export const isTag = (value: unknown): value is Tag => value instanceof Tag;

/** A copy as a plain Uint8Array: the decoder returns Buffer views into its input. */
export const plainBytes = (value: Uint8Array): Uint8Array => new Uint8Array(value);
