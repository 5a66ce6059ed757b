import { createHmac, type JsonWebKey } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { z } from 'zod';
import type { ControlPlane } from '../app/control-plane.js';
import type { EvidenceVerifier } from '../app/attestation.js';
import { CovenantError } from '../core/errors.js';
import { EvidenceError } from '../evidence/plugin.js';
import { LruCache } from '../core/lru.js';
import type { TeeClass } from '../core/model.js';
import { currentPolicy, releasesByVersion, requireWorkload } from '../policy/queries.js';
import { rolloutHistory } from '../rollout/queries.js';
import { verifyEar, type EarClaims } from '../verifier/ear.js';
import { encodeEnvelope, ATTESTATION_MEDIA_TYPE } from '../verifier/envelope.js';
import { SessionCodec, type AttestationSession } from '../verifier/session.js';
import { thumbprintOf } from '../verifier/token-keys.js';
import { AccessReads, releaseResource, timeRefusal, type Grant } from './access.js';
import { encryptToTee, type KbsResponse } from './jwe.js';
import { encodeChallengeNonce, KBS_PRIMARY_EVIDENCE, kbsEvidencePlugin, kbsEvidenceType } from './kbs-evidence.js';
import type { KeyEncryptionService } from './kms.js';
import { formatResource, parseResource, parseWritableResource, type ResourceName } from './names.js';
import { migrationWindow, sealedBody } from './queries.js';
import { KbsError, refusalError } from './refusals.js';
import { parseKbsAttestation } from './runtime-data.js';
import { sealValue, unsealValue } from './sealed.js';
import { deriveSlotKey, resolveSlot } from './slots.js';

/**
 * The key broker as the HTTP edge sees it: the KBS RCAR protocol (auth, attest,
 * resource) for TEE instances, and sealing for members' writes. No KBS session state
 * is kept: before attestation the `kbs-session-id` cookie is `<tee>~<attestation
 * session>` — the verifier's own MAC'd session, under a key derived per TEE class from
 * the tenant's session key, so a session made for one class opens under no other and a
 * replica holding `keys/` opens any — and after attestation it is the result token
 * itself (signed, bound to the attested key). Any replica can serve any step.
 */

/** What the broker needs of an attestation service (app/attestation.ts has exactly this). */
export interface KbsAttestationPort {
  newSession(workload: string, options?: { nonce?: Uint8Array; nonceBytes?: number }): Promise<AttestationSession & { token: string }>;
  attest(token: string, body: Uint8Array, contentType: string): Promise<{ readonly token: string; readonly instance: string }>;
}

export interface KeyBrokerOptions {
  readonly cp: ControlPlane;
  readonly tenant: string;
  readonly kms: KeyEncryptionService;
  /** The tenant master secret sealing-slot keys derive from (keys/<tenant>/sealing.key). */
  readonly sealingMaster: Uint8Array;
  /** The tenant's attestation session key; KBS session keys derive from it per TEE class. */
  readonly sessionKey: Uint8Array;
  /** The server's evidence formats; those a KBS message can carry become KBS TEE classes. */
  readonly verifiers: readonly EvidenceVerifier[];
  /** The attestation service for one KBS TEE class: the server's settings, this verifier and session key. */
  readonly attestationFor: (verifier: EvidenceVerifier, sessionKey: Uint8Array) => KbsAttestationPort;
}

export const KBS_COOKIE = 'kbs-session-id';
/** Challenge nonces: 32 random bytes, as Trustee issues them. */
const NONCE_BYTES = 32;
/** Tokens are verified for signature and shape at any age; their time is judged apart (timeRefusal), so a late one is refused by name. */
const ANY_AGE_SECONDS = 100 * 365 * 86_400;

const RequestSchema = z.strictObject({
  version: z.string().regex(/^0\.\d{1,3}\.\d{1,3}$/, 'must be a 0.x.y KBS protocol version'),
  tee: z.string().min(1).max(32),
  'extra-params': z.strictObject({ workload: z.string().min(1).max(128) }, { error: 'must be an object naming the workload: {"workload": "<name>"}' }),
});

export interface Challenge {
  readonly nonce: string;
  readonly 'extra-params': Record<string, never>;
}

interface KbsTee {
  readonly tee: TeeClass;
  readonly attestation: KbsAttestationPort;
  readonly sessions: SessionCodec;
}

interface VerifiedToken {
  readonly claims: EarClaims;
  readonly kid: string;
  readonly workload: string;
  readonly instance: string;
}

/** The credentials of a resource request, as the HTTP edge found them. */
export interface ResourceCredentials {
  /** `Authorization: Bearer <token>`. */
  readonly bearer?: string;
  /** The `kbs-session-id` cookie. */
  readonly cookie?: string;
}

export function kbsSessionKey(sessionKey: Uint8Array, tee: TeeClass): Uint8Array {
  return new Uint8Array(createHmac('sha256', sessionKey).update(`covenant kbs session v1\n${tee}`).digest());
}

/** A typed refusal of the message itself becomes the KBS's `InvalidRequest`; anything else stays what it is. */
function invalidRequest(error: unknown): never {
  if (error instanceof CovenantError) throw new KbsError('InvalidRequest', error.message, undefined, { cause: error });
  throw error;
}

export class KeyBroker {
  readonly #options: KeyBrokerOptions;
  readonly #tees = new Map<string, KbsTee>();
  readonly #reads = new AccessReads();
  /** Verified tokens by their text: a fleet presents the same token for many requests. */
  readonly #tokens = new LruCache<string, VerifiedToken>(10_000);
  /** Sealed values by digest (content-addressed, ciphertext only). */
  readonly #sealed = new LruCache<string, Uint8Array>(1_000);

  constructor(options: KeyBrokerOptions) {
    this.#options = options;
    for (const verifier of options.verifiers) {
      const tee = verifier.plugin.teeClass;
      const primary = KBS_PRIMARY_EVIDENCE[tee];
      if (primary === undefined || this.#tees.has(tee)) continue;
      const key = kbsSessionKey(options.sessionKey, tee);
      const adapted: EvidenceVerifier = { plugin: kbsEvidencePlugin(verifier.plugin, primary), ...(verifier.trustAnchors === undefined ? {} : { trustAnchors: verifier.trustAnchors }) };
      this.#tees.set(tee, { tee, attestation: options.attestationFor(adapted, key), sessions: new SessionCodec(key) });
    }
  }

  /** TEE classes whose evidence the KBS protocol can carry here. */
  get tees(): string[] {
    return [...this.#tees.keys()];
  }

  /** `POST /kbs/v0/auth`: a challenge, and the session cookie that carries it. */
  async auth(body: unknown): Promise<{ challenge: Challenge; cookie: string }> {
    const parsed = RequestSchema.safeParse(body);
    if (!parsed.success) {
      throw new KbsError('InvalidRequest', `KBS request is invalid: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')}`);
    }
    const { tee, 'extra-params': params } = parsed.data;
    const kbsTee = this.#tees.get(tee);
    if (kbsTee === undefined) throw new KbsError('InvalidRequest', `tee ${JSON.stringify(tee)} is not accepted here (accepted: ${this.tees.join(', ') || 'none'})`);
    const session = await kbsTee.attestation.newSession(params.workload, { nonceBytes: NONCE_BYTES }).catch(invalidRequest);
    return { challenge: { nonce: encodeChallengeNonce(session.nonce), 'extra-params': {} }, cookie: `${tee}~${session.token}` };
  }

  /** `POST /kbs/v0/attest`: the result token, which also becomes the session cookie. */
  async attest(cookie: string | undefined, body: Uint8Array): Promise<{ token: string; maxAgeSeconds: number }> {
    if (cookie === undefined) throw new KbsError('MissingCookie', `no ${KBS_COOKIE} cookie: start with POST /kbs/v0/auth`);
    const at = cookie.indexOf('~');
    const kbsTee = at > 0 ? this.#tees.get(cookie.slice(0, at)) : undefined;
    if (kbsTee === undefined) throw new KbsError('InvalidCookie', `the ${KBS_COOKIE} cookie names no KBS session awaiting attestation`);
    const session = cookie.slice(at + 1);
    let document: ReturnType<typeof parseKbsAttestation>;
    try {
      document = parseKbsAttestation(body);
    } catch (error) {
      invalidRequest(error);
    }
    const envelope = encodeEnvelope({ evidenceType: kbsEvidenceType(kbsTee.tee), evidence: body, instanceKey: document.teeKey.spki, collateral: [] });
    let token: string;
    try {
      ({ token } = await kbsTee.attestation.attest(session, envelope, ATTESTATION_MEDIA_TYPE));
    } catch (error) {
      if (!(error instanceof CovenantError)) throw error;
      switch (error.type) {
        case 'not-found':
          throw new KbsError('InvalidCookie', 'no such KBS session (unknown, altered, or made by a server with other keys)');
        case 'session-expired':
          throw new KbsError('ExpiredCookie', error.message);
        case 'conflict':
          return this.#replayed(kbsTee, session, error.message);
        case 'evidence-invalid':
          throw new KbsError('AttestationFailed', error.message, `evidence-invalid:${error instanceof EvidenceError ? error.reason : 'unknown'}`);
        case 'bad-request':
        case 'validation-failed':
        case 'unsupported-media-type':
          return invalidRequest(error);
        default:
          throw error;
      }
    }
    const { exp } = decodeJwt(token);
    const maxAgeSeconds = Math.max(0, (exp ?? 0) - Math.floor(this.#options.cp.clock().getTime() / 1000));
    return { token, maxAgeSeconds };
  }

  /**
   * A spent session proves nothing about its sender, and the key in the message is the
   * sender's claim: refused (and counted at the edge), never ledgered, or anyone holding
   * one spent cookie could write entries without end under any instance name.
   */
  #replayed(kbsTee: KbsTee, token: string, message: string): never {
    const session = kbsTee.sessions.open(token, this.#options.cp.clock());
    throw refusalError('replayed-nonce', `${message} (challenge ${encodeChallengeNonce(session.nonce)})`);
  }

  /** `GET /kbs/v0/resource/<repository>/<type>/<tag>`: the secret as a JWE to the attested key. */
  async resource(path: string, version: string | undefined, credentials: ResourceCredentials, keys: { readonly keys: readonly JsonWebKey[] }): Promise<KbsResponse> {
    let resource: ResourceName;
    try {
      resource = parseResource(path, 'path');
    } catch (error) {
      throw new KbsError('InvalidRequestPath', `not a resource path /kbs/v0/resource/<repository>/<type>/<tag>: ${(error as Error).message}`);
    }
    if (version !== undefined && !/^[1-9]\d{0,8}$/.test(version)) throw new KbsError('InvalidRequest', `version must be a positive whole number, got ${JSON.stringify(version.slice(0, 16))}`);
    const sessionToken = credentials.cookie !== undefined && !credentials.cookie.includes('~') ? credentials.cookie : undefined;
    const presented = credentials.bearer ?? sessionToken;
    if (presented === undefined) {
      throw new KbsError('TokenNotFound', credentials.cookie === undefined ? 'no attestation token: send Authorization: Bearer <token>, or attest first' : `the ${KBS_COOKIE} session is not attested yet: POST /kbs/v0/attest first`);
    }
    const token = await this.#verified(presented, keys);
    const { cp, tenant } = this.#options;
    // Refusals of a token that does not hold as a credential are decided here, before the
    // spine: a bearer token proves nothing of its presenter, so an expired one (or two
    // naming different keys) may be replayed at will — counted at the edge, never
    // ledgered. The spine judges time again inside its transaction.
    const late = timeRefusal(token.claims, cp.clock());
    if (late !== undefined) throw refusalError(late.reason, late.message);
    if (credentials.bearer !== undefined && sessionToken !== undefined) {
      const session = await this.#verified(sessionToken, keys);
      if (session.instance !== token.instance) throw refusalError('tee-key-mismatch', `the token is bound to key ${token.instance}, but this session attested key ${session.instance}`);
    }
    const input = { resource, ...(version === undefined ? {} : { version: Number(version) }), claims: token.claims, workload: token.workload, instance: token.instance };
    const grant = await cp.execute(tenant, releaseResource({ ...input, reads: this.#reads }));
    const plaintext = await this.#plaintext(grant);
    try {
      return await encryptToTee(token.claims.cnf.jwk as JsonWebKey, plaintext);
    } finally {
      plaintext.fill(0);
    }
  }

  async #verified(token: string, keys: { readonly keys: readonly JsonWebKey[] }): Promise<VerifiedToken> {
    const cached = this.#tokens.get(token);
    // A cached verification holds while the key that signed it is still published.
    if (cached !== undefined && keys.keys.some((key) => key.kid === cached.kid)) return cached;
    let claims: EarClaims;
    try {
      claims = await verifyEar(token, keys, this.#options.cp.clock(), { clockToleranceSeconds: ANY_AGE_SECONDS });
    } catch (error) {
      if (error instanceof CovenantError) throw new KbsError('TokenVerifierError', error.message, undefined, { cause: error });
      throw error;
    }
    const workloads = Object.keys(claims.submods);
    if (workloads.length !== 1) throw new KbsError('TokenVerifierError', `the token appraises ${workloads.length} workloads; a key broker token names exactly one`);
    const verified: VerifiedToken = { claims, kid: String(decodeProtectedHeader(token).kid), workload: workloads[0]!, instance: await thumbprintOf(claims.cnf.jwk as JsonWebKey) };
    this.#tokens.set(token, verified);
    return verified;
  }

  async #plaintext(grant: Grant): Promise<Uint8Array> {
    const { cp, tenant, kms, sealingMaster } = this.#options;
    if (grant.kind === 'slot') {
      const { key, kid } = deriveSlotKey(sealingMaster, tenant, grant.workload, grant.release);
      const document = { slot: grant.slot, kid, release: grant.release.version, key: Buffer.from(key).toString('base64url'), ...(grant.closesAt === undefined ? {} : { closesAt: grant.closesAt }) };
      key.fill(0);
      return new TextEncoder().encode(JSON.stringify(document));
    }
    let body = this.#sealed.get(grant.digest);
    if (body === undefined) {
      body = await sealedBody(cp.store.db, tenant, grant.digest);
      if (body === undefined) throw new CovenantError('internal', `the sealed value of ${grant.resource} version ${grant.version} is missing`);
      this.#sealed.set(grant.digest, body);
    }
    return unsealValue(kms, { tenant, resource: grant.resource }, body);
  }

  /** Seals a value for a member's write: the command carries these bytes, never the value. */
  async seal(resource: string, plaintext: Uint8Array): Promise<string> {
    const name = formatResource(parseWritableResource(resource));
    const sealed = await sealValue(this.#options.kms, { tenant: this.#options.tenant, resource: name }, plaintext);
    return Buffer.from(sealed.body).toString('base64');
  }

  /** The sealing slots of every release the workload's policy accepts now: key ids, never keys. */
  async slots(workload: string): Promise<SlotsView> {
    const { cp, tenant, sealingMaster } = this.#options;
    const db = cp.store.db;
    await requireWorkload(db, tenant, workload);
    const now = cp.clock();
    const [policy, releases, rollouts, window] = await Promise.all([currentPolicy(db, tenant, workload), releasesByVersion(db, tenant, workload), rolloutHistory(db, tenant, workload), migrationWindow(db, tenant, workload)]);
    const rows = (policy?.document.accepted ?? []).map((accepted): SlotRow => {
      const release = { version: accepted.version, digest: accepted.digest };
      const rollout = [...rollouts].reverse().find((candidate) => candidate.document.to === accepted.version);
      const legacy = resolveSlot({ slot: 'legacy', release, ...(rollout === undefined ? {} : { rollout }), releases, windowSeconds: window.seconds, now });
      return {
        release: accepted.version,
        current: deriveSlotKey(sealingMaster, tenant, workload, release).kid,
        ...(legacy.granted
          ? { legacy: { release: legacy.release.version, kid: deriveSlotKey(sealingMaster, tenant, workload, legacy.release).kid, ...(legacy.closesAt === undefined ? {} : { closesAt: legacy.closesAt }) } }
          : {}),
      };
    });
    return { workload, migrationWindowSeconds: window.seconds, ...(window.setAt === undefined ? {} : { windowSetAt: window.setAt, windowSetBy: window.setBy! }), releases: rows };
  }
}

export interface SlotRow {
  readonly release: string;
  /** Key id of the release's own sealing key (its `current` slot). */
  readonly current: string;
  /** The `legacy` slot instances of this release may read now, if open. */
  readonly legacy?: { readonly release: string; readonly kid: string; readonly closesAt?: string };
}

export interface SlotsView {
  readonly workload: string;
  readonly migrationWindowSeconds: number;
  readonly windowSetAt?: string;
  readonly windowSetBy?: string;
  readonly releases: readonly SlotRow[];
}
