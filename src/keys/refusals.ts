import { CovenantError, type ProblemType } from '../core/errors.js';

/**
 * Why the broker refused, and how the KBS protocol says so. Every refusal has a stable
 * `reason` code (in the ledger entry and the problem document) and one of the error
 * names Trustee's KBS uses, whose type URI
 * `https://github.com/confidential-containers/kbs/errors/<name>` KBS clients know.
 * Statuses follow the protocol: 401 when the credential (session, evidence, token)
 * does not hold, 403 when policy says no, 404 when there is nothing by that name; 400
 * for a message that does not parse.
 */
export const KBS_ERROR_BASE = 'https://github.com/confidential-containers/kbs/errors/';

export type KbsErrorName =
  | 'InvalidRequest'
  | 'InvalidRequestPath'
  | 'MissingCookie'
  | 'InvalidCookie'
  | 'ExpiredCookie'
  | 'AttestationFailed'
  | 'TokenNotFound'
  | 'TokenVerifierError'
  | 'PolicyDeny'
  | 'ResourceNotFound';

const PROBLEM: Readonly<Record<KbsErrorName, ProblemType>> = {
  InvalidRequest: 'bad-request',
  InvalidRequestPath: 'not-found',
  MissingCookie: 'unauthenticated',
  InvalidCookie: 'unauthenticated',
  ExpiredCookie: 'unauthenticated',
  AttestationFailed: 'unauthenticated',
  TokenNotFound: 'unauthenticated',
  TokenVerifierError: 'unauthenticated',
  PolicyDeny: 'forbidden',
  ResourceNotFound: 'not-found',
};

/**
 * Refusals of a resource request (and of an attestation), by code, with the KBS error name
 * they are answered with. Only those of an instance whose token verified are ledgered; the
 * rest are counted in `covenant_refusals_total`.
 */
export const REFUSAL_NAMES = {
  /** The bearer token's cnf key is not the key of the session presenting it. */
  'tee-key-mismatch': 'TokenVerifierError',
  'token-expired': 'TokenVerifierError',
  'token-not-yet-valid': 'TokenVerifierError',
  /** The token's verdict or release is no longer accepted (a rollout completed or rolled back). */
  'token-not-standing': 'TokenVerifierError',
  'unknown-resource': 'ResourceNotFound',
  'unknown-version': 'ResourceNotFound',
  /** The resource has no rules: default deny. */
  'no-rules': 'PolicyDeny',
  'workload-not-granted': 'PolicyDeny',
  'release-not-granted': 'PolicyDeny',
  'phase-not-granted': 'PolicyDeny',
  'condition-false': 'PolicyDeny',
  'condition-error': 'PolicyDeny',
  'version-not-granted': 'PolicyDeny',
  /** The legacy sealing slot closed (migration window over) or never opened. */
  'slot-closed': 'PolicyDeny',
  'no-legacy-slot': 'PolicyDeny',
  /** An attestation posted to a session that was already used. */
  'replayed-nonce': 'AttestationFailed',
} as const satisfies Record<string, KbsErrorName>;

export type RefusalCode = keyof typeof REFUSAL_NAMES;

/** A refusal in the KBS protocol's words; the HTTP edge renders it with the KBS type URI. */
export class KbsError extends CovenantError {
  constructor(
    readonly kbsName: KbsErrorName,
    message: string,
    readonly reason?: string,
    options: { cause?: unknown } = {},
  ) {
    super(PROBLEM[kbsName], message, options);
    this.name = 'KbsError';
  }
}

export const refusalError = (reason: RefusalCode, message: string): KbsError => new KbsError(REFUSAL_NAMES[reason], message, reason);
