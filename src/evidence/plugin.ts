import { CovenantError } from '../core/errors.js';
import type { JsonWebKey } from 'node:crypto';
import type { Digest, TcbStatus, TeeClass } from '../core/model.js';

/**
 * Evidence plugins turn a TEE's bytes into verified, normalised claims — or a precise
 * typed refusal. They know nothing about policies: whether the claims are acceptable
 * is the verifier's appraisal, later.
 */

/** Why evidence was refused; stable codes that tests and the ledger record. */
export type EvidenceFailure =
  /** Bytes that do not parse as the declared format (truncated, bad lengths, bad encoding). */
  | 'malformed'
  /** A format version or algorithm this plugin does not implement, named in the message. */
  | 'unsupported'
  /** The evidence signature does not verify with the signing key. */
  | 'signature'
  /** A certificate chain does not build or verify to a trust anchor. */
  | 'chain'
  /** A certificate in the chain is not valid at `now` (expired or not yet valid). */
  | 'expired'
  /** A certificate in the chain is revoked. */
  | 'revoked'
  /** Values in the evidence disagree with its endorsement (e.g. SNP reported TCB vs VCEK extensions, chip id vs hwID). */
  | 'endorsement-mismatch'
  /** The evidence does not bind the expected nonce. */
  | 'nonce'
  /** Measured values (e.g. TPM PCRs) do not match the digest the evidence signs. */
  | 'measurement-mismatch'
  /** Something the plugin needs is missing (the VCEK, the AK, the PCR values…). */
  | 'missing-collateral';

export class EvidenceError extends CovenantError {
  readonly reason: EvidenceFailure;

  constructor(reason: EvidenceFailure, message: string, options: { cause?: unknown } = {}) {
    super('evidence-invalid', message, options);
    this.name = 'EvidenceError';
    this.reason = reason;
  }
}

/** Verified claims, normalised across TEE classes (issue: "Normalized claims"). */
export interface Claims {
  readonly teeClass: TeeClass;
  /** Launch measurements (SNP MEASUREMENT, SGX MRENCLAVE, TPM PCR composite…). */
  readonly measurements: readonly Digest[];
  /** Hex identity of the signer of the measured code (SGX MRSIGNER, SNP author key digest), if any. */
  readonly signer?: string;
  readonly product?: string;
  /** Security version of the measured code (SNP guest SVN, SGX ISVSVN). */
  readonly securityVersion?: number;
  readonly debug: boolean;
  readonly tcbStatus?: TcbStatus;
  /** Named TCB component versions (SNP: bootloader, tee, snp, microcode). */
  readonly tcb?: Readonly<Record<string, number>>;
  /** Security-sensitive configuration digests bound by the evidence, by name. */
  readonly config: Readonly<Record<string, Digest>>;
  /** Hex of the evidence's user data (SNP REPORT_DATA, TPM extraData): where nonce and key are bound. */
  readonly reportData?: string;
  /** The instance public key bound by the evidence, when the plugin can name it (JWK). */
  readonly publicKey?: JsonWebKey;
  /** Format-specific claims (chip id, VMPL, PCR values…), JSON-compatible. */
  readonly details: Readonly<Record<string, unknown>>;
}

export interface VerifyContext {
  /** Every validity check is made at this time; nothing reads the clock. */
  readonly now: Date;
  /**
   * Trust anchors (DER X.509 certificates or raw public keys, as the plugin documents);
   * absent means the plugin's shipped defaults (the vendors' official roots).
   */
  readonly trustAnchors?: readonly Uint8Array[];
  /** Further inputs recognised by content: certificates, chains, CRLs, PCR values… */
  readonly collateral?: readonly Uint8Array[];
  /** The nonce the evidence must carry verbatim, for formats that carry it (TPM qualifying data). */
  readonly expectedNonce?: Uint8Array;
}

export interface EvidencePlugin {
  readonly teeClass: TeeClass;
  /** Media types this plugin accepts on the wire. */
  readonly mediaTypes: readonly string[];
  /** Verifies and normalises; throws only EvidenceError (or another CovenantError). */
  verify(evidence: Uint8Array, context: VerifyContext): Promise<Claims>;
}
