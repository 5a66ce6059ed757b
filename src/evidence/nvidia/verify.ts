import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { EvidenceError } from '../plugin.js';
import type { Fwid } from './fwid.js';
import type { OpaqueData } from './opaque.js';
import { NONCE_BYTES, type SpdmReport } from './spdm.js';

/** The checks of a parsed report against its trusted leaf: pure apart from the signature. */

/** ECDSA P-384 / SHA-384 over request ‖ response-without-signature, r ‖ s raw. */
export function verifyReportSignature(report: SpdmReport, key: KeyObject): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'secp384r1') {
    throw new EvidenceError('unsupported', `the GPU attestation certificate holds a ${key.asymmetricKeyType ?? 'unknown'} key, not EC P-384`);
  }
  let ok: boolean;
  try {
    ok = cryptoVerify('sha384', report.signed, { key, dsaEncoding: 'ieee-p1363' }, report.signature);
  } catch (cause) {
    throw new EvidenceError('signature', 'NVIDIA report signature could not be checked', { cause });
  }
  if (!ok) throw new EvidenceError('signature', 'NVIDIA report signature does not verify with the GPU attestation certificate');
}

/**
 * The report's opaque `fwid` must be a firmware digest the leaf certificate was issued
 * for. Returns whether the comparison was made: older drivers send no `fwid`, and then
 * only the signature ties the report to the certificate.
 */
export function checkFwid(opaque: OpaqueData, fwids: readonly Fwid[]): boolean {
  const field = opaque.fields.find((f) => f.name === 'fwid');
  if (field === undefined) return false;
  const reported = Buffer.from(field.raw).toString('hex');
  if (fwids.length === 0) {
    throw new EvidenceError('endorsement-mismatch', 'the report names a firmware (fwid) but the GPU attestation certificate has no TcbInfo FWID');
  }
  if (!fwids.some((f) => f.hex === reported)) {
    throw new EvidenceError('endorsement-mismatch', `the report's fwid ${reported} is not the firmware the GPU attestation certificate was issued for`);
  }
  return true;
}

/** The nonce is no secret, so a plain comparison will do. */
export function checkNonce(report: SpdmReport, expected: Uint8Array | undefined): void {
  if (expected === undefined) return;
  if (expected.length !== NONCE_BYTES) {
    throw new EvidenceError('nonce', `the expected nonce is ${expected.length} bytes; an SPDM request nonce is ${NONCE_BYTES}`);
  }
  if (!Buffer.from(report.request.nonce).equals(Buffer.from(expected))) {
    throw new EvidenceError('nonce', 'the SPDM request does not carry the expected nonce');
  }
}
