import { EvidenceError } from '../plugin.js';

/**
 * Little-endian cursor over untrusted quote bytes. Every read checks the remaining
 * length first, so a lying length field can only ever produce EvidenceError('malformed'),
 * never a read past the declared structure or an allocation larger than the input.
 */
export class LeReader {
  #offset = 0;
  readonly #view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.#offset;
  }

  get position(): number {
    return this.#offset;
  }

  #need(count: number, field: string): void {
    if (count > this.remaining) {
      throw new EvidenceError('malformed', `${this.what}: truncated at ${field} (need ${count} bytes, ${this.remaining} left)`);
    }
  }

  u16(field: string): number {
    this.#need(2, field);
    const value = this.#view.getUint16(this.#offset, true);
    this.#offset += 2;
    return value;
  }

  u32(field: string): number {
    this.#need(4, field);
    const value = this.#view.getUint32(this.#offset, true);
    this.#offset += 4;
    return value;
  }

  /** A view into the reader's bytes (callers hand the reader a private copy). */
  take(count: number, field: string): Uint8Array {
    this.#need(count, field);
    const value = this.bytes.subarray(this.#offset, this.#offset + count);
    this.#offset += count;
    return value;
  }

  /** A declared-length region nested inside this one, read by its own reader. */
  region(count: number, field: string): LeReader {
    return new LeReader(this.take(count, field), `${this.what} ${field}`);
  }

  /** Nested structures are parsed whole: leftover bytes mean we and the sender disagree on the layout. */
  end(): void {
    if (this.remaining !== 0) {
      throw new EvidenceError('malformed', `${this.what}: ${this.remaining} unexpected bytes after the last field`);
    }
  }
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export function isAllZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
