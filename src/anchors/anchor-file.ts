import { CovenantError } from '../core/errors.js';
import { describeCollateral, type CollateralDescription } from '../evidence/collateral.js';
import { EvidenceError } from '../evidence/plugin.js';

function refused(message: string): CovenantError {
  return new CovenantError('validation-failed', `trust anchor: ${message}`, { issues: [{ field: 'certificate', message }] });
}

/**
 * What a trust-anchor file holds, one or more PEM or DER certificates, and the window in
 * which all of them are valid; anything else is refused. Shared by `anchor add` and
 * `serve --anchor`.
 */
export function describeAnchorFile(bytes: Uint8Array): CollateralDescription {
  try {
    const description = describeCollateral(bytes);
    if (description.kind === 'certificates') return description;
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
    throw refused(error.message);
  }
  throw refused('not a PEM or DER certificate');
}

/** An anchor whose window has closed is refused: it could never be used. */
export function refuseExpired(description: CollateralDescription, now: Date): void {
  if (description.notAfter.getTime() <= now.getTime()) throw refused(`${description.subject} expired at ${description.notAfter.toISOString()}`);
}
