import { verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { EvidenceError } from '../plugin.js';
import type { EndorsementExtensions } from './certificates.js';
import { SIGNED_LENGTH, SIG_ALGO_ECDSA_P384_SHA384, isAllZero } from './report.js';
import type { SnpReport, TcbVersion } from './report.js';

/**
 * Checks the report signature: ECDSA P-384 / SHA-384 over bytes 0x000..0x29F. The report
 * stores r and s little-endian in 72-byte fields; the parser already turned them into
 * 48-byte big-endian scalars, which concatenate into the IEEE P1363 form node:crypto takes.
 */
export function verifyReportSignature(bytes: Uint8Array, report: SnpReport, key: KeyObject): void {
  if (report.signatureAlgo !== SIG_ALGO_ECDSA_P384_SHA384) {
    throw new EvidenceError('unsupported', `SEV-SNP signature algorithm ${report.signatureAlgo} is not ECDSA P-384/SHA-384 (1)`);
  }
  if (report.signingKey === 'none' || report.maskChipKey) {
    throw new EvidenceError('signature', 'SEV-SNP report is unsigned (SIGNING_KEY none or MASK_CHIP_KEY set)');
  }
  // A P-384 scalar has 48 bytes; anything above them makes r or s out of range.
  if (!report.signatureHighBytesZero) {
    throw new EvidenceError('signature', 'SEV-SNP signature r or s exceeds 48 bytes');
  }
  const signature = Buffer.concat([report.signatureR, report.signatureS]);
  let ok: boolean;
  try {
    ok = cryptoVerify('sha384', bytes.subarray(0, SIGNED_LENGTH), { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch (cause) {
    throw new EvidenceError('signature', 'SEV-SNP report signature could not be checked', { cause });
  }
  if (!ok) throw new EvidenceError('signature', 'SEV-SNP report signature does not verify with the endorsement key');
}

/**
 * Pure comparison of the report's REPORTED_TCB with the VCEK/VLEK SPL extensions. Returns
 * one line per disagreement (an absent extension counts as one: an endorsement that does
 * not state a component cannot vouch for it); empty means they agree.
 */
export function compareTcb(reported: TcbVersion, spl: EndorsementExtensions): string[] {
  const problems: string[] = [];
  const pairs: [string, number | undefined, number | undefined][] = [
    ['bootloader (blSPL)', reported.bootloader, spl.bootloader],
    ['tee (teeSPL)', reported.tee, spl.tee],
    ['snp (snpSPL)', reported.snp, spl.snp],
    ['microcode (ucodeSPL)', reported.microcode, spl.microcode],
  ];
  if (reported.fmc !== undefined) pairs.push(['fmc (fmcSPL)', reported.fmc, spl.fmc]);
  for (const [name, inReport, inCert] of pairs) {
    if (inCert === undefined) problems.push(`${name}: certificate has no such extension`);
    else if (inCert !== inReport) problems.push(`${name}: report ${inReport}, certificate ${inCert}`);
  }
  return problems;
}

/**
 * Pure comparison of CHIP_ID with the VCEK hwID. Turin hwIDs are 8 bytes and the report's
 * chip id is those 8 bytes followed by zeros. Returns a problem, or undefined when equal.
 */
export function compareChipId(chipId: Uint8Array, hwId: Uint8Array | undefined): string | undefined {
  if (hwId === undefined) return 'VCEK has no hwID extension';
  if (hwId.length > chipId.length) return `hwID is ${hwId.length} bytes, chip id ${chipId.length}`;
  const head = chipId.subarray(0, hwId.length);
  if (!Buffer.from(head).equals(Buffer.from(hwId)) || !isAllZero(chipId.subarray(hwId.length))) {
    return 'report CHIP_ID differs from the VCEK hwID';
  }
  return undefined;
}

/**
 * The endorsement check: the key that signs must be the one AMD issued for this report's
 * TCB (and, for a VCEK, this chip). Throws 'endorsement-mismatch'.
 *
 * CHIP_ID is compared only for VCEKs: VLEK reports carry no chip identity. A VCEK report
 * whose chip id the host masked to zero (MASK_CHIP_ID) is accepted without the comparison,
 * because the VCEK is itself chip-unique, so its signature already binds the chip.
 */
export function checkEndorsement(report: SnpReport, kind: 'vcek' | 'vlek', ext: EndorsementExtensions): { chipIdChecked: boolean } {
  const problems = compareTcb(report.reportedTcb, ext);
  let chipIdChecked = false;
  if (kind === 'vcek' && !isAllZero(report.chipId)) {
    const chip = compareChipId(report.chipId, ext.hwId);
    if (chip !== undefined) problems.push(chip);
    chipIdChecked = true;
  }
  if (problems.length > 0) {
    throw new EvidenceError('endorsement-mismatch', `SEV-SNP report disagrees with its ${kind.toUpperCase()}: ${problems.join('; ')}`);
  }
  return { chipIdChecked };
}
