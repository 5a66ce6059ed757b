import type { JsonWebKey, KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, importJWK, jwtVerify, SignJWT, base64url } from 'jose';
import { z } from 'zod';
import { SHA256_DIGEST } from '../core/canonical.js';
import { CovenantError, type FieldIssue } from '../core/errors.js';
import { TEE_CLASSES, type TeeClass } from '../core/model.js';
import { instancePublicJwk, signingPublicJwk, thumbprintOf } from './token-keys.js';
import { DEFAULT_JITTER_FRACTION, DEFAULT_LIFETIME_SECONDS, jitteredLifetimeSeconds } from './token-lifetime.js';
import { TRUST_CLAIMS, type Tier, type TrustClaim, type TrustVector } from './trust-vector.js';

export { DEFAULT_JITTER_FRACTION, DEFAULT_LIFETIME_SECONDS, jitteredLifetimeSeconds, longestLifetimeSeconds } from './token-lifetime.js';

/**
 * Attestation results as EAR (draft-ietf-rats-ear) JWTs signed ES256 with the
 * tenant's `token.pem`, bound (RFC 7800 `cnf`) to the key the TEE attested, so a
 * relying party can demand proof of possession instead of trusting a bearer token.
 */

export const EAR_PROFILE = 'tag:github.com,2023:veraison/ear';

/** A vector as carried in a token: a foreign verifier may leave claims out. */
export type TokenTrustVector = Partial<TrustVector>;

export type IssuedStatus = Exclude<Tier, 'none'>;


/** EAT (RFC 9711) bounds `eat_nonce` to 8..64 bytes. */
const NONCE_MIN_BYTES = 8;
const NONCE_MAX_BYTES = 64;

export interface EarInput {
  readonly nonce: Uint8Array;
  readonly verifierId: { readonly developer: string; readonly build: string };
  readonly workload: string;
  readonly status: IssuedStatus;
  readonly trustVector: TokenTrustVector;
  readonly policyId: string;
  readonly matchedRelease?: { readonly version: string; readonly digest: string };
  /** The TEE class the evidence came from: a relying party must be able to refuse `sim`. */
  readonly tee?: TeeClass;
  /** Attached devices (composite evidence): one submodule each, beside the workload's. */
  readonly devices?: readonly DeviceAppraisalInput[];
  /** The attested instance key, public only; becomes `cnf.jwk`. */
  readonly instanceKey: JsonWebKey;
  /**
   * `covenant.evidence`: the digest the verdict retained the evidence and its verified
   * claims under, so the token's standing can re-appraise them against a later policy.
   */
  readonly evidence?: string;
  readonly lifetimeSeconds?: number;
  /**
   * After a policy change every instance re-attests when its token expires; spreading
   * lifetimes by ±fraction keeps them from all arriving in the same second.
   * `fraction: 0` disables it; `random` is injectable so tests are deterministic.
   */
  readonly jitter?: { readonly fraction?: number; readonly random?: () => number };
}

export interface DeviceAppraisalInput {
  /** Its submodule's name (`deviceSubmod`). */
  readonly name: string;
  readonly tee: TeeClass;
  readonly status: IssuedStatus;
  readonly trustVector: TokenTrustVector;
  readonly policyId: string;
  readonly matchedRelease?: { readonly version: string; readonly digest: string };
}

/**
 * A device's submodule: `<workload>/<tee class>/<index>`, with `covenant.workload`
 * naming the workload whose policy appraised it, for relying parties that check it.
 */
export function deviceSubmod(workload: string, tee: TeeClass, index: number): string {
  return `${workload}/${tee}/${index}`;
}

const base64urlString = z.string().regex(/^[A-Za-z0-9_-]+$/, 'must be base64url without padding');
const claimValue = z.number().int().min(-128).max(127);
const trustVectorSchema = z.strictObject(Object.fromEntries(TRUST_CLAIMS.map((claim) => [claim, claimValue.optional()])) as Record<TrustClaim, z.ZodOptional<typeof claimValue>>);

const appraisalSchema = z.object({
  'ear.status': z.enum(['none', 'affirming', 'warning', 'contraindicated']),
  'ear.trustworthiness-vector': trustVectorSchema,
  'ear.appraisal-policy-id': z.string().min(1),
  'covenant.release': z.strictObject({ version: z.string().min(1), digest: z.string().min(1) }).optional(),
  'covenant.tee': z.enum(TEE_CLASSES).optional(),
  'covenant.workload': z.string().min(1).optional(),
});

const claimsSchema = z.object({
  eat_profile: z.literal(EAR_PROFILE),
  iat: z.number().int().nonnegative(),
  exp: z.number().int().positive(),
  eat_nonce: base64urlString,
  'ear.verifier-id': z.strictObject({ developer: z.string().min(1), build: z.string().min(1) }),
  submods: z.record(z.string().min(1), appraisalSchema).refine((submods) => Object.keys(submods).length > 0, 'must name at least one workload'),
  cnf: z.object({ jwk: z.record(z.string(), z.unknown()).refine((jwk) => !('d' in jwk), 'must not carry a private key') }),
  'covenant.evidence': z.string().regex(SHA256_DIGEST).optional(),
});

export type EarAppraisal = z.infer<typeof appraisalSchema>;
export type EarClaims = z.infer<typeof claimsSchema>;

function issuesOf(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({ field: issue.path.map(String).join('.'), message: issue.message }));
}

/** A signing key's kid never changes; computing it is a JWK export and a hash. */
const kids = new WeakMap<KeyObject, Promise<string>>();

function kidOf(signingKey: KeyObject): Promise<string> {
  let kid = kids.get(signingKey);
  if (kid === undefined) {
    kid = thumbprintOf(signingPublicJwk(signingKey));
    kids.set(signingKey, kid);
  }
  return kid;
}

export async function issueEar(input: EarInput, signingKey: KeyObject, now: Date): Promise<string> {
  if (input.nonce.length < NONCE_MIN_BYTES || input.nonce.length > NONCE_MAX_BYTES) {
    throw new CovenantError('bad-request', `nonce must be ${NONCE_MIN_BYTES}..${NONCE_MAX_BYTES} bytes, got ${input.nonce.length}`);
  }
  const lifetime = jitteredLifetimeSeconds(
    input.lifetimeSeconds ?? DEFAULT_LIFETIME_SECONDS,
    input.jitter?.fraction ?? DEFAULT_JITTER_FRACTION,
    (input.jitter?.random ?? Math.random)(),
  );
  const iat = Math.floor(now.getTime() / 1000);
  const submod = (a: { status: IssuedStatus; trustVector: TokenTrustVector; policyId: string; tee?: TeeClass; matchedRelease?: { version: string; digest: string } }): Record<string, unknown> => ({
    'ear.status': a.status,
    'ear.trustworthiness-vector': { ...a.trustVector },
    'ear.appraisal-policy-id': a.policyId,
    ...(a.tee === undefined ? {} : { 'covenant.tee': a.tee }),
    ...(a.matchedRelease === undefined ? {} : { 'covenant.release': { version: a.matchedRelease.version, digest: a.matchedRelease.digest } }),
  });
  const submods: Record<string, Record<string, unknown>> = { [input.workload]: submod(input) };
  for (const device of input.devices ?? []) submods[device.name] = { ...submod(device), 'covenant.workload': input.workload };
  const draft = {
    eat_profile: EAR_PROFILE,
    iat,
    exp: iat + lifetime,
    eat_nonce: base64url.encode(input.nonce),
    'ear.verifier-id': { developer: input.verifierId.developer, build: input.verifierId.build },
    submods,
    cnf: { jwk: instancePublicJwk(input.instanceKey) },
    ...(input.evidence === undefined ? {} : { 'covenant.evidence': input.evidence }),
  };
  // Checked with the schema verifyEar applies, so nothing is signed that would be refused.
  const parsed = claimsSchema.safeParse(draft);
  if (!parsed.success) throw new CovenantError('bad-request', 'attestation result claims are invalid', { issues: issuesOf(parsed.error) });
  const kid = await kidOf(signingKey);
  return new SignJWT(draft).setProtectedHeader({ alg: 'ES256', typ: 'JWT', kid }).sign(signingKey);
}

export interface VerifyEarOptions {
  readonly expectedNonce?: Uint8Array;
  /** Require an appraisal for this workload in `submods`. */
  readonly workload?: string;
  /** Skew allowed between the issuer's clock and `now`, for `exp` and `iat`. */
  readonly clockToleranceSeconds?: number;
}

const unauthenticated = (message: string): CovenantError => new CovenantError('unauthenticated', message);
const malformed = (message: string, cause?: unknown): CovenantError => new CovenantError('bad-request', message, { cause });

function keyFor(kid: string, keys: { readonly keys: readonly JsonWebKey[] }): JsonWebKey {
  const matches = keys.keys.filter((key) => key.kid === kid);
  if (matches.length === 0) throw unauthenticated(`EAR signed by unknown key (kid ${kid})`);
  if (matches.length > 1) throw unauthenticated(`EAR key set lists kid ${kid} more than once`);
  const key = matches[0] as JsonWebKey;
  if (key.kty !== 'EC' || key.crv !== 'P-256' || (key.alg !== undefined && key.alg !== 'ES256') || (key.use !== undefined && key.use !== 'sig')) {
    throw unauthenticated(`EAR key ${kid} is not an ES256 signing key`);
  }
  return { kty: 'EC', crv: 'P-256', x: key.x, y: key.y };
}

/**
 * Checks signature, `exp`/`iat` against the caller's `now`, the claim set's shape,
 * and optionally the nonce and the workload. Failures:
 * - `bad-request`: not a compact JWS, wrong `typ`, claims malformed.
 * - `unauthenticated`: alg other than ES256, missing or unknown `kid`, signature
 *   does not verify, expired, issued in the future, wrong nonce, workload absent.
 */
export async function verifyEar(
  token: string,
  keys: { readonly keys: readonly JsonWebKey[] },
  now: Date,
  options: VerifyEarOptions = {},
): Promise<EarClaims> {
  const tolerance = options.clockToleranceSeconds ?? 0;
  if (typeof token !== 'string' || token.split('.').length !== 3) throw malformed('EAR is not a compact JWS');
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch (error) {
    throw malformed(`EAR header is malformed: ${(error as Error).message}`, error);
  }
  if (header.alg !== 'ES256') throw unauthenticated(`EAR alg ${String(header.alg)} is not accepted (ES256 only)`);
  if (header.typ !== 'JWT') throw malformed(`EAR typ ${String(header.typ)} is not JWT`);
  if (typeof header.kid !== 'string' || header.kid === '') throw unauthenticated('EAR header names no kid');
  const jwk = keyFor(header.kid, keys);

  let payload: unknown;
  try {
    const key = await importJWK(jwk as Parameters<typeof importJWK>[0], 'ES256');
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ['ES256'],
      currentDate: now,
      clockTolerance: tolerance,
      requiredClaims: ['iat', 'exp'],
    }));
  } catch (error) {
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw unauthenticated('EAR signature does not verify');
    if (error instanceof joseErrors.JWTExpired) throw unauthenticated(`EAR expired (exp ${String(error.payload.exp)}, now ${Math.floor(now.getTime() / 1000)})`);
    if (error instanceof joseErrors.JWTClaimValidationFailed) throw malformed(`EAR claim ${error.claim} is invalid: ${error.message}`, error);
    if (error instanceof joseErrors.JOSEError) throw malformed(`EAR is malformed: ${error.message}`, error);
    throw error;
  }

  const parsed = claimsSchema.safeParse(payload);
  if (!parsed.success) throw new CovenantError('bad-request', 'EAR claims are malformed', { issues: issuesOf(parsed.error) });
  const claims = parsed.data;
  const nowSeconds = Math.floor(now.getTime() / 1000);
  if (claims.iat > nowSeconds + tolerance) throw unauthenticated(`EAR issued in the future (iat ${claims.iat}, now ${nowSeconds})`);
  if (claims.exp <= claims.iat) throw malformed(`EAR exp ${claims.exp} is not after iat ${claims.iat}`);
  if (options.expectedNonce !== undefined && claims.eat_nonce !== base64url.encode(options.expectedNonce)) {
    throw unauthenticated('EAR nonce does not match the expected nonce');
  }
  if (options.workload !== undefined && !Object.hasOwn(claims.submods, options.workload)) {
    throw unauthenticated(`EAR carries no appraisal for workload ${options.workload}`);
  }
  return claims;
}
