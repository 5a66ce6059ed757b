import { EvidenceError } from '../plugin.js';

/**
 * Big-endian cursor over untrusted TPM bytes. Every read checks the remaining length
 * first, so a lying size field can only ever produce EvidenceError('malformed'),
 * never an out-of-range read or a huge allocation (sizes are capped by the caller).
 */
export class TpmReader {
  private offset = 0;
  private readonly view: DataView;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  private need(count: number, field: string): void {
    if (count > this.remaining) {
      throw new EvidenceError('malformed', `${this.what}: truncated at ${field} (need ${count} bytes, ${this.remaining} left)`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    const value = this.view.getUint8(this.offset);
    this.offset += 1;
    return value;
  }

  u16(field: string): number {
    this.need(2, field);
    const value = this.view.getUint16(this.offset, false);
    this.offset += 2;
    return value;
  }

  u32(field: string): number {
    this.need(4, field);
    const value = this.view.getUint32(this.offset, false);
    this.offset += 4;
    return value;
  }

  /** u64 as bigint: TPM clocks and firmware versions use the full range. */
  u64(field: string): bigint {
    this.need(8, field);
    const value = this.view.getBigUint64(this.offset, false);
    this.offset += 8;
    return value;
  }

  /** A copy, so parsed structures never alias (and keep alive) the caller's buffer. */
  bytesOf(count: number, field: string): Uint8Array {
    this.need(count, field);
    const value = this.bytes.slice(this.offset, this.offset + count);
    this.offset += count;
    return value;
  }

  /** A TPM2B: u16 size then that many bytes; `max` is the spec's buffer size for the type. */
  tpm2b(max: number, field: string): Uint8Array {
    const size = this.u16(`${field}.size`);
    if (size > max) {
      throw new EvidenceError('malformed', `${this.what}: ${field} is ${size} bytes, above the ${max}-byte maximum`);
    }
    return this.bytesOf(size, field);
  }

  /** Structures are parsed whole: trailing bytes mean the sender and we disagree about the format. */
  end(): void {
    if (this.remaining !== 0) {
      throw new EvidenceError('malformed', `${this.what}: ${this.remaining} unexpected trailing bytes`);
    }
  }
}
