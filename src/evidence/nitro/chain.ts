import { createHash, type KeyObject } from 'node:crypto';
import { LruCache } from '../../core/lru.js';
import { updateWithItems } from '../cache-key.js';
import { EvidenceError } from '../plugin.js';
import { parseCertificate, readCertificates, type Certificate } from '../x509/certificate.js';
import { validatePath } from '../x509/path.js';
import { checkSigningCertificate } from './constraints.js';
import { AWS_NITRO_ROOT_G1_PEM } from './roots.js';

/**
 * The signing certificate's path to a trust anchor: certificate ← cabundle[n-1] ← … ←
 * cabundle[1] ← anchor, validated by the shared path validator at the call's `now`.
 * cabundle[0], AWS's copy of its root, is only a candidate like the others: the anchors
 * are the shipped AWS Nitro Enclaves Root G1 or, when given, `context.trustAnchors`.
 *
 * Verified chains are cached so that a document whose chain was seen before costs its
 * one ES384 check. The key is a SHA-256 over every byte the verdict is computed from: the
 * anchors (or the fact that the shipped root is meant), the certificate and every cabundle
 * item, each length-prefixed, in order. What is cached is time-free — the path and the
 * signing key — and every call checks each certificate on the path at its own `now`; when
 * that fails, the chain is verified cold again, so the refusal is the cold one. Refusals
 * are never cached.
 *
 * Only chains with a single possible path are cached. The shared validator picks the
 * first path that is current at `now`; were there several, a later call could reach a
 * different one, so an ambiguous chain is verified cold each time instead. AWS chains
 * are linear.
 */

/** One verdict per distinct (anchors, chain): one per enclave signing certificate in use. */
export const CHAIN_CACHE_CAPACITY = 4_096;
/** Trust-anchor items read per call; certificates beyond them are ignored. */
export const MAX_ANCHOR_ITEMS = 64;

export interface PathMember {
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface VerifiedChain {
  /** The signing certificate's P-384 key. */
  readonly key: KeyObject;
  /** Signing certificate first, trust anchor last. */
  readonly path: readonly PathMember[];
  readonly signer: PathMember & { readonly issuer: string; readonly serial: string };
}

export const verifiedChains = new LruCache<string, VerifiedChain>(CHAIN_CACHE_CAPACITY);

const KEY_DOMAIN = 'covenant/nitro/verified-chains/v1';

export function chainCacheKey(trustAnchors: readonly Uint8Array[] | undefined, certificate: Uint8Array, cabundle: readonly Uint8Array[]): string {
  const hash = createHash('sha256').update(KEY_DOMAIN);
  if (trustAnchors === undefined) hash.update('shipped');
  else updateWithItems(hash.update('given'), trustAnchors);
  return updateWithItems(hash, [certificate, ...cabundle]).digest('base64');
}

let shipped: Certificate[] | undefined;

function shippedAnchors(): Certificate[] {
  shipped ??= readCertificates(new TextEncoder().encode(AWS_NITRO_ROOT_G1_PEM), 'the AWS Nitro Enclaves root') ?? [];
  return shipped;
}

function givenAnchors(items: readonly Uint8Array[]): Certificate[] {
  return items.flatMap((item, i) => {
    const found = readCertificates(item, `trust anchor ${i}`);
    if (found === undefined || found.length === 0) throw new EvidenceError('malformed', `trust anchor ${i} is not an X.509 certificate (DER or PEM)`);
    return found;
  });
}

const same = (a: Certificate, b: Certificate): boolean => Buffer.from(a.der).equals(Buffer.from(b.der));

/**
 * Whether `path` is the only path the path builder could find: at each step, the next
 * member is the one certificate (anchors and candidates together, duplicates counted
 * once) that names the step as issued by it and is a CA — the filters the builder applies
 * before any signature — and no step short of the end is itself an anchor.
 */
function unambiguous(path: readonly Certificate[], anchors: readonly Certificate[], pool: readonly Certificate[]): boolean {
  const everyone: Certificate[] = [];
  for (const c of [...anchors, ...pool]) if (!everyone.some((e) => same(e, c))) everyone.push(c);
  for (let i = 0; i + 1 < path.length; i++) {
    const tip = path[i]!;
    if (anchors.some((a) => same(a, tip))) return false;
    const issuers = everyone.filter((c) => !same(c, tip) && c.x509.ca && tip.x509.checkIssued(c.x509));
    if (issuers.length !== 1 || !same(issuers[0]!, path[i + 1]!)) return false;
  }
  return true;
}

const member = (c: Certificate): PathMember => ({ subject: c.subject, notBefore: c.notBefore, notAfter: c.notAfter });

function verifyCold(anchorItems: readonly Uint8Array[] | undefined, certificate: Uint8Array, cabundle: readonly Uint8Array[], now: Date): { chain: VerifiedChain; cacheable: boolean } {
  const leaf = parseCertificate(certificate, 'the signing certificate');
  const pool = cabundle.map((der, i) => parseCertificate(der, `cabundle[${i}]`));
  const anchors = anchorItems === undefined ? shippedAnchors() : givenAnchors(anchorItems);
  const path = validatePath({ leaf, intermediates: pool, anchors, now, what: 'the signing certificate' });
  const key = checkSigningCertificate(leaf);
  const chain: VerifiedChain = {
    key,
    path: path.map(member),
    signer: { ...member(leaf), issuer: leaf.x509.issuer.replace(/\n/g, ', '), serial: leaf.serial },
  };
  return { chain, cacheable: unambiguous(path, anchors, pool) };
}

/** Inclusive bounds, as the shared validator's validAt. */
const current = (m: PathMember, now: Date): boolean => m.notBefore.getTime() <= now.getTime() && now.getTime() <= m.notAfter.getTime();

/**
 * The verified chain of a document's signing certificate at `now`, from the cache when
 * the same bytes were verified before; otherwise refuses with 'chain', 'expired' or
 * 'malformed' (certificates that do not parse) and, for an unusable key, 'unsupported'.
 */
export function trustedChain(certificate: Uint8Array, cabundle: readonly Uint8Array[], trustAnchors: readonly Uint8Array[] | undefined, now: Date): VerifiedChain {
  // Private copies, hashed and then parsed, so the entry describes exactly the hashed bytes.
  const anchors = trustAnchors?.slice(0, MAX_ANCHOR_ITEMS).map((item) => new Uint8Array(item));
  const key = chainCacheKey(anchors, certificate, cabundle);
  const cached = verifiedChains.get(key);
  if (cached !== undefined && cached.path.every((m) => current(m, now))) return cached;
  const { chain, cacheable } = verifyCold(anchors, certificate, cabundle, now);
  if (cacheable) verifiedChains.set(key, chain);
  return chain;
}
