import { EvidenceError } from '../plugin.js';

/**
 * Pure parser of an NVIDIA GPU attestation report: the SPDM 1.1 GET_MEASUREMENTS request
 * that carried the verifier's nonce, followed by the MEASUREMENTS response the GPU signed
 * (DMTF DSP0274 1.1, "GET_MEASUREMENTS request and MEASUREMENTS response messages").
 *
 * Every length is the declared one and is checked against the bytes left before it is
 * used, so a lying length is 'malformed' and never an out-of-range read or an allocation
 * larger than the input. Bytes after the signature are tolerated and counted, not read:
 * at least one genuine Hopper report (trustee's `hopper_coco_report1.txt`) ends with one.
 */

export const SPDM_VERSION_1_1 = 0x11;
export const GET_MEASUREMENTS = 0xe0;
export const MEASUREMENTS = 0x60;
export const NONCE_BYTES = 32;
/** Version, code, param1, param2, nonce, SlotIDParam: the request shape when a signature is requested. */
export const REQUEST_BYTES = 4 + NONCE_BYTES + 1;
/** ECDSA P-384 as raw r ‖ s, 48 bytes each. */
export const SIGNATURE_BYTES = 96;
export const SHA384_BYTES = 48;
/** MeasurementSpecification bit 0: the DMTF measurement layout, the only one SPDM 1.1 defines. */
const DMTF_SPECIFICATION = 0x01;
/** DMTFSpecMeasurementValueType bit 7: a raw bit stream instead of a digest. */
const RAW_BIT_STREAM = 0x80;
/** DSP0274: OpaqueLength shall not be greater than 1024. */
export const MAX_OPAQUE_BYTES = 1024;
/** GET_MEASUREMENTS Param1 bit 0: the requester asked for a signed response. */
const SIGNATURE_REQUESTED = 0x01;

export interface SpdmRequest {
  readonly version: number;
  readonly param1: number;
  /** Param2: the measurement operation (0xFF: all measurements). */
  readonly measurementOperation: number;
  /** The requester's 32-byte nonce: where the verifier's challenge lives. */
  readonly nonce: Uint8Array;
  readonly slotId: number;
}

export interface MeasurementBlock {
  readonly index: number;
  /** DMTFSpecMeasurementValueType, bits 0–6 (bit 7, raw bit stream, is refused). */
  readonly valueType: number;
  /** The SHA-384 digest. */
  readonly digest: Uint8Array;
}

export interface SpdmResponse {
  readonly version: number;
  readonly param1: number;
  readonly param2: number;
  readonly blocks: readonly MeasurementBlock[];
  /** The MeasurementRecord exactly as signed: every block with its headers. */
  readonly record: Uint8Array;
  readonly responderNonce: Uint8Array;
  readonly opaqueData: Uint8Array;
}

export interface SpdmReport {
  readonly request: SpdmRequest;
  readonly response: SpdmResponse;
  /** request ‖ response up to the signature: the bytes the GPU signed. */
  readonly signed: Uint8Array;
  /** Raw r ‖ s. */
  readonly signature: Uint8Array;
  /** Unsigned bytes after the signature, ignored. */
  readonly trailingBytes: number;
}

function malformed(message: string): never {
  throw new EvidenceError('malformed', `NVIDIA report: ${message}`);
}

/** Little-endian cursor, as SPDM encodes its integers. */
class Cursor {
  #offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  get offset(): number {
    return this.#offset;
  }

  get remaining(): number {
    return this.bytes.length - this.#offset;
  }

  private need(count: number, field: string): void {
    if (count > this.remaining) malformed(`truncated at ${field} (need ${count} bytes, ${this.remaining} left)`);
  }

  u8(field: string): number {
    this.need(1, field);
    return this.bytes[this.#offset++] ?? 0;
  }

  u16(field: string): number {
    this.need(2, field);
    const value = (this.bytes[this.#offset] ?? 0) | ((this.bytes[this.#offset + 1] ?? 0) << 8);
    this.#offset += 2;
    return value;
  }

  u24(field: string): number {
    this.need(3, field);
    const at = this.#offset;
    this.#offset += 3;
    return (this.bytes[at] ?? 0) | ((this.bytes[at + 1] ?? 0) << 8) | ((this.bytes[at + 2] ?? 0) << 16);
  }

  /** A copy, so parsed structures never alias the caller's buffer. */
  take(count: number, field: string): Uint8Array {
    this.need(count, field);
    const value = this.bytes.slice(this.#offset, this.#offset + count);
    this.#offset += count;
    return value;
  }
}

function parseRequest(cursor: Cursor): SpdmRequest {
  const version = cursor.u8('request SPDMVersion');
  if (version !== SPDM_VERSION_1_1) {
    throw new EvidenceError('unsupported', `NVIDIA report: SPDM version 0x${version.toString(16)} (only 1.1, 0x11)`);
  }
  const code = cursor.u8('request code');
  if (code !== GET_MEASUREMENTS) malformed(`request code 0x${code.toString(16)} is not GET_MEASUREMENTS (0xe0)`);
  const param1 = cursor.u8('request Param1');
  if ((param1 & SIGNATURE_REQUESTED) === 0) {
    throw new EvidenceError('unsupported', 'NVIDIA report: the request did not ask for signed measurements');
  }
  const measurementOperation = cursor.u8('request Param2');
  const nonce = cursor.take(NONCE_BYTES, 'request nonce');
  const slotId = cursor.u8('request SlotIDParam') & 0x0f;
  return { version, param1, measurementOperation, nonce, slotId };
}

function parseBlocks(record: Uint8Array, count: number): MeasurementBlock[] {
  const cursor = new Cursor(record);
  const blocks: MeasurementBlock[] = [];
  const seen = new Set<number>();
  for (let i = 0; i < count; i++) {
    const index = cursor.u8(`block ${i} Index`);
    const specification = cursor.u8(`block ${i} MeasurementSpecification`);
    const size = cursor.u16(`block ${i} MeasurementSize`);
    if (specification !== DMTF_SPECIFICATION) {
      throw new EvidenceError('unsupported', `NVIDIA report: measurement block ${index} is not in the DMTF layout (specification 0x${specification.toString(16)})`);
    }
    // Index 0 and 0xFF are request operations (count, all), never the name of a block.
    if (index === 0 || index === 0xff) malformed(`measurement block index ${index} is reserved`);
    if (seen.has(index)) malformed(`measurement block index ${index} appears twice`);
    seen.add(index);
    const measurement = new Cursor(cursor.take(size, `block ${index} Measurement`));
    const valueType = measurement.u8(`block ${index} DMTFSpecMeasurementValueType`);
    const valueSize = measurement.u16(`block ${index} DMTFSpecMeasurementValueSize`);
    if (valueSize !== measurement.remaining) malformed(`measurement block ${index} declares a ${valueSize}-byte value in ${measurement.remaining} bytes`);
    if ((valueType & RAW_BIT_STREAM) !== 0) {
      throw new EvidenceError('unsupported', `NVIDIA report: measurement block ${index} is a raw bit stream, not a digest`);
    }
    if (valueSize !== SHA384_BYTES) {
      throw new EvidenceError('unsupported', `NVIDIA report: measurement block ${index} holds a ${valueSize}-byte digest (only SHA-384)`);
    }
    blocks.push({ index, valueType, digest: measurement.take(valueSize, `block ${index} value`) });
  }
  if (cursor.remaining !== 0) malformed(`${cursor.remaining} bytes in the measurement record after its ${count} blocks`);
  return blocks;
}

function parseResponse(cursor: Cursor, request: SpdmRequest): SpdmResponse {
  const version = cursor.u8('response SPDMVersion');
  if (version !== request.version) malformed(`response version 0x${version.toString(16)} differs from the request's`);
  const code = cursor.u8('response code');
  if (code !== MEASUREMENTS) malformed(`response code 0x${code.toString(16)} is not MEASUREMENTS (0x60)`);
  const param1 = cursor.u8('response Param1');
  const param2 = cursor.u8('response Param2');
  if ((param2 & 0x0f) !== request.slotId) malformed(`response slot ${param2 & 0x0f} differs from the requested slot ${request.slotId}`);
  const count = cursor.u8('NumberOfBlocks');
  if (count === 0) malformed('the response carries no measurement blocks');
  const recordLength = cursor.u24('MeasurementRecordLength');
  const record = cursor.take(recordLength, 'MeasurementRecord');
  const blocks = parseBlocks(record, count);
  const responderNonce = cursor.take(NONCE_BYTES, 'response nonce');
  const opaqueLength = cursor.u16('OpaqueLength');
  if (opaqueLength > MAX_OPAQUE_BYTES) malformed(`OpaqueLength ${opaqueLength} is above ${MAX_OPAQUE_BYTES}`);
  const opaqueData = cursor.take(opaqueLength, 'OpaqueData');
  return { version, param1, param2, blocks, record, responderNonce, opaqueData };
}

/** Parses request ‖ response ‖ signature [‖ ignored trailing bytes]. */
export function parseSpdmReport(bytes: Uint8Array): SpdmReport {
  const cursor = new Cursor(bytes);
  const request = parseRequest(cursor);
  const response = parseResponse(cursor, request);
  const signedLength = cursor.offset;
  const signature = cursor.take(SIGNATURE_BYTES, 'signature');
  return { request, response, signed: bytes.slice(0, signedLength), signature, trailingBytes: cursor.remaining };
}
