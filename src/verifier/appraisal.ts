import { contentDigest } from '../core/canonical.js';
import { digestEquals, formatDigest } from '../core/digest.js';
import type { AcceptedRelease, Digest, PolicyVersion, ReferenceValues, Release, TeeClass } from '../core/model.js';
import { deadlinePassed } from '../core/policy.js';
import type { Claims } from '../evidence/plugin.js';
import type { DeviceSummary, RuleActivation } from '../policy/cel.js';
import { summariseClaims } from './claims.js';
import { compilePolicyRules, type CompiledPolicyRules } from './rules.js';
import { AR4SI, type TrustVector } from './trust-vector.js';

/**
 * Appraisal: verified claims × the workload's policy version in force → a verdict with
 * every reason. Pure and synchronous (DESIGN.md, "The spine"): the caller loads the
 * policy and releases, supplies `now`, and memoises compiled rules by policy id
 * (`PolicyRuleCache`). It never throws; anything it cannot vouch for is a
 * contraindicated reason, so a caller bug or a corrupted store fails closed.
 *
 * The checks, each one reported independently so that a reason list is complete:
 *
 * 1. `policy-workload-mismatch` — the policy belongs to another workload than the one
 *    the instance attests as.
 * 2. `policy-not-in-force` — the policy was created after `now` (or `now` is invalid).
 * 3. Release matching. Only releases the policy accepts count, and only through their
 *    reference values for the evidence's TEE class: `measurements` match when any
 *    listed digest equals any evidence measurement (same algorithm, same hex);
 *    `signer` matches when signer (hex, case-insensitive), product and
 *    `claims.securityVersion ≥ minSvn` all hold.
 *    - `release-digest-mismatch` — an accepted release would match, but its stored
 *      digest, or the content digest of its document, is not the digest the policy
 *      pins: it was altered after the policy was decided, so it never matches.
 *    - `no-matching-release` — no accepted release matches; the message lists what
 *      was looked for.
 *    - `release-not-accepted` — alongside the above, when the evidence does match
 *      registered releases the policy does not accept (retired, rolled back, not yet
 *      phased in): the most useful hint an operator can get.
 *    Among several matches the choice is deterministic: highest release security
 *    version, then the greatest version string in code-unit order (not semver: the
 *    point is a stable pick, independent of map order or locale).
 * 4. `below-floor` — the matched release's security version, or the evidence's own
 *    security version when it carries one, is below the policy's floor. Policy
 *    updates refuse to accept releases below the floor; this check still runs so an
 *    evidence SVN below the floor, or a hand-made policy, cannot slip through.
 * 5. `config-mismatch` — one reason per configuration digest the matched release names
 *    that the evidence lacks or binds with another value. Extra evidence config is fine.
 * 6. `debug-forbidden` — the TEE runs in debug mode and the policy forbids it.
 * 7. `tcb-status` — the evidence's TCB status is not one the policy requires. Evidence
 *    without a TCB status (sim, tpm) gets no TCB verdict; the trust vector records
 *    `hardware` as not assessed.
 * 8. CEL rules, in name order, with the activation of `src/policy/cel.ts`:
 *    `rule-failed:<name>` when a rule is false, `rule-error:<name>` when it cannot be
 *    evaluated (fail closed). Rules are only evaluated against a matched release:
 *    `release`, `svn` and `config` describe it, and inventing values for them would
 *    turn a no-match into misleading rule verdicts. They are the TEE's rules: a device
 *    attached to it (composite evidence) is appraised without them, and the TEE's rules
 *    see the devices' verdicts in `devices`.
 * 9. `release-deadline` (warning) — the matched release is accepted only until a
 *    deadline (a rollout's mandatory patch date, a revocation's grace period) that lies
 *    ahead; `release-deadline-passed` (contraindicated) once it is reached. Release
 *    lifecycle status itself is not judged: the policy's deadlines say all that matters.
 * 10. Caller warnings are appended as they are.
 *
 * Status: contraindicated if any contraindicated reason, else warning if any warning,
 * else affirming. The trust vector mapping is documented in `trust-vector.ts`.
 */

export type AppraisalStatus = 'affirming' | 'warning' | 'contraindicated';

/** Stable codes of the reasons appraisal itself produces. */
export type AppraisalReasonCode =
  | 'policy-workload-mismatch'
  | 'policy-not-in-force'
  | 'release-digest-mismatch'
  | 'no-matching-release'
  | 'release-not-accepted'
  | 'below-floor'
  | 'config-mismatch'
  | 'debug-forbidden'
  | 'tcb-status'
  | 'release-deadline'
  | 'release-deadline-passed'
  | `rule-failed:${string}`
  | `rule-error:${string}`;

export interface Reason {
  /** Stable slug; tests, metrics and the ledger key on it. */
  readonly code: string;
  readonly message: string;
}

export type Severity = 'warning' | 'contraindicated';

export interface AppraisalReason extends Reason {
  readonly severity: Severity;
}

export interface MatchedRelease {
  readonly version: string;
  /** The release document's content digest, as the policy pins it. */
  readonly digest: string;
}

export interface AppraisalInput {
  readonly claims: Claims;
  /** The workload's policy version in force at `now` (`policyInForceAt`). */
  readonly policy: PolicyVersion;
  /** The workload's releases by version; must include every release the policy accepts. */
  readonly releases: ReadonlyMap<string, Release>;
  /** The workload the instance attests as. */
  readonly workload: string;
  readonly now: Date;
  /**
   * `compilePolicyRules(policy)`, memoised by the caller. When absent, or compiled from
   * another policy version, the rules are compiled here (correct, only slower).
   */
  readonly compiledRules?: CompiledPolicyRules;
  /** Reasons that make the verdict a warning when nothing is contraindicated. */
  readonly warnings?: readonly Reason[];
  /** Appraisals of the devices attached to this TEE (composite evidence), for the rules. */
  readonly devices?: readonly DeviceSummary[];
  /**
   * Appraising a device attached to the TEE: the workload's CEL rules are written for
   * the TEE (and see its devices through `devices`), so they are not applied here.
   */
  readonly device?: boolean;
}

export interface Appraisal {
  readonly status: AppraisalStatus;
  /** Contraindicated reasons in check order, then the caller's warnings. */
  readonly reasons: readonly AppraisalReason[];
  readonly matchedRelease?: MatchedRelease;
  readonly trustVector: TrustVector;
  /** `ear.appraisal-policy-id`: `policy:<tenant>/<workload>/<policy id>`. */
  readonly policyId: string;
}

export function appraisalPolicyId(policy: PolicyVersion): string {
  return `policy:${policy.document.tenant}/${policy.document.workload}/${policy.id}`;
}

// Long digests and lists are shortened in messages: a reason must stay one readable line.
const HEX_SHOWN = 16;
const ITEMS_SHOWN = 8;

function short(digest: Digest): string {
  return digest.hex.length > HEX_SHOWN ? `${digest.alg}:${digest.hex.slice(0, HEX_SHOWN)}…` : formatDigest(digest);
}

function list(items: readonly string[]): string {
  if (items.length <= ITEMS_SHOWN) return items.join(', ');
  return `${items.slice(0, ITEMS_SHOWN).join(', ')} and ${items.length - ITEMS_SHOWN} more`;
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Memory isolation is what `runtime-opaque` claims: a TPM quote proves measured boot
 * only, and a simulated TEE isolates nothing at all.
 */
const NO_MEMORY_ISOLATION: ReadonlySet<TeeClass> = new Set(['tpm', 'sim']);

function referencesMatch(references: ReferenceValues | undefined, claims: Claims): boolean {
  if (references === undefined) return false;
  if (references.kind === 'measurements') {
    return references.measurements.some((reference) => claims.measurements.some((measured) => digestEquals(reference, measured)));
  }
  return (
    claims.signer !== undefined &&
    claims.signer.toLowerCase() === references.signer.toLowerCase() &&
    claims.product === references.product &&
    claims.securityVersion !== undefined &&
    claims.securityVersion >= references.minSvn
  );
}

function describeReferences(references: ReferenceValues | undefined, tee: TeeClass): string {
  if (references === undefined) return `no ${tee} reference values`;
  if (references.kind === 'measurements') return `measurement ${list(references.measurements.map(short))}`;
  return `signer ${references.signer.slice(0, HEX_SHOWN)}${references.signer.length > HEX_SHOWN ? '…' : ''} product ${references.product} svn ≥ ${references.minSvn}`;
}

function describeEvidence(claims: Claims): string {
  const parts = [`${claims.teeClass} evidence`, `measurement ${claims.measurements.length === 0 ? '(none)' : list(claims.measurements.map(short))}`];
  if (claims.signer !== undefined) parts.push(`signer ${claims.signer.slice(0, HEX_SHOWN)}${claims.signer.length > HEX_SHOWN ? '…' : ''}`);
  if (claims.product !== undefined) parts.push(`product ${claims.product}`);
  if (claims.securityVersion !== undefined) parts.push(`svn ${claims.securityVersion}`);
  return parts.join(', ');
}

/** Highest security version first, then the greatest version string. */
function better(a: Release, b: Release): boolean {
  if (a.document.securityVersion !== b.document.securityVersion) return a.document.securityVersion > b.document.securityVersion;
  return byCodeUnits(a.document.version, b.document.version) > 0;
}

/** Claims as JSON-like data for CEL: the summary, plus what only rules look at. */
function claimsForRules(claims: Claims): Record<string, unknown> {
  return {
    ...summariseClaims(claims),
    ...(claims.reportData === undefined ? {} : { reportData: claims.reportData }),
    ...(claims.publicKey === undefined ? {} : { publicKey: claims.publicKey }),
    details: claims.details,
  };
}

interface Matching {
  readonly matched?: Release;
  readonly reasons: readonly Reason[];
}

function matchRelease(claims: Claims, policy: PolicyVersion, releases: ReadonlyMap<string, Release>): Matching {
  const tee = claims.teeClass;
  const reasons: Reason[] = [];
  const lookedFor: string[] = [];
  const missing: string[] = [];
  let best: Release | undefined;
  const acceptedVersions = new Set<string>();

  for (const entry of policy.document.accepted) {
    acceptedVersions.add(entry.version);
    const release = releases.get(entry.version);
    if (release === undefined) {
      missing.push(entry.version);
      continue;
    }
    const references = release.document.references[tee];
    if (!referencesMatch(references, claims)) {
      lookedFor.push(`${entry.version} (${describeReferences(references, tee)})`);
      continue;
    }
    const problem = pinProblem(entry, release);
    if (problem !== undefined) {
      reasons.push({ code: 'release-digest-mismatch', message: problem });
      continue;
    }
    if (best === undefined || better(release, best)) best = release;
  }

  if (best !== undefined) return { matched: best, reasons };

  const accepted = policy.document.accepted.length === 0 ? 'the policy accepts no release' : `accepted: ${list(lookedFor.length === 0 ? ['none comparable'] : lookedFor)}`;
  const notFound = missing.length === 0 ? '' : `; accepted but not in the store: ${list(missing)}`;
  reasons.push({
    code: 'no-matching-release',
    message: `${describeEvidence(claims)} matches no accepted release of ${policy.document.workload} (${accepted}${notFound})`,
  });

  const elsewhere = [...releases.values()]
    .filter((release) => !acceptedVersions.has(release.document.version) && referencesMatch(release.document.references[tee], claims))
    .map((release) => `${release.document.version} (${release.status})`)
    .sort(byCodeUnits);
  if (elsewhere.length > 0) {
    reasons.push({
      code: 'release-not-accepted',
      message: `the evidence matches release ${list(elsewhere)}, which policy version ${policy.document.number} does not accept`,
    });
  }
  return { reasons };
}

function pinProblem(entry: AcceptedRelease, release: Release): string | undefined {
  if (release.digest !== entry.digest) {
    return `release ${entry.version} is stored with digest ${release.digest}, but the policy pins ${entry.digest}`;
  }
  // The stored digest column alone could survive an edit of the document itself.
  const actual = contentDigest(release.document);
  if (actual !== entry.digest) {
    return `release ${entry.version}'s document hashes to ${actual}, but the policy pins ${entry.digest}`;
  }
  return undefined;
}

export function appraise(input: AppraisalInput): Appraisal {
  const { claims, policy, releases, workload, now } = input;
  const doc = policy.document;
  const contra: Reason[] = [];
  let executablesBad = false;
  let configurationBad = false;

  if (doc.workload !== workload) {
    contra.push({ code: 'policy-workload-mismatch', message: `the instance attests as ${workload}, but the policy is ${doc.workload}'s` });
    executablesBad = true;
  }
  const createdAt = Date.parse(doc.createdAt);
  if (Number.isNaN(now.getTime()) || !(createdAt <= now.getTime())) {
    contra.push({
      code: 'policy-not-in-force',
      message: `policy version ${doc.number} was created at ${doc.createdAt}, after the appraisal time ${Number.isNaN(now.getTime()) ? 'Invalid Date' : now.toISOString()}`,
    });
    executablesBad = true;
  }

  const matching = matchRelease(claims, policy, releases);
  contra.push(...matching.reasons);
  const matched = matching.matched;
  if (matched === undefined || matching.reasons.length > 0) executablesBad = true;

  const floor = doc.securityVersionFloor;
  const low: string[] = [];
  if (matched !== undefined && matched.document.securityVersion < floor) {
    low.push(`release ${matched.document.version} has security version ${matched.document.securityVersion}`);
  }
  if (claims.securityVersion !== undefined && claims.securityVersion < floor) {
    low.push(`the evidence reports security version ${claims.securityVersion}`);
  }
  if (low.length > 0) {
    contra.push({ code: 'below-floor', message: `${low.join(' and ')}, below the policy's floor ${floor}` });
    executablesBad = true;
  }

  if (matched !== undefined) {
    for (const [name, expected] of Object.entries(matched.document.config)) {
      const actual = Object.hasOwn(claims.config, name) ? claims.config[name] : undefined;
      if (actual === undefined) {
        contra.push({ code: 'config-mismatch', message: `config ${name}: release ${matched.document.version} requires ${formatDigest(expected)}, the evidence does not bind it` });
        configurationBad = true;
      } else if (!digestEquals(actual, expected)) {
        contra.push({ code: 'config-mismatch', message: `config ${name}: release ${matched.document.version} requires ${formatDigest(expected)}, the evidence binds ${formatDigest(actual)}` });
        configurationBad = true;
      }
    }
  }

  // A deadline on the matched release: a grace period (warning), then refusal.
  const deadlineWarnings: Reason[] = [];
  const pinned = matched === undefined ? undefined : doc.accepted.find((entry) => entry.version === matched.document.version);
  if (pinned?.until !== undefined) {
    if (deadlinePassed(pinned, now)) {
      contra.push({ code: 'release-deadline-passed', message: `release ${pinned.version} was accepted until ${pinned.until} (${pinned.why ?? 'deadline'}); it no longer is` });
      executablesBad = true;
    } else {
      deadlineWarnings.push({ code: 'release-deadline', message: `release ${pinned.version} is accepted only until ${pinned.until}: ${pinned.why ?? 'replace it before then'}` });
    }
  }

  const debugBad = claims.debug && doc.debugForbidden;
  if (debugBad) contra.push({ code: 'debug-forbidden', message: 'the TEE runs in debug mode, which the policy forbids' });

  const tcbBad = claims.tcbStatus !== undefined && !doc.requiredTcbStatus.includes(claims.tcbStatus);
  if (tcbBad) {
    contra.push({ code: 'tcb-status', message: `TCB status ${claims.tcbStatus ?? ''} is not one the policy requires (${doc.requiredTcbStatus.join(', ')})` });
  }

  let rulesEvaluated = 0;
  if (matched !== undefined && input.device !== true) {
    const compiled = input.compiledRules !== undefined && input.compiledRules.policyId === policy.id ? input.compiledRules : compilePolicyRules(policy);
    const config: Record<string, string> = {};
    for (const [name, digest] of Object.entries(matched.document.config)) config[name] = formatDigest(digest);
    const activation: RuleActivation = {
      claims: claimsForRules(claims),
      tee: claims.teeClass,
      release: matched.document.version,
      svn: matched.document.securityVersion,
      debug: claims.debug,
      // The variable is a string; evidence without a TCB status is the empty string, which no status equals.
      tcb_status: claims.tcbStatus ?? '',
      config,
      workload,
      devices: input.devices ?? [],
    };
    for (const rule of compiled.rules) {
      rulesEvaluated += 1;
      let outcome: ReturnType<typeof rule.evaluate>;
      try {
        outcome = rule.evaluate(activation);
      } catch (error) {
        // Evaluators promise not to throw; a caller-supplied one might, and appraisal never does.
        outcome = { ok: false, value: false, reason: error instanceof Error ? error.message : String(error) };
      }
      if (!outcome.ok) {
        contra.push({ code: `rule-error:${rule.name}`, message: `rule ${rule.name} could not be evaluated: ${outcome.reason}` });
        configurationBad = true;
      } else if (!outcome.value) {
        contra.push({ code: `rule-failed:${rule.name}`, message: `rule ${rule.name} is false: ${doc.rules[rule.name] ?? '(rule not in the policy)'}` });
        configurationBad = true;
      }
    }
  }

  const warnings = [...deadlineWarnings, ...(input.warnings ?? [])];
  const reasons: AppraisalReason[] = [
    ...contra.map((reason) => ({ code: reason.code, message: reason.message, severity: 'contraindicated' as const })),
    ...warnings.map((reason) => ({ code: reason.code, message: reason.message, severity: 'warning' as const })),
  ];
  const status: AppraisalStatus = contra.length > 0 ? 'contraindicated' : warnings.length > 0 ? 'warning' : 'affirming';

  const configurationAssessed = matched !== undefined && (Object.keys(matched.document.config).length > 0 || rulesEvaluated > 0);
  const trustVector: TrustVector = {
    'instance-identity': AR4SI.NONE,
    configuration: configurationBad ? AR4SI.CONTRAINDICATED : configurationAssessed ? AR4SI.AFFIRMING : AR4SI.NONE,
    executables: executablesBad ? AR4SI.CONTRAINDICATED : warnings.length > 0 ? AR4SI.WARNING : AR4SI.AFFIRMING,
    'file-system': AR4SI.NONE,
    hardware: claims.tcbStatus === undefined ? AR4SI.NONE : tcbBad ? AR4SI.CONTRAINDICATED : AR4SI.AFFIRMING,
    'runtime-opaque': debugBad
      ? AR4SI.CONTRAINDICATED
      : claims.debug
        ? AR4SI.WARNING
        : NO_MEMORY_ISOLATION.has(claims.teeClass)
          ? AR4SI.NONE
          : AR4SI.AFFIRMING,
    'storage-opaque': AR4SI.NONE,
    'sourced-data': AR4SI.NONE,
  };

  return {
    status,
    reasons,
    ...(matched === undefined ? {} : { matchedRelease: { version: matched.document.version, digest: matched.digest } }),
    trustVector,
    policyId: appraisalPolicyId(policy),
  };
}
