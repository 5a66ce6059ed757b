import { createHash, type KeyObject } from 'node:crypto';
import { LruCache } from '../../core/lru.js';
import { updateWithItems } from '../cache-key.js';
import { EvidenceError, type VerifyContext } from '../plugin.js';
import { parseCertificate, readCertificates, type Certificate } from '../x509/certificate.js';
import { readCrl, type Crl } from '../x509/crl.js';
import { MAX_POOL, validatePath } from '../x509/path.js';
import { pemBlocks } from '../x509/pem.js';
import { certificateFwids, type Fwid } from './fwid.js';
import { NVIDIA_DEVICE_IDENTITY_CA_PEM } from './roots.js';

/**
 * The GPU's leaf certificate, trusted through its chain to an NVIDIA root, with a cache of
 * verified chains so that a verification costs the report's P-384 signature and not four
 * certificate signatures more.
 *
 * A cold check is `validatePath` at the call's `now` (names, CA flags, signatures, validity,
 * CRLs when the collateral carries any). Its success is cached under a SHA-256 of every
 * byte it was computed from — the trust anchors (or the fact that the shipped root is
 * meant), the chain from the evidence and every collateral item, each length-prefixed — so
 * a different root, an extra certificate or one changed byte is a miss.
 *
 * A hit still answers for its own `now`: it is used only if every certificate of the cached
 * path is valid at that time. Otherwise the chain is checked cold again, which finds another
 * current path or refuses exactly as `validatePath` does; so a hit never accepts what a cold
 * check refuses, nor the reverse. Refusals are never cached, and neither are chains checked
 * against CRLs, whose own validity windows would need the same care.
 */

export const NVIDIA_CHAIN_CACHE_CAPACITY = 1_000;
/** Items (collateral or trust anchors) read per call; any after these are ignored. */
export const MAX_ITEMS = 64;
/** CRLs read from the collateral; a real chain has two issuers that publish them. */
const MAX_CRLS = 8;

export interface Window {
  readonly subject: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

export interface TrustedLeaf {
  readonly key: KeyObject;
  readonly subject: string;
  readonly serial: string;
  readonly fwids: readonly Fwid[];
  /** Leaf first, trust anchor last. */
  readonly path: readonly Window[];
  /** Whether CRLs from the collateral were consulted. */
  readonly crlsChecked: boolean;
}

export const verifiedChains = new LruCache<string, TrustedLeaf>(NVIDIA_CHAIN_CACHE_CAPACITY);

const KEY_DOMAIN = 'covenant/nvidia-gpu/verified-chains/v1';

/** The cache key: every byte the verdict is computed from, unambiguously. */
export function chainCacheKey(trustAnchors: readonly Uint8Array[] | undefined, chain: Uint8Array | undefined, collateral: readonly Uint8Array[]): string {
  const hash = createHash('sha256').update(KEY_DOMAIN);
  if (trustAnchors === undefined) hash.update('shipped');
  else updateWithItems(hash.update('given'), trustAnchors);
  updateWithItems(hash, chain === undefined ? [] : [new Uint8Array([1]), chain]);
  return updateWithItems(hash, collateral).digest('base64');
}

let shipped: Certificate | undefined;

export function shippedRoot(): Certificate {
  shipped ??= parseCertificate(pemBlocks(NVIDIA_DEVICE_IDENTITY_CA_PEM)?.[0] ?? new Uint8Array(), 'the NVIDIA Device Identity CA');
  return shipped;
}

function anchorsOf(items: readonly Uint8Array[] | undefined): Certificate[] {
  if (items === undefined) return [shippedRoot()];
  return items.flatMap((item, i) => readCertificates(item, `trust anchor ${i}`) ?? []);
}

interface Collateral {
  readonly certificates: Certificate[];
  readonly crls: Crl[];
}

function tooMany(what: string, limit: number): never {
  throw new EvidenceError('chain', `more than ${limit} ${what} offered for the GPU certificate chain`);
}

/**
 * Collateral is recognised by content: certificates and CRLs; anything else is not ours.
 * Parsing stops once the path builder would refuse the pool anyway, since every
 * certificate parsed costs milliseconds.
 */
function collateralOf(items: readonly Uint8Array[]): Collateral {
  const out: Collateral = { certificates: [], crls: [] };
  items.forEach((item, i) => {
    const certificates = readCertificates(item, `collateral ${i}`);
    if (certificates !== undefined) {
      out.certificates.push(...certificates);
      if (out.certificates.length > MAX_POOL) tooMany('certificates', MAX_POOL);
      return;
    }
    const crl = readCrl(item, `collateral ${i}`);
    if (crl === undefined) return;
    out.crls.push(crl);
    if (out.crls.length > MAX_CRLS) tooMany('CRLs', MAX_CRLS);
  });
  return out;
}

const windowOf = (c: Certificate): Window => ({ subject: c.subject, notBefore: new Date(c.notBefore), notAfter: new Date(c.notAfter) });

function verifyCold(trustAnchors: readonly Uint8Array[] | undefined, chain: Uint8Array | undefined, items: readonly Uint8Array[], now: Date): TrustedLeaf {
  const collateral = collateralOf(items);
  let certificates: Certificate[];
  if (chain === undefined) {
    certificates = collateral.certificates;
  } else {
    const carried = readCertificates(chain, 'the certificate chain');
    if (carried === undefined || carried.length === 0) throw new EvidenceError('malformed', 'the NVIDIA certificate chain holds no certificate');
    certificates = [...carried, ...collateral.certificates];
  }
  const [leaf, ...intermediates] = certificates;
  if (leaf === undefined) throw new EvidenceError('missing-collateral', 'no GPU certificate chain: neither the evidence nor the collateral carries one');
  const path = validatePath({
    leaf,
    intermediates,
    anchors: anchorsOf(trustAnchors),
    now,
    crls: collateral.crls,
    what: 'the GPU attestation certificate',
  });
  return {
    key: leaf.x509.publicKey,
    subject: leaf.subject,
    serial: leaf.serial,
    fwids: certificateFwids(leaf),
    path: path.map(windowOf),
    crlsChecked: collateral.crls.length > 0,
  };
}

const validAt = (w: Window, t: number): boolean => w.notBefore.getTime() <= t && t <= w.notAfter.getTime();

/** The trusted leaf for this chain at `context.now`, or the refusal of `validatePath`. */
export function trustedLeaf(chain: Uint8Array | undefined, context: VerifyContext): TrustedLeaf {
  // Private copies, hashed and then parsed, so the entry describes exactly the hashed bytes
  // even if the caller's arrays change meanwhile.
  const copy = (items: readonly Uint8Array[]): Uint8Array[] => items.slice(0, MAX_ITEMS).map((item) => new Uint8Array(item));
  const trustAnchors = context.trustAnchors === undefined ? undefined : copy(context.trustAnchors);
  const collateral = copy(context.collateral ?? []);
  const ownChain = chain === undefined ? undefined : new Uint8Array(chain);
  const key = chainCacheKey(trustAnchors, ownChain, collateral);
  const cached = verifiedChains.get(key);
  const t = context.now.getTime();
  if (cached !== undefined && cached.path.every((w) => validAt(w, t))) return cached;
  const verdict = verifyCold(trustAnchors, ownChain, collateral, context.now);
  if (!verdict.crlsChecked) verifiedChains.set(key, verdict);
  return verdict;
}
