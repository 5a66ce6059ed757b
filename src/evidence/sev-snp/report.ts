import { EvidenceError } from '../plugin.js';

/**
 * Pure parser of the AMD SEV-SNP `ATTESTATION_REPORT` (SEV-SNP Firmware ABI spec, 56860,
 * "ATTESTATION_REPORT Structure"). No crypto, no I/O: bytes in, typed fields or a typed
 * EvidenceError out.
 *
 * Versions:
 * - 2: the original layout; 0x188..0x19F reserved.
 * - 3 and 4: CPUID family/model/stepping at 0x188..0x18A, taken from previously reserved
 *   bytes, so every version-2 offset keeps its meaning. Version 4 changed no offsets.
 * - 5: adds LAUNCH_MIT_VECTOR (0x1F8) and CURRENT_MIT_VECTOR (0x200), again inside
 *   previously reserved bytes.
 * Any other version is refused by name ('unsupported'): a layout we have not read the
 * spec for must not be guessed at, since a moved field would be silently misread.
 */

export const REPORT_SIZE = 0x4a0;
/** The report signature covers bytes 0x000..0x29F. */
export const SIGNED_LENGTH = 0x2a0;
export const SIGNATURE_OFFSET = 0x2a0;

export const SUPPORTED_REPORT_VERSIONS: readonly number[] = [2, 3, 4, 5];

/** SIGNATURE_ALGO value for ECDSA P-384 with SHA-384, the only one the ABI defines. */
export const SIG_ALGO_ECDSA_P384_SHA384 = 1;

export type SigningKeyKind = 'vcek' | 'vlek' | 'none';

/** Which byte holds which TCB component differs between Milan/Genoa and Turin (family 1Ah). */
export type TcbLayout = 'milan-genoa' | 'turin';

export interface TcbVersion {
  /** The 8 raw bytes as a little-endian u64, hex (16 digits, most significant first). */
  readonly raw: string;
  readonly bootloader: number;
  readonly tee: number;
  readonly snp: number;
  readonly microcode: number;
  /** Turin only: the FMC SPL. */
  readonly fmc?: number;
}

export interface Cpuid {
  readonly family: number;
  readonly model: number;
  readonly stepping: number;
}

export type ProductGuess = 'Milan' | 'Genoa' | 'Turin';

export interface SnpReport {
  readonly version: number;
  readonly guestSvn: number;
  /** GUEST_POLICY as a u64. */
  readonly policy: bigint;
  readonly familyId: Uint8Array;
  readonly imageId: Uint8Array;
  readonly vmpl: number;
  readonly signatureAlgo: number;
  readonly currentTcb: TcbVersion;
  readonly platformInfo: bigint;
  /** The raw flags word at 0x48 (AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY). */
  readonly flags: number;
  readonly authorKeyEn: boolean;
  /** MASK_CHIP_KEY: the firmware zero-fills the signature instead of signing. */
  readonly maskChipKey: boolean;
  readonly signingKey: SigningKeyKind;
  readonly reportData: Uint8Array;
  readonly measurement: Uint8Array;
  readonly hostData: Uint8Array;
  readonly idKeyDigest: Uint8Array;
  readonly authorKeyDigest: Uint8Array;
  readonly reportId: Uint8Array;
  readonly reportIdMa: Uint8Array;
  readonly reportedTcb: TcbVersion;
  /** Version 3 and later. */
  readonly cpuid?: Cpuid;
  readonly chipId: Uint8Array;
  readonly committedTcb: TcbVersion;
  readonly currentVersion: { readonly major: number; readonly minor: number; readonly build: number };
  readonly committedVersion: { readonly major: number; readonly minor: number; readonly build: number };
  readonly launchTcb: TcbVersion;
  /** Version 5 and later, u64 hex. */
  readonly launchMitVector?: string;
  readonly currentMitVector?: string;
  readonly tcbLayout: TcbLayout;
  /** Derived from CPUID family/model (version 3+); undefined when the report does not say. */
  readonly product?: ProductGuess;
  /** Signature r and s, big-endian, 48 bytes each. */
  readonly signatureR: Uint8Array;
  readonly signatureS: Uint8Array;
  /** Whether bytes 48..71 of the r/s fields are zero, as the ABI requires for P-384. */
  readonly signatureHighBytesZero: boolean;
}

const POLICY_DEBUG_BIT = 19n;

export function policyAllowsDebug(policy: bigint): boolean {
  return ((policy >> POLICY_DEBUG_BIT) & 1n) === 1n;
}

/**
 * CPUID family/model → product, after the ABI's CPUID encoding (family 19h: Milan models
 * 00h–0Fh, Genoa 10h–1Fh and A0h–AFh; family 1Ah: Turin 00h–11h).
 */
export function productFromCpuid(cpuid: Cpuid): ProductGuess | undefined {
  if (cpuid.family === 0x19) {
    if (cpuid.model <= 0x0f) return 'Milan';
    if ((cpuid.model >= 0x10 && cpuid.model <= 0x1f) || (cpuid.model >= 0xa0 && cpuid.model <= 0xaf)) return 'Genoa';
    return undefined;
  }
  if (cpuid.family === 0x1a && cpuid.model <= 0x11) return 'Turin';
  return undefined;
}

export function decodeTcb(bytes: Uint8Array, layout: TcbLayout): TcbVersion {
  if (bytes.length !== 8) throw new EvidenceError('malformed', `TCB_VERSION must be 8 bytes, got ${bytes.length}`);
  const raw = Buffer.from(bytes).reverse().toString('hex');
  const at = (i: number): number => bytes[i] ?? 0;
  if (layout === 'turin') {
    return { raw, fmc: at(0), bootloader: at(1), tee: at(2), snp: at(3), microcode: at(7) };
  }
  return { raw, bootloader: at(0), tee: at(1), snp: at(6), microcode: at(7) };
}

/** Little-endian field of up to 72 bytes → 48-byte big-endian integer (P-384 scalar width). */
function scalarFromLittleEndian(field: Uint8Array): Uint8Array {
  const out = new Uint8Array(48);
  for (let i = 0; i < 48; i++) out[47 - i] = field[i] ?? 0;
  return out;
}

export function parseReport(bytes: Uint8Array): SnpReport {
  if (!(bytes instanceof Uint8Array)) throw new EvidenceError('malformed', 'SEV-SNP report must be bytes');
  if (bytes.length !== REPORT_SIZE) {
    throw new EvidenceError('malformed', `SEV-SNP report must be ${REPORT_SIZE} bytes, got ${bytes.length}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (off: number): number => view.getUint32(off, true);
  const u64 = (off: number): bigint => view.getBigUint64(off, true);
  const slice = (off: number, len: number): Uint8Array => bytes.slice(off, off + len);

  const version = u32(0x00);
  if (!SUPPORTED_REPORT_VERSIONS.includes(version)) {
    throw new EvidenceError('unsupported', `unknown SEV-SNP report version ${version} (supported: ${SUPPORTED_REPORT_VERSIONS.join(', ')})`);
  }

  const flags = u32(0x48);
  const signingKeyField = (flags >>> 2) & 0x7;
  let signingKey: SigningKeyKind;
  if (signingKeyField === 0) signingKey = 'vcek';
  else if (signingKeyField === 1) signingKey = 'vlek';
  else if (signingKeyField === 7) signingKey = 'none';
  else throw new EvidenceError('unsupported', `SEV-SNP report names reserved SIGNING_KEY ${signingKeyField}`);

  let cpuid: Cpuid | undefined;
  let product: ProductGuess | undefined;
  if (version >= 3) {
    cpuid = { family: bytes[0x188] ?? 0, model: bytes[0x189] ?? 0, stepping: bytes[0x18a] ?? 0 };
    product = productFromCpuid(cpuid);
  }
  // Version 2 predates Turin firmware, so a report without CPUID is Milan/Genoa-shaped.
  const tcbLayout: TcbLayout = cpuid?.family === 0x1a ? 'turin' : 'milan-genoa';
  const tcb = (off: number): TcbVersion => decodeTcb(bytes.subarray(off, off + 8), tcbLayout);

  const rField = bytes.subarray(SIGNATURE_OFFSET, SIGNATURE_OFFSET + 72);
  const sField = bytes.subarray(SIGNATURE_OFFSET + 72, SIGNATURE_OFFSET + 144);
  const highZero = rField.subarray(48).every((b) => b === 0) && sField.subarray(48).every((b) => b === 0);

  return {
    version,
    guestSvn: u32(0x04),
    policy: u64(0x08),
    familyId: slice(0x10, 16),
    imageId: slice(0x20, 16),
    vmpl: u32(0x30),
    signatureAlgo: u32(0x34),
    currentTcb: tcb(0x38),
    platformInfo: u64(0x40),
    flags,
    authorKeyEn: (flags & 1) === 1,
    maskChipKey: (flags & 2) === 2,
    signingKey,
    reportData: slice(0x50, 64),
    measurement: slice(0x90, 48),
    hostData: slice(0xc0, 32),
    idKeyDigest: slice(0xe0, 48),
    authorKeyDigest: slice(0x110, 48),
    reportId: slice(0x140, 32),
    reportIdMa: slice(0x160, 32),
    reportedTcb: tcb(0x180),
    ...(cpuid === undefined ? {} : { cpuid }),
    chipId: slice(0x1a0, 64),
    committedTcb: tcb(0x1e0),
    currentVersion: { build: bytes[0x1e8] ?? 0, minor: bytes[0x1e9] ?? 0, major: bytes[0x1ea] ?? 0 },
    committedVersion: { build: bytes[0x1ec] ?? 0, minor: bytes[0x1ed] ?? 0, major: bytes[0x1ee] ?? 0 },
    launchTcb: tcb(0x1f0),
    ...(version >= 5
      ? { launchMitVector: u64(0x1f8).toString(16).padStart(16, '0'), currentMitVector: u64(0x200).toString(16).padStart(16, '0') }
      : {}),
    tcbLayout,
    ...(product === undefined ? {} : { product }),
    signatureR: scalarFromLittleEndian(rField),
    signatureS: scalarFromLittleEndian(sField),
    signatureHighBytesZero: highZero,
  };
}

export function isAllZero(bytes: Uint8Array): boolean {
  return bytes.every((b) => b === 0);
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
