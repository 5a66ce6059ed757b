import { EvidenceError } from '../plugin.js';

/**
 * The MEASUREMENTS response's OpaqueData, which NVIDIA fills with typed fields:
 * `DataType (u16 LE) ‖ DataSize (u16 LE) ‖ Data`, repeated to the end. The field ids and
 * names are NVIDIA's (nvtrust local_gpu_verifier `OPAQUE_FIELD_ID_*`, and the snake-case
 * names Trustee's verifier gives them in its claims), so a policy written against either
 * reads the same names here. The opaque data is signed with the rest of the response;
 * this module only gives it shape.
 */

export type OpaqueValue = string | number | readonly string[] | Readonly<Record<string, number>>;

type Decoding = 'text' | 'hex' | 'vbios' | 'counts' | 'pdi' | 'u64' | 'nvdec' | 'feature';

const FIELDS: ReadonlyMap<number, { readonly name: string; readonly decoding: Decoding }> = new Map([
  [1, { name: 'cert_issuer_name', decoding: 'hex' }],
  [2, { name: 'cert_authority_key_identifier', decoding: 'hex' }],
  [3, { name: 'driver_version', decoding: 'text' }],
  [4, { name: 'gpu_info', decoding: 'hex' }],
  [5, { name: 'id_sku', decoding: 'hex' }],
  [6, { name: 'vbios_version', decoding: 'vbios' }],
  [7, { name: 'manufacturer_id', decoding: 'hex' }],
  [8, { name: 'tamper_detection', decoding: 'hex' }],
  [9, { name: 'smc', decoding: 'hex' }],
  [10, { name: 'vpr', decoding: 'hex' }],
  [11, { name: 'nvdec0_status', decoding: 'nvdec' }],
  [12, { name: 'measurement_count', decoding: 'counts' }],
  [13, { name: 'cpr_info', decoding: 'hex' }],
  [14, { name: 'board_id', decoding: 'hex' }],
  [15, { name: 'chip_sku', decoding: 'text' }],
  [16, { name: 'chip_sku_mod', decoding: 'text' }],
  [17, { name: 'project', decoding: 'text' }],
  [18, { name: 'project_sku', decoding: 'text' }],
  [19, { name: 'project_sku_mod', decoding: 'hex' }],
  [20, { name: 'fwid', decoding: 'hex' }],
  [21, { name: 'protected_pcie_status', decoding: 'hex' }],
  [22, { name: 'switch_pdi', decoding: 'pdi' }],
  [23, { name: 'floorswept_ports', decoding: 'hex' }],
  [24, { name: 'position_id', decoding: 'hex' }],
  [25, { name: 'lock_switch_status', decoding: 'hex' }],
  [32, { name: 'gpu_link_conn', decoding: 'hex' }],
  [33, { name: 'sys_enable_status', decoding: 'hex' }],
  [34, { name: 'opaque_data_version', decoding: 'u64' }],
  [35, { name: 'chip_info', decoding: 'text' }],
  [36, { name: 'feature_flag', decoding: 'feature' }],
]);

/** OPAQUE_FIELD_ID_INVALID: never a field a GPU may send. */
const INVALID_FIELD = 0xff;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * NUL-padded ASCII. Bytes that are not printable ASCII are shown as `0x<hex>`, so a
 * policy comparing `driver_version` with "550.90.07" can never be fooled by look-alikes.
 */
function text(bytes: Uint8Array): string {
  let end = bytes.length;
  while (end > 0 && bytes[end - 1] === 0) end--;
  const body = bytes.subarray(0, end);
  return body.every((b) => b >= 0x20 && b <= 0x7e) ? Buffer.from(body).toString('latin1') : `0x${hex(bytes)}`;
}

/** `00 9f 00 96 01 00 00 00` → `96.00.9f.00.01`: the first half byte-reversed, then the next byte. */
function vbios(bytes: Uint8Array): string {
  if (bytes.length < 2) return `0x${hex(bytes)}`;
  const half = bytes.length >> 1;
  const head = [...bytes.subarray(0, half)].reverse().map((b) => b.toString(16).padStart(2, '0'));
  return [...head, (bytes[half] ?? 0).toString(16).padStart(2, '0')].join('.');
}

function fixedChunks(bytes: Uint8Array, size: number, field: string): Uint8Array[] {
  if (bytes.length % size !== 0) throw new EvidenceError('malformed', `NVIDIA opaque data: ${field} is not a multiple of ${size} bytes`);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return chunks;
}

/** One u32 LE per measurement index, keyed from 1 like the measurement blocks. */
function counts(bytes: Uint8Array): Record<string, number> {
  const out: Record<string, number> = {};
  fixedChunks(bytes, 4, 'measurement_count').forEach((chunk, i) => {
    out[String(i + 1)] = Buffer.from(chunk).readUInt32LE(0);
  });
  return out;
}

function u64(bytes: Uint8Array, field: string): bigint {
  if (bytes.length > 8) throw new EvidenceError('malformed', `NVIDIA opaque data: ${field} is ${bytes.length} bytes, above a u64`);
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i] ?? 0);
  return value;
}

/** JSON numbers lose bits above 2^53; such values stay decimal strings. */
const jsonInteger = (value: bigint): number | string => (value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString());

function nvdec(bytes: Uint8Array): string {
  if (bytes.length === 1 && bytes[0] === 0xaa) return 'enabled';
  if (bytes.length === 1 && bytes[0] === 0x55) return 'disabled';
  return `0x${hex(bytes)}`;
}

const FEATURES = ['SPT', 'MPT', 'PPCIE'] as const;

function decode(decoding: Decoding, bytes: Uint8Array, name: string): OpaqueValue {
  switch (decoding) {
    case 'text':
      return text(bytes);
    case 'hex':
      return hex(bytes);
    case 'vbios':
      return vbios(bytes);
    case 'counts':
      return counts(bytes);
    case 'pdi':
      return fixedChunks(bytes, 8, name).map(hex);
    case 'u64':
      return jsonInteger(u64(bytes, name));
    case 'nvdec':
      return nvdec(bytes);
    case 'feature': {
      const value = u64(bytes, name);
      return value < BigInt(FEATURES.length) ? (FEATURES[Number(value)] ?? 'unknown') : `unknown (${value})`;
    }
  }
}

export interface OpaqueField {
  readonly id: number;
  readonly name: string;
  readonly raw: Uint8Array;
}

export interface OpaqueData {
  readonly fields: readonly OpaqueField[];
  /** Decoded values by field name, in the order the GPU sent them. */
  readonly values: Readonly<Record<string, OpaqueValue>>;
}

/**
 * Parses the TLV list. Field ids this module does not know are kept as hex under
 * `field_<id>` rather than refused: they are signed like the rest, and a driver update
 * that adds one must not make every GPU unverifiable.
 */
export function parseOpaqueData(bytes: Uint8Array): OpaqueData {
  const fields: OpaqueField[] = [];
  const values: Record<string, OpaqueValue> = {};
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 4) throw new EvidenceError('malformed', `NVIDIA opaque data: ${bytes.length - at} bytes left, less than a field header`);
    const id = (bytes[at] ?? 0) | ((bytes[at + 1] ?? 0) << 8);
    const size = (bytes[at + 2] ?? 0) | ((bytes[at + 3] ?? 0) << 8);
    at += 4;
    if (size > bytes.length - at) throw new EvidenceError('malformed', `NVIDIA opaque data: field ${id} declares ${size} bytes, ${bytes.length - at} left`);
    if (id === INVALID_FIELD) throw new EvidenceError('malformed', 'NVIDIA opaque data: a field has the INVALID id 255');
    const raw = bytes.slice(at, at + size);
    at += size;
    const known = FIELDS.get(id);
    const name = known?.name ?? `field_${id}`;
    if (Object.hasOwn(values, name)) throw new EvidenceError('malformed', `NVIDIA opaque data: field ${name} appears twice`);
    values[name] = known === undefined ? hex(raw) : decode(known.decoding, raw, name);
    fields.push({ id, name, raw });
  }
  return { fields, values };
}

/** A decoded text or hex field, when present. */
export function stringField(data: OpaqueData, name: string): string | undefined {
  const value = data.values[name];
  return typeof value === 'string' ? value : undefined;
}
