import type { JsonWebKey, KeyObject } from 'node:crypto';
import { sha256Digest } from '../core/canonical.js';
import { CovenantError } from '../core/errors.js';
import { LruCache } from '../core/lru.js';
import { isAnchorClass } from '../anchors/classes.js';
import { shippedAnchors } from '../anchors/shipped.js';
import type { PolicyVersion, Release, TeeClass } from '../core/model.js';
import { decidePolicyUpdate, type PolicyUpdate } from '../core/policy.js';
import { EvidenceError, type Claims, type EvidencePlugin } from '../evidence/plugin.js';
import { SIM_MEDIA_TYPE } from '../evidence/sim/format.js';
import { checkRule } from '../policy/cel.js';
import { currentPolicy, policyById, releasesByVersion, requireWorkload } from '../policy/queries.js';
import { appraise, type Appraisal, type AppraisalReason, type AppraisalStatus } from '../verifier/appraisal.js';
import { CHECKS_OWN_NONCE, checkBinding, expectedReportData } from '../verifier/binding.js';
import { appraiseComposite, recordVerdict, type Subject, type VerdictResult, type VerifiedEvidence } from '../verifier/commands.js';
import { deviceSubmod, issueEar } from '../verifier/ear.js';
import { parseEnvelope, type AttestationEnvelope, type DeviceEvidence } from '../verifier/envelope.js';
import { PolicyRuleCache } from '../verifier/rules.js';
import { SessionCodec, type AttestationSession } from '../verifier/session.js';
import { appraisalContextKey, VerdictReads } from '../verifier/verdict-reads.js';
import { longestLifetimeSeconds } from '../verifier/token-lifetime.js';
import { jwkFromSpki, thumbprintOf } from '../verifier/token-keys.js';
import type { ControlPlane } from './control-plane.js';
import { DEFAULT_RETENTION_SECONDS } from './retention.js';

/** One evidence format the verifier takes, with the anchors it trusts (absent: the plugin's shipped roots). */
export interface EvidenceVerifier {
  readonly plugin: EvidencePlugin;
  readonly trustAnchors?: readonly Uint8Array[];
}

export interface AttestationOptions {
  readonly cp: ControlPlane;
  readonly tenant: string;
  readonly sessionKey: Uint8Array;
  /** Signs attestation results (ES256): a fixed key, or the tenant's ring, which online rotations change. */
  readonly tokenKey: KeyObject | { signingKey(): Promise<KeyObject> };
  readonly verifiers: readonly EvidenceVerifier[];
  /** `ear.verifier-id.build`: the software version. */
  readonly build: string;
  readonly sessionSeconds?: number;
  readonly tokenLifetimeSeconds?: number;
  readonly tokenJitter?: number;
  /** How long raw evidence is kept for re-appraisal (default one day). */
  readonly retentionSeconds?: number;
  /** What members gave the verifiers: imported collateral (offered after what the instance posted) and trust anchors. */
  readonly material?: VerificationMaterialSource;
}

export interface VerificationMaterialSource {
  forClass(tee: TeeClass): Promise<readonly Uint8Array[]>;
  /** Trust anchors members added for the class, trusted beside its configured or shipped roots. */
  anchorsFor(tee: TeeClass): Promise<readonly Uint8Array[]>;
}

export interface Attested {
  readonly session: AttestationSession;
  readonly envelope: AttestationEnvelope;
  readonly instance: string;
  readonly appraisal: Appraisal;
  /** The attached devices' appraisals, in the order posted. */
  readonly devices: readonly Appraisal[];
  /** The EAR JWT. */
  readonly token: string;
}

export type SessionStatus = 'waiting' | 'complete' | 'failed' | 'deleted';

/** What a candidate policy would make of one known instance. */
export interface DryRunInstance {
  readonly instance: string;
  readonly tee: string;
  readonly lastSeen: string;
  readonly release: string | null;
  readonly current: string;
  /** `unavailable` when the instance's latest evidence is no longer retained. */
  readonly wouldBe: AppraisalStatus | 'unavailable';
  readonly reasons: readonly AppraisalReason[];
}

export interface DryRun {
  readonly workload: string;
  /** The candidate's id: a stored version's, or the one an update would get now. */
  readonly candidate: string;
  readonly instances: readonly DryRunInstance[];
  readonly counts: Readonly<Record<DryRunInstance['wouldBe'], number>>;
}

const MEMO_CAPACITY = 10_000;

/**
 * Challenge-response attestation: a session's nonce, the evidence that binds it and
 * the instance key, verification (outside the write lock: it is the expensive part),
 * then appraisal and the verdict through the spine, and an EAR bound to the key.
 */
export class AttestationService {
  readonly #options: AttestationOptions;
  readonly #sessions: SessionCodec;
  readonly #verifiers: ReadonlyMap<string, EvidenceVerifier>;
  readonly #rules = new PolicyRuleCache();
  readonly #reads = new VerdictReads();
  /** Appraisals by (evidence digest, `appraisalContextKey`): a new policy version or release status misses by construction. */
  readonly #appraisals = new LruCache<string, Appraisal>(MEMO_CAPACITY);
  /** Instance keys by SPKI: a fleet re-attests with the same keys, and decoding one is not free. */
  readonly #instanceKeys = new LruCache<string, { readonly jwk: JsonWebKey; readonly thumbprint: string }>(MEMO_CAPACITY);
  readonly #knownWorkloads = new LruCache<string, true>(MEMO_CAPACITY);

  constructor(options: AttestationOptions) {
    this.#options = options;
    this.#sessions = new SessionCodec(options.sessionKey);
    const verifiers = new Map<string, EvidenceVerifier>();
    for (const verifier of options.verifiers) for (const type of verifier.plugin.mediaTypes) verifiers.set(type, verifier);
    this.#verifiers = verifiers;
  }

  /** Evidence media types this verifier takes inside the attestation document. */
  get evidenceTypes(): string[] {
    return [...this.#verifiers.keys()];
  }

  async newSession(workload: string, options: { nonce?: Uint8Array; nonceBytes?: number } = {}): Promise<AttestationSession & { token: string }> {
    const { cp, tenant } = this.#options;
    // Workloads are never deleted, so one that existed still does.
    if (this.#knownWorkloads.get(workload) === undefined) {
      await requireWorkload(cp.store.db, tenant, workload);
      this.#knownWorkloads.set(workload, true);
    }
    const { token, session } = this.#sessions.create(workload, cp.clock(), {
      ...options,
      ...(this.#options.sessionSeconds === undefined ? {} : { lifetimeSeconds: this.#options.sessionSeconds }),
    });
    return { ...session, token };
  }

  async status(token: string): Promise<{ session: AttestationSession; status: SessionStatus }> {
    const { cp, tenant } = this.#options;
    const session = this.#sessions.open(token, cp.clock());
    const spent = await cp.store.db.selectFrom('attestation_sessions').select('status').where('tenant', '=', tenant).where('id', '=', session.id).executeTakeFirst();
    return { session, status: (spent?.status as SessionStatus | undefined) ?? 'waiting' };
  }

  /** Spends a session without evidence: its nonce can no longer be used. */
  async discard(token: string): Promise<void> {
    const { cp, tenant } = this.#options;
    const session = this.#sessions.open(token, cp.clock());
    await cp.store.db
      .insertInto('attestation_sessions')
      .values({ tenant, id: session.id, status: 'deleted', verdict_seq: null, expires_at: session.expiresAt.toISOString() })
      .onConflict((oc) => oc.columns(['tenant', 'id']).doNothing())
      .execute();
  }

  async attest(token: string, body: Uint8Array, contentType: string): Promise<Attested> {
    const { cp, tenant } = this.#options;
    const now = cp.clock();
    const session = this.#sessions.open(token, now);
    const envelope = parseEnvelope(body);
    const verifier = this.#verifierFor(envelope.evidenceType);
    const deviceVerifiers = envelope.devices.map((device) => this.#verifierFor(device.evidenceType));
    const { jwk: instanceKey, thumbprint: instance } = await this.#instanceKey(envelope.instanceKey);
    const outcome = await this.#verifyAll(verifier, deviceVerifiers, envelope, session, now);
    const digest = sha256Digest(body);
    const { result } = await cp.committer.submit<VerdictResult>(
      tenant,
      recordVerdict({
        session,
        instance,
        evidence: { type: envelope.evidenceType, digest, body, bodyType: contentType },
        devices: envelope.devices.map((device) => device.evidenceType),
        outcome,
        appraise: (claims, policy, releases, at, subject) => this.#appraise(digest, claims, policy, releases, at, subject),
        reads: this.#reads,
        receivedAt: now,
        // Kept at least as long as a token can live: its standing re-appraises these claims.
        retainUntil: new Date(now.getTime() + Math.max(this.#options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS, longestLifetimeSeconds(this.#options.tokenLifetimeSeconds, this.#options.tokenJitter)) * 1000),
      }),
    );
    const { appraisal } = result;
    const submod = (name: string, tee: TeeClass, a: Appraisal) => ({
      name,
      tee,
      status: a.status,
      trustVector: a.trustVector,
      policyId: a.policyId,
      ...(a.matchedRelease === undefined ? {} : { matchedRelease: a.matchedRelease }),
    });
    const ear = await issueEar(
      {
        nonce: session.nonce,
        verifierId: { developer: 'covenant', build: this.#options.build },
        workload: session.workload,
        tee: verifier.plugin.teeClass,
        status: appraisal.status,
        trustVector: appraisal.trustVector,
        policyId: appraisal.policyId,
        ...(appraisal.matchedRelease === undefined ? {} : { matchedRelease: appraisal.matchedRelease }),
        devices: result.devices.map((device, i) => submod(deviceSubmod(session.workload, deviceVerifiers[i]!.plugin.teeClass, i), deviceVerifiers[i]!.plugin.teeClass, device)),
        instanceKey,
        evidence: digest,
        ...(this.#options.tokenLifetimeSeconds === undefined ? {} : { lifetimeSeconds: this.#options.tokenLifetimeSeconds }),
        ...(this.#options.tokenJitter === undefined ? {} : { jitter: { fraction: this.#options.tokenJitter } }),
      },
      'signingKey' in this.#options.tokenKey ? await this.#options.tokenKey.signingKey() : this.#options.tokenKey,
      cp.clock(),
    );
    return { session, envelope, instance, appraisal, devices: result.devices, token: ear };
  }

  #verifierFor(evidenceType: string): EvidenceVerifier {
    const verifier = this.#verifiers.get(evidenceType);
    if (verifier === undefined) {
      // The sim vendor root is read once, at start (a file appearing in the data directory
      // must not make a running server accept forgeable evidence): say so, since the usual
      // cause is `covenant sim init` run after `covenant serve`.
      const hint = evidenceType === SIM_MEDIA_TYPE ? '; simulated-TEE evidence needs a vendor root when the server starts: run `covenant sim init`, then restart the server' : '';
      throw new CovenantError('unsupported-media-type', `evidence type ${JSON.stringify(evidenceType)} is not accepted here (accepted: ${this.evidenceTypes.join(', ') || 'none'})${hint}`);
    }
    return verifier;
  }

  /**
   * Re-appraises the latest verified claims of every instance in the workload's
   * inventory against `candidate` — a stored version, or an update of the current
   * one that is decided but never committed. Reads only.
   */
  async dryRun(workload: string, candidate: { readonly version: string } | { readonly update: PolicyUpdate; readonly actor: string }): Promise<DryRun> {
    const { cp, tenant } = this.#options;
    const db = cp.store.db;
    await requireWorkload(db, tenant, workload);
    const now = cp.clock();
    const releases = await releasesByVersion(db, tenant, workload);
    const policy =
      'version' in candidate
        ? await policyById(db, tenant, workload, candidate.version)
        : decidePolicyUpdate({ current: await currentPolicy(db, tenant, workload), releases, update: candidate.update, actor: candidate.actor, now, tenant, workload, checkRule });
    const rows = await db
      .selectFrom('instances')
      .leftJoin('attachments', (join) => join.onRef('attachments.tenant', '=', 'instances.tenant').onRef('attachments.digest', '=', 'instances.evidence_digest'))
      .select(['instances.instance', 'instances.tee', 'instances.last_seen', 'instances.release', 'instances.status', 'instances.evidence_digest', 'attachments.meta'])
      .where('instances.tenant', '=', tenant)
      .where('instances.workload', '=', workload)
      .orderBy('instances.instance')
      .execute();
    const counts = { affirming: 0, warning: 0, contraindicated: 0, unavailable: 0 };
    const instances = rows.map((row): DryRunInstance => {
      const known = { instance: row.instance, tee: row.tee, lastSeen: row.last_seen, release: row.release, current: row.status };
      if (row.meta === null) {
        counts.unavailable += 1;
        return { ...known, wouldBe: 'unavailable', reasons: [] };
      }
      const { claims, devices = [] } = JSON.parse(row.meta) as { claims: Claims; devices?: Claims[] };
      const { appraisal } = appraiseComposite({ claims, devices }, policy, releases, now, (c, p, r, at, subject) => this.#appraise(row.evidence_digest, c, p, r, at, subject));
      counts[appraisal.status] += 1;
      return { ...known, wouldBe: appraisal.status, reasons: appraisal.reasons };
    });
    return { workload, candidate: policy.id, instances, counts };
  }

  async #instanceKey(spki: Uint8Array): Promise<{ readonly jwk: JsonWebKey; readonly thumbprint: string }> {
    const id = Buffer.from(spki).toString('base64');
    const cached = this.#instanceKeys.get(id);
    if (cached !== undefined) return cached;
    const jwk = jwkFromSpki(spki);
    const key = { jwk, thumbprint: await thumbprintOf(jwk) };
    this.#instanceKeys.set(id, key);
    return key;
  }

  /** The TEE's evidence and every device's, each checked for the nonce and key binding; the first refusal wins. */
  async #verifyAll(verifier: EvidenceVerifier, deviceVerifiers: readonly EvidenceVerifier[], envelope: AttestationEnvelope, session: AttestationSession, now: Date): Promise<VerifiedEvidence | { error: EvidenceError }> {
    try {
      const claims = await this.#verify(verifier, envelope, envelope, session, now);
      const devices: Claims[] = [];
      for (const [i, device] of envelope.devices.entries()) devices.push(await this.#verify(deviceVerifiers[i]!, device, envelope, session, now));
      return { claims, devices };
    } catch (error) {
      if (error instanceof EvidenceError) return { error };
      throw error;
    }
  }

  async #verify(verifier: EvidenceVerifier, evidence: DeviceEvidence, envelope: AttestationEnvelope, session: AttestationSession, now: Date): Promise<Claims> {
    const tee = verifier.plugin.teeClass;
    const stored = (await this.#options.material?.forClass(tee)) ?? [];
    const added = (await this.#options.material?.anchorsFor(tee)) ?? [];
    const trustAnchors = added.length === 0 || !isAnchorClass(tee) ? verifier.trustAnchors : [...(verifier.trustAnchors ?? shippedAnchors(tee)), ...added];
    const claims = await verifier.plugin.verify(evidence.evidence, {
      now,
      ...(trustAnchors === undefined ? {} : { trustAnchors }),
      // What the instance posted comes first: plugins take the first document that fits.
      collateral: stored.length === 0 ? evidence.collateral : [...evidence.collateral, ...stored],
      // Some formats compare the binding with their own nonce field; all are checked below.
      ...(CHECKS_OWN_NONCE.has(tee) ? { expectedNonce: expectedReportData(tee, session.nonce, envelope.instanceKey) } : {}),
    });
    checkBinding(claims, session.nonce, envelope.instanceKey);
    return claims;
  }

  #appraise(evidenceDigest: string, claims: Claims, policy: PolicyVersion, releases: ReadonlyMap<string, Release>, now: Date, subject: Subject): Appraisal {
    // The release set's content (statuses included: reasons quote them) and the deadlines passed
    // at `now` are part of the key; a TEE's devices come from the same posted document, so its digest covers them.
    return this.#appraisals.getOrSet(`${evidenceDigest}${subject.key} ${appraisalContextKey(policy, releases, now)}`, () =>
      appraise({ claims, policy, releases, workload: policy.document.workload, now, compiledRules: this.#rules.get(policy), ...('device' in subject ? { device: true } : { devices: subject.devices }) }),
    );
  }

}
