import type { Clock } from '../core/clock.js';
import { CovenantError } from '../core/errors.js';

/**
 * Admission control for attesters. A fleet that re-attests at once (after a policy
 * change, a restart, an outage) must not queue without bound in front of the ledger:
 * beyond the configured rate, or with too many attestations in flight, the answer is
 * 429 with a jittered Retry-After, so the retries spread out instead of arriving
 * together again.
 *
 * - New sessions draw from a token bucket: `ratePerSecond` tokens a second, at most
 *   `burst` saved up. A refused attester is told to come back when the sessions refused
 *   before it will have been served (the backlog over the rate), not merely when the
 *   next token arrives: thousands refused together then return spread over the time
 *   the rate needs for them, instead of all together a second later.
 * - Evidence submissions are bounded by `maxInFlight` concurrent verifications; a
 *   refused one keeps its session, which stays valid until it expires.
 */
export interface AdmissionLimits {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly maxInFlight: number;
}

export const DEFAULT_ADMISSION: AdmissionLimits = Object.freeze({ ratePerSecond: 1_000, burst: 2_000, maxInFlight: 512 });

/** Why an attester must come back later, and when (whole seconds, RFC 9110 Retry-After). */
export class RateLimited extends CovenantError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super('rate-limited', message);
    this.name = 'RateLimited';
  }
}

export class Admission {
  readonly #limits: AdmissionLimits;
  readonly #clock: Clock;
  readonly #random: () => number;
  #tokens: number;
  #refilledAt: number;
  /** Sessions refused and not yet (by the rate) served: drains at `ratePerSecond`. */
  #backlog = 0;
  #inFlight = 0;

  constructor(limits: AdmissionLimits, clock: Clock, random: () => number = Math.random) {
    for (const [name, value] of Object.entries(limits)) {
      if (!(Number.isFinite(value) && value >= 1)) throw new CovenantError('bad-request', `admission ${name} must be at least 1, got ${value}`);
    }
    this.#limits = limits;
    this.#clock = clock;
    this.#random = random;
    this.#tokens = limits.burst;
    this.#refilledAt = clock().getTime();
  }

  /** Takes a token for a new session, or throws RateLimited. */
  admitSession(): void {
    const now = this.#clock().getTime();
    const { ratePerSecond, burst } = this.#limits;
    const refill = Math.max(0, (now - this.#refilledAt) / 1000) * ratePerSecond;
    this.#tokens = Math.min(burst, this.#tokens + refill);
    this.#backlog = Math.max(0, this.#backlog - refill);
    this.#refilledAt = now;
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return;
    }
    this.#backlog += 1;
    const wait = (this.#backlog - this.#tokens) / ratePerSecond;
    throw new RateLimited(`more than ${ratePerSecond} new attestation sessions a second; retry later`, this.#jittered(wait));
  }

  /** Runs one evidence submission within the in-flight bound, or throws RateLimited. */
  async withinFlight<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#inFlight >= this.#limits.maxInFlight) {
      // A slot frees within about one verification; the jitter spreads the returns.
      throw new RateLimited(`${this.#limits.maxInFlight} attestations are in progress; retry later`, this.#jittered(1));
    }
    this.#inFlight += 1;
    try {
      return await fn();
    } finally {
      this.#inFlight -= 1;
    }
  }

  /** At least the wait, rounded up to whole seconds, then stretched by up to 2× at random. */
  #jittered(waitSeconds: number): number {
    const base = Math.max(1, Math.ceil(waitSeconds));
    return base + Math.floor(this.#random() * (base + 1));
  }
}
