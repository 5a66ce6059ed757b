import { LruCache } from '../../core/lru.js';
import { createHash } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { updateWithItems } from '../cache-key.js';
import { EvidenceError } from '../plugin.js';
import type { VerifyContext } from '../plugin.js';
import { integerHex } from '../x509/certificate.js';
import { checkCrlIssuer, readCrl, type Crl } from '../x509/crl.js';
import { MAX_ITEMS, buildChain, endorsementKind, loadAll, publicKeyOf, readEndorsementExtensions } from './certificates.js';
import type { AmdCertificate, ChainValidity, EndorsementExtensions, Validity, VerifiedChain } from './certificates.js';
import { AMD_ROOT_BUNDLES } from './roots.js';

/**
 * Verified VCEK/VLEK chains, cached so that a verification costs the report's P-384
 * signature and not a certificate parse plus three RSA-PSS checks every time.
 *
 * What is cached is the verdict that depends on certificates alone: which endorsement keys
 * the collateral offers, whether each chains by name and RSA-PSS signature to a root of the
 * trust-anchor set, and the key and SNP extensions of each. Nothing that depends on the call
 * is cached: validity is checked against every call's `now` from the stored windows, and the
 * report is compared with the extensions and verified with the key every time.
 *
 * The key is a SHA-256 over the report's SIGNING_KEY kind, every trust-anchor item (or the
 * fact that the shipped roots are meant) and every collateral item, each length-prefixed, in
 * order. Those bytes are all the cached verdict is computed from, so equal keys mean an
 * equal verdict (up to a SHA-256 collision), and a different root set, an extra ASK or a
 * single changed certificate byte is a miss that is verified cold.
 */

/** Bound on cached verdicts: one per distinct (kind, anchors, collateral), least recently used evicted. */
export const CHAIN_CACHE_CAPACITY = 1_000;

/**
 * Collateral offering more endorsement keys than this is verified cold every time: real
 * collateral has one or two, and it keeps an entry's size bounded when junk certificates
 * ride along with a genuine one.
 */
const MAX_CACHED_CANDIDATES = 8;

/** An endorsement key whose chain verified, reduced to what a verification still reads. */
export interface ChainedEndorsement {
  readonly validity: ChainValidity;
  readonly ext: EndorsementExtensions;
  /** The key, or why the certificate's key is unusable (raised where the signature check would be). */
  readonly key: KeyObject | EvidenceError;
  readonly issuerCn: string | undefined;
  readonly rootCn: string | undefined;
  /** The CRLs the chain was checked against: whether each is current is a question of the call's `now`. */
  readonly crls: readonly ConsultedCrl[];
}

export interface ConsultedCrl {
  readonly issuerCn: string | undefined;
  readonly thisUpdate: Date;
  readonly nextUpdate?: Date;
}

/** Each endorsement key the collateral offers, in order: its verified chain, or why none verified. */
export type Endorsement = ChainedEndorsement | { readonly refusal: EvidenceError };

export const verifiedChains = new LruCache<string, readonly Endorsement[]>(CHAIN_CACHE_CAPACITY);

const KEY_DOMAIN = 'covenant/sev-snp/verified-chains/v1';

export function chainCacheKey(kind: 'vcek' | 'vlek', trustAnchors: readonly Uint8Array[] | undefined, collateral: readonly Uint8Array[]): string {
  const hash = createHash('sha256').update(KEY_DOMAIN).update(kind);
  if (trustAnchors === undefined) hash.update('shipped');
  else updateWithItems(hash.update('given'), trustAnchors);
  return updateWithItems(hash, collateral).digest('base64');
}

let shipped: AmdCertificate[] | undefined;

function shippedAnchors(): AmdCertificate[] {
  shipped ??= loadAll(AMD_ROOT_BUNDLES.map((pem) => new TextEncoder().encode(pem))).certs;
  return shipped;
}

function validityOf(cert: Validity): Validity {
  return { subjectCn: cert.subjectCn, notBefore: new Date(cert.notBefore), notAfter: new Date(cert.notAfter) };
}

/**
 * Checks the chain against the CRLs its CAs issued (AMD's ARK CRL lists revoked ASKs and
 * ASVKs): each must verify with its issuer's key, and none may list the certificate below.
 * A revocation is final, so it is judged here, once; a CRL's currency is judged per call.
 */
function consultCrls(chain: VerifiedChain, crls: readonly Crl[]): ConsultedCrl[] {
  const consulted: ConsultedCrl[] = [];
  for (const [issuer, subject] of [[chain.root, chain.intermediate], [chain.intermediate, chain.leaf]] as const) {
    const subjectName = new Uint8Array(issuer.cert.subject.toSchema().toBER(false));
    const what = `the CRL of ${issuer.subjectCn ?? '(unnamed)'}`;
    for (const crl of crls.filter((c) => Buffer.from(c.issuerName).equals(Buffer.from(subjectName)))) {
      checkCrlIssuer(crl, { subjectName, publicKey: publicKeyOf(issuer), subject: issuer.subjectCn ?? '(unnamed)' }, what);
      const serial = integerHex(subject.cert.serialNumber);
      if (crl.revoked.has(serial)) throw new EvidenceError('revoked', `${subject.subjectCn ?? '(unnamed)'} (serial ${serial}) is revoked by ${what}`);
      consulted.push({ issuerCn: issuer.subjectCn, thisUpdate: crl.thisUpdate, ...(crl.nextUpdate === undefined ? {} : { nextUpdate: crl.nextUpdate }) });
    }
  }
  return consulted;
}

function judge(leaf: AmdCertificate, kind: 'vcek' | 'vlek', anchors: readonly AmdCertificate[], intermediates: readonly AmdCertificate[], crlList: readonly Crl[]): Endorsement {
  let chain: VerifiedChain;
  let crls: ConsultedCrl[];
  try {
    chain = buildChain(leaf, kind, anchors, intermediates);
    crls = consultCrls(chain, crlList);
  } catch (err) {
    if (err instanceof EvidenceError) return { refusal: err };
    throw err;
  }
  let key: KeyObject | EvidenceError;
  try {
    key = publicKeyOf(leaf);
  } catch (err) {
    if (!(err instanceof EvidenceError)) throw err;
    key = err;
  }
  return {
    validity: { leaf: validityOf(chain.leaf), intermediate: validityOf(chain.intermediate), root: validityOf(chain.root) },
    ext: readEndorsementExtensions(leaf),
    key,
    issuerCn: chain.intermediate.subjectCn,
    rootCn: chain.root.subjectCn,
    crls,
  };
}

/** Verifies cold: parses the items and builds every candidate's chain. */
function judgeAll(kind: 'vcek' | 'vlek', trustAnchors: readonly Uint8Array[] | undefined, collateralItems: readonly Uint8Array[]): Endorsement[] {
  const collateral = loadAll(collateralItems);
  const endorsements = collateral.certs.filter((c) => c.isP384 && !c.selfIssued);
  const candidates = endorsements.filter((c) => endorsementKind(c) === kind);
  if (candidates.length === 0) {
    const other = endorsements.length > 0 ? `; collateral holds only a ${kind === 'vcek' ? 'VLEK' : 'VCEK'}` : '';
    const bad = collateral.rejected > 0 ? `; ${collateral.rejected} collateral item(s) did not parse as certificates` : '';
    throw new EvidenceError('missing-collateral', `SEV-SNP report is signed by a ${kind.toUpperCase()}, which the collateral does not carry${other}${bad}`);
  }
  const intermediates = collateral.certs.filter((c) => !c.isP384);
  const crls = collateral.others.flatMap((item) => readCrl(item, 'a collateral item') ?? []);

  let anchors: AmdCertificate[];
  if (trustAnchors === undefined) {
    anchors = shippedAnchors();
  } else {
    anchors = loadAll(trustAnchors).certs;
    if (anchors.length === 0) throw new EvidenceError('chain', 'none of the given trust anchors is a certificate');
  }
  return candidates.map((leaf) => judge(leaf, kind, anchors, intermediates, crls));
}

/**
 * The endorsement keys offered for a report signed by `kind`, each with its chain verdict;
 * throws when the collateral offers none or no given anchor is a certificate. Only verdicts
 * with at least one verified chain are cached, so refused collateral cannot crowd them out.
 */
export function endorsementsFor(kind: 'vcek' | 'vlek', context: VerifyContext): readonly Endorsement[] {
  // Private copies, hashed and then parsed, so the entry describes exactly the hashed bytes
  // even if the caller's arrays change meanwhile (a SharedArrayBuffer, say).
  const copy = (items: readonly Uint8Array[]): Uint8Array[] => items.slice(0, MAX_ITEMS).map((item) => new Uint8Array(item));
  const trustAnchors = context.trustAnchors === undefined ? undefined : copy(context.trustAnchors);
  const collateral = copy(context.collateral ?? []);
  const key = chainCacheKey(kind, trustAnchors, collateral);
  const cached = verifiedChains.get(key);
  if (cached !== undefined) return cached;
  const verdict = judgeAll(kind, trustAnchors, collateral);
  if (verdict.length <= MAX_CACHED_CANDIDATES && verdict.some((e) => !('refusal' in e))) verifiedChains.set(key, verdict);
  return verdict;
}
