import { CovenantError } from '../core/errors.js';

/** How long attestation results live: small and dependency-free, so the CLI can show the defaults. */
export const DEFAULT_LIFETIME_SECONDS = 600;
export const DEFAULT_JITTER_FRACTION = 0.2;

/**
 * Whole seconds a token lives: lifetime × (1 + fraction × (2r − 1)), rounded and
 * then clamped so rounding can never push it outside lifetime × (1 ± fraction).
 */
export function jitteredLifetimeSeconds(lifetimeSeconds: number, fraction: number, r: number): number {
  if (!Number.isInteger(lifetimeSeconds) || lifetimeSeconds < 1) {
    throw new CovenantError('bad-request', `token lifetime must be a positive whole number of seconds, got ${lifetimeSeconds}`);
  }
  if (!(fraction >= 0 && fraction < 1)) throw new CovenantError('bad-request', `token lifetime jitter must be in [0, 1), got ${fraction}`);
  if (!(r >= 0 && r <= 1)) throw new CovenantError('internal', `jitter random source returned ${r}, outside [0, 1]`);
  const low = Math.max(1, Math.ceil(lifetimeSeconds * (1 - fraction)));
  const high = Math.floor(lifetimeSeconds * (1 + fraction));
  const seconds = Math.round(lifetimeSeconds * (1 + fraction * (2 * r - 1)));
  return Math.min(high, Math.max(low, seconds));
}

/** The longest a token can live; what a retired key must stay published for. */
export function longestLifetimeSeconds(lifetimeSeconds = DEFAULT_LIFETIME_SECONDS, fraction = DEFAULT_JITTER_FRACTION): number {
  return jitteredLifetimeSeconds(lifetimeSeconds, fraction, 1);
}
