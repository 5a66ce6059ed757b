import { LeReader } from './reader.js';

/**
 * The TDX TD report body a quote signs (Intel TDX DCAP Quote Generation Library and
 * Quote Verification spec, "TD Report Body"). TD 1.0 (quote v4, and v5 body type 2) is
 * 584 bytes; TD 1.5 (v5 body type 3) appends TEE_TCB_SVN2 and MRSERVICETD, 648 bytes.
 *
 *   0 TEE_TCB_SVN 16 · 16 MRSEAM 48 · 64 MRSIGNERSEAM 48 · 112 SEAMATTRIBUTES 8
 *   120 TDATTRIBUTES 8 · 128 XFAM 8 · 136 MRTD 48 · 184 MRCONFIGID 48 · 232 MROWNER 48
 *   280 MROWNERCONFIG 48 · 328 RTMR0..3 4×48 · 520 REPORTDATA 64
 *   [584 TEE_TCB_SVN2 16 · 600 MRSERVICETD 48]
 */

export const TD10_REPORT_SIZE = 584;
export const TD15_REPORT_SIZE = 648;

export interface TdReport {
  readonly teeTcbSvn: Uint8Array;
  readonly mrSeam: Uint8Array;
  readonly mrSignerSeam: Uint8Array;
  readonly seamAttributes: Uint8Array;
  readonly tdAttributes: Uint8Array;
  readonly xfam: Uint8Array;
  readonly mrTd: Uint8Array;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  readonly rtmrs: readonly [Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  readonly reportData: Uint8Array;
  /** TD 1.5 only. */
  readonly teeTcbSvn2?: Uint8Array;
  readonly mrServiceTd?: Uint8Array;
}

/** TDATTRIBUTES.TUD.DEBUG is bit 0 of the little-endian u64. */
export function tdDebug(report: TdReport): boolean {
  return ((report.tdAttributes[0] ?? 0) & 0x01) !== 0;
}

export function parseTdReport(bytes: Uint8Array, what: string, td15: boolean): TdReport {
  const r = new LeReader(bytes, what);
  const teeTcbSvn = r.take(16, 'TEE_TCB_SVN');
  const mrSeam = r.take(48, 'MRSEAM');
  const mrSignerSeam = r.take(48, 'MRSIGNERSEAM');
  const seamAttributes = r.take(8, 'SEAMATTRIBUTES');
  const tdAttributes = r.take(8, 'TDATTRIBUTES');
  const xfam = r.take(8, 'XFAM');
  const mrTd = r.take(48, 'MRTD');
  const mrConfigId = r.take(48, 'MRCONFIGID');
  const mrOwner = r.take(48, 'MROWNER');
  const mrOwnerConfig = r.take(48, 'MROWNERCONFIG');
  const rtmrs = [r.take(48, 'RTMR0'), r.take(48, 'RTMR1'), r.take(48, 'RTMR2'), r.take(48, 'RTMR3')] as const;
  const reportData = r.take(64, 'REPORTDATA');
  const base = { teeTcbSvn, mrSeam, mrSignerSeam, seamAttributes, tdAttributes, xfam, mrTd, mrConfigId, mrOwner, mrOwnerConfig, rtmrs, reportData };
  if (!td15) {
    r.end();
    return base;
  }
  const teeTcbSvn2 = r.take(16, 'TEE_TCB_SVN2');
  const mrServiceTd = r.take(48, 'MRSERVICETD');
  r.end();
  return { ...base, teeTcbSvn2, mrServiceTd };
}
