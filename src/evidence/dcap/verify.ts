import { createHash } from 'node:crypto';
import { CovenantError } from '../../core/errors.js';
import { EvidenceError, type Claims, type VerifyContext } from '../plugin.js';
import { trustedPlatform } from './cache.js';
import { sgxClaims, tdxClaims } from './claims.js';
import { p256FromRaw, verifyP256 } from './ecdsa.js';
import { checkQeIdentity } from './qe-identity.js';
import { parseQuote, type TeeKind } from './quote.js';
import { equalBytes, isAllZero } from './reader.js';
import { evaluateTcb } from './tcb.js';

/**
 * One quote, verified as Intel's QVL does (numbers are QVL's steps):
 *
 * 1. parse by declared lengths; only ECDSA-256-with-P-256 and Intel's QE;
 * 2. the PCK chain and the collateral, back to the trust anchor (trust.ts, cached);
 * 3. the QE report signature with the PCK key (4.1.2.4.12);
 * 4. the QE report binds the attestation key: REPORTDATA = SHA-256(attestation key ‖
 *    QE authentication data) ‖ 32 zero bytes (4.1.2.4.13);
 * 5. the quote signature over header ‖ body with the attestation key (4.1.2.4.16);
 * 6. the QE report against Intel's QE identity (4.1.2.4.15);
 * 7. the TCB level, the TDX module, and the statuses folded together (4.1.2.4.17);
 * 8. `expectedNonce`, if given, must be where the quote's REPORTDATA starts.
 *
 * Throws only EvidenceError (or CovenantError 'bad-request' for an invalid `now`); the
 * plugins wrap this to contain anything else.
 */
export async function verifyDcapQuote(evidence: Uint8Array, context: VerifyContext, expected: TeeKind): Promise<Claims> {
  if (!(context.now instanceof Date) || Number.isNaN(context.now.getTime())) {
    throw new CovenantError('bad-request', 'VerifyContext.now must be a valid Date');
  }
  const quote = parseQuote(evidence);
  if (quote.tee !== expected) {
    throw new EvidenceError('unsupported', `this is a ${quote.tee.toUpperCase()} quote; the ${expected} plugin verifies ${expected.toUpperCase()} quotes`);
  }
  const trusted = trustedPlatform(quote.tee, quote.pckChain, context);

  if (!verifyP256(trusted.pckKey, quote.qeReportBytes, quote.qeReportSignature)) {
    throw new EvidenceError('signature', "the QE report signature does not verify with the PCK certificate's key");
  }
  const binding = createHash('sha256').update(quote.attestationKey).update(quote.qeAuthData).digest();
  const qeData = quote.qeReport.reportData;
  if (!equalBytes(qeData.subarray(0, 32), binding) || !isAllZero(qeData.subarray(32))) {
    throw new EvidenceError('signature', 'the QE report does not certify this attestation key: its REPORTDATA is not SHA-256(attestation key ‖ QE authentication data) and 32 zero bytes');
  }
  const key = p256FromRaw(quote.attestationKey);
  if (key === undefined) throw new EvidenceError('signature', 'the attestation key is not a point on P-256');
  if (!verifyP256(key, quote.signedBytes, quote.signature)) throw new EvidenceError('signature', 'the quote signature does not verify with the attestation key');

  const qe = checkQeIdentity(trusted.qeIdentity, quote.qeReport);
  const body = quote.body;
  const evaluation = evaluateTcb(
    trusted.tcbInfo,
    trusted.pckExtensions.tcb,
    qe,
    body.kind === 'sgx' ? undefined : { report: body.report, quoteVersion: quote.header.version },
  );
  const claims = body.kind === 'sgx' ? sgxClaims(quote, body.report, trusted, evaluation) : tdxClaims(quote, body.report, trusted, evaluation);

  const nonce = context.expectedNonce;
  if (nonce !== undefined && !equalBytes(body.report.reportData.subarray(0, nonce.length), nonce)) {
    throw new EvidenceError('nonce', 'REPORTDATA does not start with the expected nonce');
  }
  return claims;
}
