/**
 * Store faults: the storage (not the request) failed — the database connection dropped,
 * the disk is full, the data directory went away. Such a failure is the operator's to
 * fix, so the caller gets a retryable 503 `store-unavailable` that names the condition
 * but no path, host or driver text (attestation routes answer unauthenticated callers),
 * readiness fails until the store has shown it works again, and the log gets one line
 * per condition and minute instead of one stack per request.
 */
import { CovenantError } from '../core/errors.js';

export type StoreCondition = 'connection-lost' | 'disk-full' | 'storage-error' | 'busy' | 'data-dir-replaced';

const DESCRIPTIONS: Record<StoreCondition, string> = {
  'connection-lost': 'the connection to the database was lost; retry shortly',
  'disk-full': "the store's disk is full; retry once the operator has freed space",
  'storage-error': 'the store could not read or write its files; retry later',
  busy: 'the store is locked by another program; retry shortly',
  'data-dir-replaced': 'the data directory was deleted or replaced while the server ran; the server must be restarted',
};

/** How long a client should wait before retrying, seconds (the Retry-After header). */
const RETRY_AFTER_SECONDS: Record<StoreCondition, number> = {
  'connection-lost': 1,
  'disk-full': 30,
  'storage-error': 10,
  busy: 1,
  'data-dir-replaced': 60,
};

/** A condition is logged at most once per window, however many requests it fails. */
export const FAULT_LOG_WINDOW_MS = 60_000;

export class StoreUnavailable extends CovenantError {
  readonly retryAfterSeconds: number;
  /** False for a repeat within the log window: the first occurrence was logged. */
  readonly report: boolean;

  constructor(
    readonly condition: StoreCondition,
    options: {
      cause?: unknown;
      report?: boolean;
    } = {},
  ) {
    super('store-unavailable', DESCRIPTIONS[condition], options.cause === undefined ? {} : { cause: options.cause });
    this.name = 'StoreUnavailable';
    this.retryAfterSeconds = RETRY_AFTER_SECONDS[condition];
    this.report = options.report ?? true;
  }
}

export interface Fault {
  readonly condition: StoreCondition;
  readonly detail: string;
  readonly since: Date;
}

/**
 * One store's fault state. Pure bookkeeping: the backends decide what is a fault
 * (their own error codes) and when the store has shown it works again.
 */
export class StoreHealth {
  #fault: Fault | undefined;
  #permanent = false;
  /** Counts faults, so a write transaction can tell that one happened while it ran. */
  #raised = 0;
  readonly #loggedAt = new Map<StoreCondition, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * Records a fault and returns the error to throw. `permanent`: nothing but a restart
   * clears it (a replaced data directory).
   */
  fail(condition: StoreCondition, cause: unknown, permanent = false): StoreUnavailable {
    const now = this.now();
    this.#raised++;
    if (!this.#permanent) {
      if (this.#fault?.condition !== condition) this.#fault = { condition, detail: DESCRIPTIONS[condition], since: new Date(now) };
      this.#permanent = permanent;
    }
    const last = this.#loggedAt.get(condition);
    const report = last === undefined || now - last >= FAULT_LOG_WINDOW_MS;
    if (report) this.#loggedAt.set(condition, now);
    return new StoreUnavailable(condition, { cause, report });
  }

  /**
   * Runs a write transaction's body and refuses to let it commit if a fault was raised
   * meanwhile, even one the body caught (a unit that turned it into a refusal would
   * otherwise ledger that refusal). On PostgreSQL a fault on another connection also
   * counts: rolling back a healthy transaction then costs one retry, never correctness.
   */
  async within<T>(body: () => Promise<T>): Promise<T> {
    const before = this.#raised;
    const result = await body();
    if (this.#raised !== before) throw new StoreUnavailable(this.#fault?.condition ?? 'storage-error', { report: false });
    return result;
  }

  /** A write transaction committed: whatever failed before works again. */
  wrote(): void {
    if (!this.#permanent) this.#fault = undefined;
  }

  /**
   * The database answered. That proves a lost connection is back and a lock released,
   * but not that a full disk has room again: only a committed write shows that.
   */
  answered(): void {
    const condition = this.#fault?.condition;
    if ((condition === 'connection-lost' || condition === 'busy') && !this.#permanent) this.#fault = undefined;
  }

  /** The current fault, if any: readiness fails while there is one. */
  fault(): Fault | undefined {
    return this.#fault;
  }
}
