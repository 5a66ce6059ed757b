/**
 * The `sim` evidence plugin: verifies reports from Covenant's simulated TEE.
 *
 * SIMULATED — OFFERS NO SECURITY. A "platform" here is an Ed25519 key on an ordinary
 * computer, certified by a vendor root that `covenant sim init` made on that computer.
 * Anyone holding either key can produce evidence for any measurement. It exists so that
 * development, demos and fleet tests exercise the real verification path (chain,
 * validity, signature, binding) without hardware. Never trust it in production.
 */
import { createHash, type KeyObject, verify as verifySignature } from 'node:crypto';
import { LruCache } from '../../core/lru.js';
import { CovenantError } from '../../core/errors.js';
import { parseDigest } from '../../core/digest.js';
import type { Digest } from '../../core/model.js';
import { updateWithItems } from '../cache-key.js';
import { EvidenceError, type Claims, type EvidencePlugin, type VerifyContext } from '../plugin.js';
import { checkValidity, findIssuer, parseCertificate, parseTrustAnchors, publicKeyOf, type ParsedCertificate } from './certificate.js';
import { decodeEvidence, decodeReport, SIM_MEDIA_TYPE, SIM_REPORT_VERSION } from './format.js';

export const SIM_WARNING = 'simulated TEE: this evidence offers no security and must not be trusted in production';

function platformKey(certificate: ReturnType<typeof parseCertificate>): KeyObject {
  let key: KeyObject;
  try {
    key = publicKeyOf(certificate);
  } catch (error) {
    throw new EvidenceError('unsupported', 'sim platform certificate has a public key Node cannot use', { cause: error });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new EvidenceError('unsupported', `sim platform key must be Ed25519, got ${String(key.asymmetricKeyType)}`);
  }
  return key;
}

/** A platform certificate whose chain to an anchor verified; validity is checked per call. */
interface VerifiedPlatform {
  readonly platform: ParsedCertificate;
  readonly root: ParsedCertificate;
  /** The platform key, or why it cannot be used (reported after validity, as before caching). */
  readonly key: KeyObject | EvidenceError;
}

/**
 * Verified chains by every input byte (platform certificate and each anchor, length-
 * prefixed): a fleet's platforms are few and re-attest often, and parsing plus an
 * X.509 signature check would otherwise cost more than the report signature itself.
 * Refusals are not cached, so junk cannot evict a good entry.
 */
const verifiedPlatforms = new LruCache<string, VerifiedPlatform>(1000);

/** Ed25519 on libuv's thread pool: the signature check is most of a verification, and the event loop serves requests meanwhile. */
function verifyOffThread(data: Uint8Array, key: KeyObject, signature: Uint8Array): Promise<boolean> {
  return new Promise((resolve, reject) => verifySignature(null, data, key, signature, (error, valid) => (error ? reject(error) : resolve(valid))));
}

function chainKey(platformDer: Uint8Array, anchors: readonly Uint8Array[]): string {
  return updateWithItems(createHash('sha256'), [platformDer, ...anchors]).digest('base64');
}

function verifiedPlatform(platformDer: Uint8Array, anchorItems: readonly Uint8Array[]): VerifiedPlatform {
  const cacheKey = chainKey(platformDer, anchorItems);
  const cached = verifiedPlatforms.get(cacheKey);
  if (cached !== undefined) return cached;
  const platform = parseCertificate(platformDer, 'sim platform certificate');
  const anchors = parseTrustAnchors(anchorItems);
  if (platform.isCa) throw new EvidenceError('chain', 'sim platform certificate is a CA certificate, not a platform');
  const root = findIssuer(platform, anchors);
  let key: KeyObject | EvidenceError;
  try {
    key = platformKey(platform);
  } catch (error) {
    if (!(error instanceof EvidenceError)) throw error;
    key = error;
  }
  const verified = { platform, root, key };
  verifiedPlatforms.set(cacheKey, verified);
  return verified;
}

async function verifySim(evidence: Uint8Array, context: VerifyContext): Promise<Claims> {
  if (!(context.now instanceof Date) || Number.isNaN(context.now.getTime())) {
    throw new CovenantError('validation-failed', 'verify context: now must be a valid Date', {
      issues: [{ field: 'now', message: 'must be a valid Date' }],
    });
  }
  const decoded = decodeEvidence(evidence);

  // No shipped default: a sim vendor root is made locally, so trusting one is always
  // an explicit choice of the operator.
  if (context.trustAnchors === undefined || context.trustAnchors.length === 0) {
    throw new EvidenceError('missing-collateral', 'sim evidence needs the vendor root as a trust anchor (there is no default for sim)');
  }
  const { platform, root, key } = verifiedPlatform(decoded.platformCertificate, context.trustAnchors);
  checkValidity(root, context.now, `sim vendor root (${root.subject})`);
  checkValidity(platform, context.now, `sim platform certificate (${platform.subject})`);
  if (key instanceof EvidenceError) throw key;

  let valid: boolean;
  try {
    valid = await verifyOffThread(decoded.report, key, decoded.signature);
  } catch (error) {
    throw new EvidenceError('signature', 'sim report signature could not be checked', { cause: error });
  }
  if (!valid) throw new EvidenceError('signature', 'sim report signature does not verify with the platform key');

  const report = decodeReport(decoded.report);
  const config: Record<string, Digest> = {};
  for (const [name, value] of Object.entries(report.configDigests).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    config[name] = parseDigest(value, `configDigests.${name}`);
  }
  return {
    teeClass: 'sim',
    measurements: [parseDigest(report.measurement, 'measurement')],
    ...(report.signer === undefined ? {} : { signer: report.signer.toLowerCase() }),
    ...(report.product === undefined ? {} : { product: report.product }),
    securityVersion: report.svn,
    debug: report.debug,
    config,
    reportData: report.reportData,
    details: {
      platform: platform.subject,
      ...(platform.commonName === undefined ? {} : { platformId: platform.commonName }),
      vendorRoot: root.subject,
      version: SIM_REPORT_VERSION,
      warning: SIM_WARNING,
    },
  };
}

export const simPlugin: EvidencePlugin = {
  teeClass: 'sim',
  mediaTypes: [SIM_MEDIA_TYPE],
  verify: verifySim,
};
