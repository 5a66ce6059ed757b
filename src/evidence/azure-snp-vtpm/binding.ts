import { createHash } from 'node:crypto';
import { EvidenceError } from '../plugin.js';

/**
 * How the SNP report vouches for the vTPM: the paravisor requests the report at VMPL 0
 * with REPORT_DATA = SHA-256(runtime data) ‖ 32 zero bytes, and the runtime data names the
 * vTPM attestation key. Both checks are pure.
 */

/**
 * Only the paravisor runs at VMPL 0. The guest OS (VMPL 2 on Azure) can also ask the
 * firmware for a report with REPORT_DATA of its choosing, so a report from any other level
 * could vouch for a key the guest made up.
 */
export function checkParavisorVmpl(vmpl: number): void {
  if (vmpl !== 0) {
    throw new EvidenceError('chain', `the SNP report was requested at VMPL ${vmpl}, not by the paravisor at VMPL 0, so it does not vouch for the vTPM`);
  }
}

/** REPORT_DATA[0:32] must be SHA-256 of the runtime data, and [32:64] zero. */
export function checkRuntimeDataBinding(reportData: Uint8Array, runtimeData: Uint8Array): void {
  const digest = createHash('sha256').update(runtimeData).digest();
  if (reportData.length !== 64 || !digest.equals(reportData.subarray(0, 32))) {
    throw new EvidenceError('measurement-mismatch', 'the HCL runtime data does not hash to the SNP REPORT_DATA');
  }
  if (!reportData.subarray(32).every((b) => b === 0)) {
    throw new EvidenceError('measurement-mismatch', 'the SNP REPORT_DATA has non-zero bytes after the runtime-data digest');
  }
}
