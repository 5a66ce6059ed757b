import { EvidenceError } from '../plugin.js';
import { ENCLAVE_REPORT_SIZE, parseEnclaveReport, type EnclaveReport } from './enclave-report.js';
import { LeReader, toHex } from './reader.js';
import { parseTdReport, TD10_REPORT_SIZE, TD15_REPORT_SIZE, type TdReport } from './td-report.js';

/**
 * Pure parser of Intel DCAP ECDSA quotes (Intel SGX ECDSA Quote Library API, "Quote
 * Format"; Intel TDX DCAP Quoting Library API, quote v4 and v5). Bytes in, typed fields
 * or a typed EvidenceError out; every field is read by its declared length.
 *
 * - Header, 48 bytes: version u16, attestation key type u16, TEE type u32 (v3: reserved,
 *   zero), QE SVN u16 and PCE SVN u16 (v3; reserved since v4), QE vendor id 16, user data 20.
 * - Body: v3 and v4 by TEE type (SGX report 384 bytes, TD report 584 bytes); v5 names
 *   it: u16 type (1 SGX, 2 TD 1.0, 3 TD 1.5) and u32 size, then the report.
 * - Signature data: u32 length, then the quote signature (r‖s, 64), the attestation
 *   key (x‖y, 64) and certification data (u16 type, u32 size, data). In v3 the QE report,
 *   its signature and the QE authentication data come before the certification data,
 *   which must be type 5 (PCK chain). From v4 on they sit inside a type-6 certification
 *   data wrapper, followed by the type-5 PCK chain.
 *
 * Nested regions must be filled exactly by their parts; bytes after the signature data
 * are tolerated (real quotes carry zero padding there) and never read.
 */

export const QUOTE_HEADER_SIZE = 48;
export const SUPPORTED_QUOTE_VERSIONS: readonly number[] = [3, 4, 5];
export const ATTESTATION_KEY_ECDSA_P256 = 2;
export const TEE_TYPE_SGX = 0x00;
export const TEE_TYPE_TDX = 0x81;
export const INTEL_QE_VENDOR_ID = '939a7233f79c4ca9940a0db3957f0607';
/** A quote with a three-certificate PEM chain is about 5 KB; this leaves room and bounds the work. */
export const MAX_QUOTE_BYTES = 256 * 1024;

const CERT_DATA_PCK_CHAIN = 5;
const CERT_DATA_QE_REPORT = 6;

const ATTESTATION_KEY_TYPES: Readonly<Record<number, string>> = { 2: 'ECDSA-256-with-P-256', 3: 'ECDSA-384-with-P-384' };
const CERT_DATA_TYPES: Readonly<Record<number, string>> = {
  1: 'PPID in clear text',
  2: 'PPID RSA-2048-OAEP encrypted',
  3: 'PPID RSA-3072-OAEP encrypted',
  4: 'PCK certificate in clear text',
  5: 'PCK certificate chain',
  6: 'QE report certification data',
  7: 'platform manifest',
};

export type TeeKind = 'sgx' | 'tdx';

export type QuoteBody =
  | { readonly kind: 'sgx'; readonly report: EnclaveReport }
  | { readonly kind: 'td10'; readonly report: TdReport }
  | { readonly kind: 'td15'; readonly report: TdReport };

export interface QuoteHeader {
  readonly version: number;
  readonly attestationKeyType: number;
  readonly teeType: number;
  /** Meaningful in v3 only (reserved since v4). */
  readonly qeSvn: number;
  readonly pceSvn: number;
  readonly qeVendorId: Uint8Array;
  readonly userData: Uint8Array;
}

export interface Quote {
  readonly header: QuoteHeader;
  readonly tee: TeeKind;
  readonly body: QuoteBody;
  /** v5's body type (1, 2 or 3); undefined for v3 and v4. */
  readonly bodyType?: number;
  /** Header, the v5 body descriptor and the body: what the attestation key signs. */
  readonly signedBytes: Uint8Array;
  /** ECDSA r‖s over signedBytes. */
  readonly signature: Uint8Array;
  /** Raw P-256 public key x‖y. */
  readonly attestationKey: Uint8Array;
  readonly qeReportBytes: Uint8Array;
  readonly qeReport: EnclaveReport;
  /** ECDSA r‖s over qeReportBytes, by the PCK key. */
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  /** The type-5 certification data: PEM PCK leaf, intermediate CA and root, NUL-terminated. */
  readonly pckChain: Uint8Array;
  /** Bytes after the signature data, ignored. */
  readonly trailingBytes: number;
}

function unsupportedCertData(type: number, expected: number, where: string): EvidenceError {
  const name = CERT_DATA_TYPES[type];
  return new EvidenceError(
    'unsupported',
    `${where} is certification data type ${type}${name ? ` (${name})` : ''}; only type ${expected} (${CERT_DATA_TYPES[expected]}) is supported`,
  );
}

interface QeCertification {
  readonly qeReportBytes: Uint8Array;
  readonly qeReportSignature: Uint8Array;
  readonly qeAuthData: Uint8Array;
  readonly pckChain: Uint8Array;
}

/** QE report ‖ its signature ‖ auth data ‖ type-5 certification data (v3 signature data, v4+ type 6). */
function readQeCertification(r: LeReader): QeCertification {
  const qeReportBytes = r.take(ENCLAVE_REPORT_SIZE, 'QE report');
  const qeReportSignature = r.take(64, 'QE report signature');
  const authSize = r.u16('QE authentication data size');
  const qeAuthData = r.take(authSize, 'QE authentication data');
  const type = r.u16('certification data type');
  const size = r.u32('certification data size');
  const pckChain = r.take(size, 'certification data');
  if (type !== CERT_DATA_PCK_CHAIN) throw unsupportedCertData(type, CERT_DATA_PCK_CHAIN, 'the QE certification data');
  return { qeReportBytes, qeReportSignature, qeAuthData, pckChain };
}

function readBody(r: LeReader, version: number, teeType: number): { body: QuoteBody; bodyType?: number } {
  if (version < 5) {
    if (teeType === TEE_TYPE_SGX) return { body: { kind: 'sgx', report: parseEnclaveReport(r.take(ENCLAVE_REPORT_SIZE, 'SGX report body'), 'SGX report body') } };
    return { body: { kind: 'td10', report: parseTdReport(r.take(TD10_REPORT_SIZE, 'TD report body'), 'TD report body', false) } };
  }
  const bodyType = r.u16('body type');
  const size = r.u32('body size');
  const layouts: Readonly<Record<number, { size: number; tee: number; name: string }>> = {
    1: { size: ENCLAVE_REPORT_SIZE, tee: TEE_TYPE_SGX, name: 'SGX enclave report' },
    2: { size: TD10_REPORT_SIZE, tee: TEE_TYPE_TDX, name: 'TD report 1.0' },
    3: { size: TD15_REPORT_SIZE, tee: TEE_TYPE_TDX, name: 'TD report 1.5' },
  };
  const layout = layouts[bodyType];
  if (layout === undefined) throw new EvidenceError('unsupported', `quote v5 body type ${bodyType} is not supported (1 SGX, 2 TD 1.0, 3 TD 1.5)`);
  if (layout.tee !== teeType) throw new EvidenceError('malformed', `quote v5 body type ${bodyType} (${layout.name}) contradicts TEE type 0x${teeType.toString(16)}`);
  if (size !== layout.size) throw new EvidenceError('malformed', `quote v5 body type ${bodyType} (${layout.name}) must be ${layout.size} bytes, declared ${size}`);
  const bytes = r.take(size, layout.name);
  if (bodyType === 1) return { body: { kind: 'sgx', report: parseEnclaveReport(bytes, layout.name) }, bodyType };
  return { body: { kind: bodyType === 2 ? 'td10' : 'td15', report: parseTdReport(bytes, layout.name, bodyType === 3) }, bodyType };
}

export function parseQuote(input: Uint8Array): Quote {
  if (!(input instanceof Uint8Array)) throw new EvidenceError('malformed', 'a DCAP quote must be bytes');
  if (input.length > MAX_QUOTE_BYTES) throw new EvidenceError('malformed', `a DCAP quote of ${input.length} bytes exceeds the ${MAX_QUOTE_BYTES}-byte bound`);
  // A private copy: every field below is a view into it, and no caller can change it under us.
  const bytes = new Uint8Array(input);
  const r = new LeReader(bytes, 'DCAP quote');

  const version = r.u16('version');
  if (!SUPPORTED_QUOTE_VERSIONS.includes(version)) {
    throw new EvidenceError('unsupported', `DCAP quote version ${version} is not supported (supported: ${SUPPORTED_QUOTE_VERSIONS.join(', ')})`);
  }
  const attestationKeyType = r.u16('attestation key type');
  if (attestationKeyType !== ATTESTATION_KEY_ECDSA_P256) {
    const name = ATTESTATION_KEY_TYPES[attestationKeyType];
    throw new EvidenceError('unsupported', `attestation key type ${attestationKeyType}${name ? ` (${name})` : ''} is not supported; only 2 (ECDSA-256-with-P-256)`);
  }
  const teeType = r.u32('TEE type');
  if (teeType !== TEE_TYPE_SGX && teeType !== TEE_TYPE_TDX) {
    throw new EvidenceError('unsupported', `TEE type 0x${teeType.toString(16)} is neither SGX (0x00) nor TDX (0x81)`);
  }
  if (version === 3 && teeType !== TEE_TYPE_SGX) throw new EvidenceError('unsupported', 'quote v3 is SGX only, but its TEE type field is not zero');
  const qeSvn = r.u16('QE SVN');
  const pceSvn = r.u16('PCE SVN');
  const qeVendorId = r.take(16, 'QE vendor id');
  // Intel's QE identity is the only one this verifier can appraise, so another vendor's QE is a format it does not know.
  if (toHex(qeVendorId) !== INTEL_QE_VENDOR_ID) {
    throw new EvidenceError('unsupported', `QE vendor id ${toHex(qeVendorId)} is not Intel's (${INTEL_QE_VENDOR_ID})`);
  }
  const userData = r.take(20, 'user data');

  const { body, bodyType } = readBody(r, version, teeType);
  const signedBytes = bytes.subarray(0, r.position);

  const signatureDataSize = r.u32('signature data size');
  const s = r.region(signatureDataSize, 'signature data');
  const trailingBytes = r.remaining;
  const signature = s.take(64, 'quote signature');
  const attestationKey = s.take(64, 'attestation key');
  let qe: QeCertification;
  if (version === 3) {
    qe = readQeCertification(s);
  } else {
    const type = s.u16('certification data type');
    const size = s.u32('certification data size');
    const wrapper = s.region(size, 'certification data');
    if (type !== CERT_DATA_QE_REPORT) throw unsupportedCertData(type, CERT_DATA_QE_REPORT, `quote v${version} certification data`);
    qe = readQeCertification(wrapper);
    wrapper.end();
  }
  s.end();

  return {
    header: { version, attestationKeyType, teeType, qeSvn, pceSvn, qeVendorId, userData },
    tee: teeType === TEE_TYPE_TDX ? 'tdx' : 'sgx',
    body,
    ...(bodyType === undefined ? {} : { bodyType }),
    signedBytes,
    signature,
    attestationKey,
    qeReportBytes: qe.qeReportBytes,
    qeReport: parseEnclaveReport(qe.qeReportBytes, 'QE report'),
    qeReportSignature: qe.qeReportSignature,
    qeAuthData: qe.qeAuthData,
    pckChain: qe.pckChain,
    trailingBytes,
  };
}
