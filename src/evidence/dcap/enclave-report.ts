import { LeReader } from './reader.js';

/**
 * The SGX enclave REPORT body (Intel SDM vol. 3D, "REPORT"; the 384 bytes an SGX quote
 * signs, and the QE report inside every DCAP quote). Offsets:
 *
 *   0 CPUSVN 16 · 16 MISCSELECT 4 · 20 reserved 12 · 32 ISVEXTPRODID 16 · 48 ATTRIBUTES 16
 *   64 MRENCLAVE 32 · 96 reserved 32 · 128 MRSIGNER 32 · 160 reserved 32 · 192 CONFIGID 64
 *   256 ISVPRODID 2 · 258 ISVSVN 2 · 260 CONFIGSVN 2 · 262 reserved 42 · 304 ISVFAMILYID 16
 *   320 REPORTDATA 64
 */

export const ENCLAVE_REPORT_SIZE = 384;

export interface EnclaveReport {
  readonly cpuSvn: Uint8Array;
  /** The four bytes as stored (little-endian u32), compared bytewise with Intel's hex. */
  readonly miscSelect: Uint8Array;
  readonly isvExtProdId: Uint8Array;
  readonly attributes: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly configId: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly configSvn: number;
  readonly isvFamilyId: Uint8Array;
  readonly reportData: Uint8Array;
}

/** ATTRIBUTES.DEBUG is bit 1 of the flags (the first attribute byte). */
export function enclaveDebug(report: EnclaveReport): boolean {
  return ((report.attributes[0] ?? 0) & 0x02) !== 0;
}

export function parseEnclaveReport(bytes: Uint8Array, what: string): EnclaveReport {
  const r = new LeReader(bytes, what);
  const cpuSvn = r.take(16, 'CPUSVN');
  const miscSelect = r.take(4, 'MISCSELECT');
  r.take(12, 'reserved');
  const isvExtProdId = r.take(16, 'ISVEXTPRODID');
  const attributes = r.take(16, 'ATTRIBUTES');
  const mrEnclave = r.take(32, 'MRENCLAVE');
  r.take(32, 'reserved');
  const mrSigner = r.take(32, 'MRSIGNER');
  r.take(32, 'reserved');
  const configId = r.take(64, 'CONFIGID');
  const isvProdId = r.u16('ISVPRODID');
  const isvSvn = r.u16('ISVSVN');
  const configSvn = r.u16('CONFIGSVN');
  r.take(42, 'reserved');
  const isvFamilyId = r.take(16, 'ISVFAMILYID');
  const reportData = r.take(64, 'REPORTDATA');
  r.end();
  return { cpuSvn, miscSelect, isvExtProdId, attributes, mrEnclave, mrSigner, configId, isvProdId, isvSvn, configSvn, isvFamilyId, reportData };
}
