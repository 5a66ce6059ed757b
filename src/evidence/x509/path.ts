import * as pkijs from 'pkijs';
import { EvidenceError } from '../plugin.js';
import { validAt, type Certificate } from './certificate.js';
import { checkCrl, type Crl } from './crl.js';

/**
 * Certification path validation for evidence plugins (RFC 5280 §6, the parts hardware
 * vendors' chains exercise): names chain, every issuer is a CA whose signature
 * verifies, no CA has more CAs below it than its pathLenConstraint allows, the path ends
 * at a trust anchor, every certificate is valid at `now`, and no certificate is on a
 * CRL its issuer signed.
 *
 * Signatures are checked first and time second, so a forged chain reads 'chain' even
 * when it is also stale, and a genuine but outdated one reads 'expired'.
 */

export interface PathOptions {
  readonly leaf: Certificate;
  /** Untrusted candidates (the evidence's own chain, collateral): they prove nothing unless an anchor vouches. */
  readonly intermediates: readonly Certificate[];
  readonly anchors: readonly Certificate[];
  readonly now: Date;
  readonly crls?: readonly Crl[];
  /**
   * `required`: every issuer on the path (anchor included) must have a current CRL
   * among `crls`, as Intel's PCS collateral provides. `when-supplied` (default): CRLs
   * are checked where given.
   */
  readonly revocation?: 'required' | 'when-supplied';
  /** Names the leaf in messages, e.g. "the PCK certificate". */
  readonly what: string;
}

/** Leaf first, trust anchor last. */
export type CertificatePath = readonly Certificate[];

const MAX_DEPTH = 8;
// Each step costs a signature verification; the budget keeps a hostile pool of
// look-alike intermediates from turning path building into a CPU sink.
const MAX_VERIFICATIONS = 128;
export const MAX_POOL = 32;

const same = (a: Certificate, b: Certificate): boolean => Buffer.from(a.der).equals(Buffer.from(b.der));

function issued(subject: Certificate, issuer: Certificate, budget: { left: number }): boolean {
  if (!issuer.x509.ca || !subject.x509.checkIssued(issuer.x509)) return false;
  if (budget.left-- <= 0) throw new EvidenceError('chain', 'certificate path building gave up: too many candidate issuers');
  try {
    return subject.x509.verify(issuer.x509.publicKey);
  } catch {
    return false;
  }
}

/** Every path from the leaf to an anchor whose signatures verify, at no particular time. */
export function buildPaths(leaf: Certificate, pool: readonly Certificate[], anchors: readonly Certificate[]): Certificate[][] {
  if (pool.length > MAX_POOL) throw new EvidenceError('chain', `too many candidate intermediates (${pool.length}, at most ${MAX_POOL})`);
  const paths: Certificate[][] = [];
  const budget = { left: MAX_VERIFICATIONS };
  const walk = (path: Certificate[]): void => {
    const tip = path[path.length - 1]!;
    for (const anchor of anchors) {
      if (same(anchor, tip)) paths.push(path);
      else if (issued(tip, anchor, budget)) paths.push([...path, anchor]);
    }
    if (path.length >= MAX_DEPTH) return;
    for (const candidate of pool) {
      if (path.some((member) => same(member, candidate)) || anchors.some((anchor) => same(anchor, candidate))) continue;
      if (issued(tip, candidate, budget)) walk([...path, candidate]);
    }
  };
  walk([leaf]);
  return paths;
}

const OID_BASIC_CONSTRAINTS = '2.5.29.19';

/** The pathLenConstraint, or undefined when there is none (unbounded). */
function pathLength(certificate: Certificate): number | undefined {
  const parsed: unknown = certificate.structure.extensions?.find((ext) => ext.extnID === OID_BASIC_CONSTRAINTS)?.parsedValue;
  if (!(parsed instanceof pkijs.BasicConstraints)) return undefined;
  const value: unknown = parsed.pathLenConstraint;
  // pkijs yields a number for small values and an Integer object for ones too large to matter.
  return typeof value === 'number' ? value : undefined;
}

const selfIssued = (certificate: Certificate): boolean => Buffer.from(certificate.subjectName).equals(Buffer.from(certificate.issuerName));

/** Why a CA on the path (leaf first, anchor last) has more CAs below it than it allows, if one does. */
function pathLengthProblem(path: CertificatePath): string | undefined {
  let below = 0;
  for (let i = 1; i < path.length; i++) {
    const ca = path[i]!;
    const limit = pathLength(ca);
    if (limit !== undefined && below > limit) return `${ca.subject} allows ${limit} CA certificate(s) below it, the path has ${below}`;
    // RFC 5280 §6.1.4 (l): self-issued intermediates do not count against the limit.
    if (!selfIssued(ca)) below++;
  }
  return undefined;
}

function revocationProblem(path: CertificatePath, options: PathOptions): EvidenceError | undefined {
  const crls = options.crls ?? [];
  for (let i = 0; i + 1 < path.length; i++) {
    const subject = path[i]!;
    const issuer = path[i + 1]!;
    const own = crls.filter((crl) => Buffer.from(crl.issuerName).equals(Buffer.from(issuer.subjectName)));
    if (own.length === 0 && options.revocation === 'required') {
      return new EvidenceError('missing-collateral', `no CRL from ${issuer.subject} to check ${i === 0 ? options.what : subject.subject} against`);
    }
    for (const crl of own) {
      checkCrl(crl, issuer, options.now, `the CRL of ${issuer.subject}`);
      if (crl.revoked.has(subject.serial)) {
        return new EvidenceError('revoked', `${i === 0 ? options.what : subject.subject} (serial ${subject.serial}) is revoked by ${issuer.subject}`);
      }
    }
  }
  return undefined;
}

/** Validates the leaf's path to an anchor at `now`, or throws 'chain', 'expired', 'revoked' or 'missing-collateral'. */
export function validatePath(options: PathOptions): CertificatePath {
  if (Number.isNaN(options.now.getTime())) throw new EvidenceError('malformed', 'the verification time is not a valid date');
  if (options.anchors.length === 0) throw new EvidenceError('chain', `no trust anchor is configured for ${options.what}`);
  const built = buildPaths(options.leaf, options.intermediates, options.anchors);
  if (built.length === 0) throw new EvidenceError('chain', `${options.what} (${options.leaf.subject}) does not chain to a trust anchor`);
  const paths = built.filter((path) => pathLengthProblem(path) === undefined);
  if (paths.length === 0) throw new EvidenceError('chain', `the path of ${options.what}: ${pathLengthProblem(built[0]!)!}`);
  const current = paths.filter((path) => path.every((certificate) => validAt(certificate, options.now)));
  if (current.length === 0) {
    const stale = paths[0]!.find((certificate) => !validAt(certificate, options.now))!;
    throw new EvidenceError(
      'expired',
      `certificate ${stale.subject} on the path of ${options.what} is valid ${stale.notBefore.toISOString()} to ${stale.notAfter.toISOString()}, not at ${options.now.toISOString()}`,
    );
  }
  let problem: EvidenceError | undefined;
  for (const path of current) {
    problem = revocationProblem(path, options);
    if (problem === undefined) return path;
  }
  throw problem!;
}
