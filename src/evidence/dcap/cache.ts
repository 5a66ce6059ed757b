import { createHash } from 'node:crypto';
import { LruCache } from '../../core/lru.js';
import { updateWithItems } from '../cache-key.js';
import { EvidenceError, type VerifyContext } from '../plugin.js';
import { MAX_COLLATERAL_ITEMS } from './collateral.js';
import type { TeeKind } from './quote.js';
import { establishTrust, holdsAt, MAX_TRUST_ANCHORS, type TrustedPlatform } from './trust.js';

/**
 * Verified collateral and PCK chains, cached so that repeated quotes from a platform cost
 * the two ECDSA checks of the quote (QE report and quote signature), not a dozen
 * certificate, CRL and collateral checks.
 *
 * The key is a SHA-256 over the quote kind, every trust-anchor item (or the fact that the
 * shipped root is meant), every collateral item and the quote's PCK chain bytes, each
 * length-prefixed, in order: all the cached verdict is computed from. Equal keys mean an
 * equal verdict (up to a SHA-256 collision); one changed byte is a miss, verified cold.
 *
 * Only what holds at any time is taken from the cache. On a hit, every validity window
 * the verdict rests on (certificates, CRLs, TCB info and QE identity) must contain this
 * call's `now`; if one does not, the call is verified cold, so its refusal is exactly the
 * cold one. Entries are made only from successful verifications whose every leaf has a
 * single certification path, where the windows alone decide the verdict at another time;
 * refusals are never cached.
 */

export const TRUST_CACHE_CAPACITY = 1_000;

export const trustedPlatforms = new LruCache<string, TrustedPlatform>(TRUST_CACHE_CAPACITY);

const KEY_DOMAIN = 'covenant/dcap/trusted-platform/v1';

export function trustCacheKey(tee: TeeKind, trustAnchors: readonly Uint8Array[] | undefined, collateral: readonly Uint8Array[], pckChain: Uint8Array): string {
  const hash = createHash('sha256').update(KEY_DOMAIN).update(tee);
  if (trustAnchors === undefined) hash.update('shipped');
  else updateWithItems(hash.update('given'), trustAnchors);
  updateWithItems(hash, collateral);
  return updateWithItems(hash, [pckChain]).digest('base64');
}

/** The quote's platform, trusted at `context.now`, from the cache when it may be, else verified cold. */
export function trustedPlatform(tee: TeeKind, pckChain: Uint8Array, context: VerifyContext): TrustedPlatform {
  const given = context.collateral ?? [];
  if (given.length > MAX_COLLATERAL_ITEMS) throw new EvidenceError('malformed', `${given.length} collateral items, more than ${MAX_COLLATERAL_ITEMS}`);
  if (context.trustAnchors !== undefined && context.trustAnchors.length > MAX_TRUST_ANCHORS) {
    throw new EvidenceError('malformed', `${context.trustAnchors.length} trust anchors, more than ${MAX_TRUST_ANCHORS}`);
  }
  const key = trustCacheKey(tee, context.trustAnchors, given, pckChain);
  const cached = trustedPlatforms.get(key);
  if (cached !== undefined && holdsAt(cached, context.now)) return cached;
  // Cold: private copies, hashed again and then parsed, so that the entry describes exactly
  // the bytes it was computed from even if the caller's arrays change meanwhile.
  const copy = (items: readonly Uint8Array[]): Uint8Array[] => items.map((item) => new Uint8Array(item));
  const collateral = copy(given);
  const trustAnchors = context.trustAnchors === undefined ? undefined : copy(context.trustAnchors);
  const trusted = establishTrust({ tee, pckChain, collateral, trustAnchors }, context.now);
  if (trusted.unambiguous) trustedPlatforms.set(trustCacheKey(tee, trustAnchors, collateral, pckChain), trusted);
  return trusted;
}
