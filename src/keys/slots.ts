import { createHash, hkdfSync } from 'node:crypto';
import { canonicalJson } from '../core/canonical.js';
import type { Release } from '../core/model.js';
import type { Rollout } from '../core/rollout.js';
import type { Slot } from './names.js';
import type { RefusalCode } from './refusals.js';
import type { Phase } from './rules.js';

/**
 * Sealing-key slots: how an instance gets the key it seals its state with, and — during
 * an upgrade — the key the release before it sealed with, so state migrates from A to B
 * without the broker ever touching it.
 *
 * Every release R of a workload W has one sealing key K(W, R). An instance of R reads:
 *
 * - `current` → K(W, R), its own release's key, whenever its token stands;
 * - `legacy`  → K(W, A), where A is the release the rollout to R replaced — while that
 *   rollout is in progress, and after it completed until the migration window has
 *   passed; then the slot is closed. A rollout from several releases names as A the one
 *   with the highest security version (then the greatest version string), the one the
 *   newest state was sealed under. A rolled-back rollout opens nothing (its target's
 *   tokens no longer stand anyway).
 *
 * So during a rollout an A instance keeps reading `current` = K(W, A), and a B instance
 * reads `legacy` = K(W, A) to unseal what A sealed and `current` = K(W, B) to re-seal.
 *
 * Derivation, deterministic so that restarts and replicas need nothing stored:
 *
 *   okm  = HKDF-SHA-256(IKM  = tenant master secret (keys/<tenant>/sealing.key, 32 bytes),
 *                       salt = "covenant sealing v1",
 *                       info = canonical JSON {"digest", "release", "tenant", "workload"},
 *                       L    = 48)
 *   key  = okm[0..32)            (AES-256)
 *   kid  = base64url(okm[32..48))
 *
 * where `release` and `digest` are the version and content digest of the release the
 * slot resolves to. The slot's name is deliberately not an input: the key A sealed with
 * as its `current` must be the very key B reads as `legacy`. The key id is public (put
 * it beside sealed data to know which key opens it) and reveals nothing about the key.
 */
export const DEFAULT_MIGRATION_WINDOW_SECONDS = 86_400;

const SALT = 'covenant sealing v1';
export const SEALING_KEY_BYTES = 32;
const KID_BYTES = 16;

export interface SlotRelease {
  readonly version: string;
  readonly digest: string;
}

export interface DerivedSlotKey {
  readonly key: Uint8Array;
  readonly kid: string;
}

/**
 * A public id of the tenant master secret, `sealing:` and 16 hex digits of SHA-256 over a
 * label and the secret (like the file KMS's key id): recorded in the ledger so that a
 * replica holding another `sealing.key` refuses to start instead of handing out other keys.
 */
export function sealingMasterId(master: Uint8Array): string {
  return `sealing:${createHash('sha256').update('covenant sealing master id v1\n').update(master).digest('hex').slice(0, 16)}`;
}

export function deriveSlotKey(master: Uint8Array, tenant: string, workload: string, release: SlotRelease): DerivedSlotKey {
  const info = canonicalJson({ digest: release.digest, release: release.version, tenant, workload });
  const okm = new Uint8Array(hkdfSync('sha256', master, SALT, info, SEALING_KEY_BYTES + KID_BYTES));
  return { key: okm.slice(0, SEALING_KEY_BYTES), kid: Buffer.from(okm.subarray(SEALING_KEY_BYTES)).toString('base64url') };
}

/** The phase an instance of `release` is in, for release rules. */
export function phaseOf(active: Rollout | undefined, release: string): Phase {
  if (active === undefined || active.status !== 'active') return 'stable';
  if (active.document.to === release) return 'rollout-to';
  return active.document.from.includes(release) ? 'rollout-from' : 'stable';
}

/** The release a rollout replaced, for the legacy slot. */
export function predecessorOf(rollout: Rollout, releases: ReadonlyMap<string, Release>): Release | undefined {
  const candidates = rollout.document.from.map((version) => releases.get(version)).filter((release): release is Release => release !== undefined);
  candidates.sort((a, b) => b.document.securityVersion - a.document.securityVersion || (a.document.version < b.document.version ? 1 : a.document.version > b.document.version ? -1 : 0));
  return candidates[0];
}

export interface SlotInput {
  readonly slot: Slot;
  /** The release the reading instance matched (its token stands). */
  readonly release: SlotRelease;
  /** The newest rollout whose target is that release, if any. */
  readonly rollout?: Rollout;
  readonly releases: ReadonlyMap<string, Release>;
  readonly windowSeconds: number;
  readonly now: Date;
}

export type SlotDecision =
  | { readonly granted: true; readonly release: SlotRelease; readonly rule: string; readonly closesAt?: string }
  | { readonly granted: false; readonly reason: RefusalCode; readonly rule: string; readonly message: string };

/** Which release's key a slot holds for this instance now; pure. */
export function resolveSlot(input: SlotInput): SlotDecision {
  if (input.slot === 'current') return { granted: true, release: input.release, rule: 'sealing:current' };
  const { rollout } = input;
  if (rollout === undefined || rollout.status === 'rolled-back') {
    return { granted: false, reason: 'no-legacy-slot', rule: 'sealing:legacy', message: `no rollout moved the workload to release ${input.release.version}: there is no legacy sealing key` };
  }
  const predecessor = predecessorOf(rollout, input.releases);
  if (predecessor === undefined) {
    return { granted: false, reason: 'no-legacy-slot', rule: 'sealing:legacy', message: `rollout #${rollout.document.number} replaced no registered release` };
  }
  const release = { version: predecessor.document.version, digest: predecessor.digest };
  if (rollout.status === 'active') return { granted: true, release, rule: 'sealing:legacy' };
  const endedAt = Date.parse(rollout.outcome?.at ?? '');
  const closesAt = new Date(endedAt + input.windowSeconds * 1000);
  if (Number.isNaN(endedAt) || input.now.getTime() >= closesAt.getTime()) {
    return {
      granted: false,
      reason: 'slot-closed',
      rule: 'sealing:legacy',
      message: `the legacy sealing slot (release ${release.version}) closed at ${Number.isNaN(endedAt) ? 'completion' : closesAt.toISOString()}, ${input.windowSeconds} s after rollout #${rollout.document.number} completed`,
    };
  }
  return { granted: true, release, rule: 'sealing:legacy', closesAt: closesAt.toISOString() };
}
