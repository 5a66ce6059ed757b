import { EvidenceError } from '../plugin.js';
import { REPORT_SIZE } from '../sev-snp/report.js';

/**
 * Pure parser of the HCL report that Azure's paravisor (the HCL, running at VMPL 0) writes
 * into the vTPM's NV index 0x01400001: a header, the hardware report, and the IGVM request
 * data the hardware report binds.
 *
 * ```
 * 0x000  header: signature "HCLA", version, report_size, request_type, status, reserved[3] (u32 LE each)
 * 0x020  hardware report: the 1184-byte SNP ATTESTATION_REPORT (slot sized for SNP or TDX)
 * 0x4C0  IGVM request data: data_size, version, report_type, report_data_hash_type,
 *        variable_data_size (u32 LE each), then variable_data_size bytes of runtime data
 * ```
 *
 * Nothing here is signed except what the SNP report covers: the SNP report itself, and
 * the runtime data through REPORT_DATA[0:32] = SHA-256(runtime data). The header fields
 * only steer parsing, so they are checked for what parsing needs and otherwise reported.
 */

export const SNP_REPORT_OFFSET = 0x20;
export const IGVM_REQUEST_OFFSET = 0x4c0;
const IGVM_HEADER_BYTES = 20;
export const RUNTIME_DATA_OFFSET = IGVM_REQUEST_OFFSET + IGVM_HEADER_BYTES;
/** "HCLA" read as a u32 LE. */
const HCL_SIGNATURE = 0x414c4348;
/** IGVM report types: 2 is SEV-SNP, 4 TDX (az-tdx-vtpm, another plugin's business). */
const REPORT_TYPE_SNP = 2;
const REPORT_TYPES: Readonly<Record<number, string>> = { 0: 'invalid', 1: 'reserved', 2: 'snp', 3: 'tvm', 4: 'tdx' };
/** IGVM hash types: 1 is SHA-256, the only one the paravisor uses for SNP. */
const HASH_TYPE_SHA256 = 1;
const HASH_TYPES: Readonly<Record<number, string>> = { 0: 'invalid', 1: 'sha256', 2: 'sha384', 3: 'sha512' };

export interface HclReport {
  readonly headerVersion: number;
  readonly reportSize: number;
  readonly requestType: number;
  readonly status: number;
  readonly igvmVersion: number;
  readonly igvmDataSize: number;
  /** A copy of the 1184 SNP report bytes. */
  readonly snpReport: Uint8Array;
  /** A copy of the runtime data (UTF-8 JSON) the SNP REPORT_DATA commits to. */
  readonly runtimeData: Uint8Array;
}

export function parseHclReport(bytes: Uint8Array): HclReport {
  if (bytes.length < RUNTIME_DATA_OFFSET) {
    throw new EvidenceError('malformed', `HCL report is ${bytes.length} bytes, shorter than its ${RUNTIME_DATA_OFFSET}-byte fixed part`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (offset: number): number => view.getUint32(offset, true);
  if (u32(0) !== HCL_SIGNATURE) throw new EvidenceError('malformed', 'HCL report does not start with the signature "HCLA"');

  const reportType = u32(IGVM_REQUEST_OFFSET + 8);
  if (reportType !== REPORT_TYPE_SNP) {
    throw new EvidenceError('unsupported', `HCL report holds a ${REPORT_TYPES[reportType] ?? `type ${reportType}`} hardware report (only SEV-SNP)`);
  }
  const hashType = u32(IGVM_REQUEST_OFFSET + 12);
  if (hashType !== HASH_TYPE_SHA256) {
    throw new EvidenceError('unsupported', `HCL report binds its runtime data with ${HASH_TYPES[hashType] ?? `hash type ${hashType}`} (only SHA-256)`);
  }
  const runtimeSize = u32(IGVM_REQUEST_OFFSET + 16);
  if (runtimeSize > bytes.length - RUNTIME_DATA_OFFSET) {
    throw new EvidenceError('malformed', `HCL report declares ${runtimeSize} bytes of runtime data, ${bytes.length - RUNTIME_DATA_OFFSET} present`);
  }
  return {
    headerVersion: u32(4),
    reportSize: u32(8),
    requestType: u32(12),
    status: u32(16),
    igvmDataSize: u32(IGVM_REQUEST_OFFSET),
    igvmVersion: u32(IGVM_REQUEST_OFFSET + 4),
    snpReport: bytes.slice(SNP_REPORT_OFFSET, SNP_REPORT_OFFSET + REPORT_SIZE),
    runtimeData: bytes.slice(RUNTIME_DATA_OFFSET, RUNTIME_DATA_OFFSET + runtimeSize),
  };
}
