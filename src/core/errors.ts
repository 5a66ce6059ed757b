/**
 * Typed errors. Every failure a caller can cause is a CovenantError with a stable
 * `type` slug; the HTTP edge turns it into RFC 9457 problem+json
 * (`https://covenant.dev/problems/<type>`), the CLI into one line and an exit code.
 */
export type ProblemType =
  | 'bad-request'
  | 'validation-failed'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'not-found'
  | 'conflict'
  | 'unauthenticated'
  | 'signature-invalid'
  | 'stale-request'
  | 'replayed-nonce'
  | 'forbidden'
  | 'invalid-policy'
  | 'unknown-release'
  | 'floor-decrease'
  | 'readmission-refused'
  | 'downgrade-refused'
  | 'invalid-rule'
  | 'store-unavailable'
  | 'data-dir-locked'
  | 'ledger-corrupt'
  | 'integrity'
  | 'proof-unavailable'
  | 'rate-limited'
  | 'gate-closed'
  | 'proposal-pending'
  | 'evidence-invalid'
  | 'session-expired'
  | 'internal';

const STATUS: Record<ProblemType, number> = {
  'bad-request': 400,
  'validation-failed': 400,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  'not-found': 404,
  conflict: 409,
  unauthenticated: 401,
  'signature-invalid': 401,
  'stale-request': 401,
  'replayed-nonce': 401,
  forbidden: 403,
  'invalid-policy': 422,
  'unknown-release': 422,
  'floor-decrease': 422,
  'readmission-refused': 422,
  'downgrade-refused': 422,
  'invalid-rule': 422,
  'store-unavailable': 503,
  'data-dir-locked': 409,
  'ledger-corrupt': 500,
  // A state row that disagrees with its content address or with the ledger: altered outside the spine.
  integrity: 500,
  'proof-unavailable': 404,
  'rate-limited': 429,
  'gate-closed': 412,
  // Not a failure: the change waits for approvals (the HTTP edge answers 202 with the proposal).
  'proposal-pending': 202,
  'evidence-invalid': 422,
  'session-expired': 410,
  internal: 500,
};

export interface FieldIssue {
  /** JSON-pointer-like path of the offending field, e.g. `rules.minSvn`. */
  readonly field: string;
  readonly message: string;
}

export class CovenantError extends Error {
  readonly type: ProblemType;
  readonly status: number;
  readonly issues: readonly FieldIssue[];

  constructor(type: ProblemType, message: string, options: { issues?: readonly FieldIssue[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CovenantError';
    this.type = type;
    this.status = STATUS[type];
    this.issues = options.issues ?? [];
  }
}

export function isCovenantError(value: unknown): value is CovenantError {
  return value instanceof CovenantError;
}

export const problemTypeUri = (type: ProblemType): string => `https://covenant.dev/problems/${type}`;

export function statusOf(type: ProblemType): number {
  return STATUS[type];
}
