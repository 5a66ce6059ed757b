import { z } from 'zod';
import { defineCommand, governed } from '../ceremony/command.js';
import { parseArgs } from '../ceremony/parse-args.js';
import { parseDuration } from '../core/duration.js';
import { CovenantError } from '../core/errors.js';
import type { PolicyVersion } from '../core/model.js';
import type { Decision, Unit } from '../ledger/committer.js';
import { decidePolicy, policyVersionEntry } from './commands.js';
import { BREAK_GLASS_OPENED, BREAK_GLASS_RATIFIED, type BreakGlassOpened, type BreakGlassRatified } from './events.js';
import { currentPolicy, releasesByVersion, requireWorkload } from './queries.js';
import { workloadName } from './schemas.js';

/**
 * Break-glass: in an emergency, a smaller quorum (the `break-glass` class's rule) may
 * accept releases the policy does not — including those otherwise gone for good, retired
 * by a completed rollout or revoked — for a time box (default 1 h). It is the only way
 * back for such a release; one already accepted (other than under an open break-glass,
 * whose box it renews) is refused.
 * The time box is a deadline on the accepted release, so instances on it attest
 * `warning` meanwhile and the rollout driver drops it when the box closes, unless the
 * normal quorum for policy changes ratifies it (`policy.ratify-break-glass`); a revoked
 * release cannot be ratified, since revocation is final. Every
 * break-glass is its own ledger entry, flagged in audit reports.
 */
export const DEFAULT_BREAK_GLASS_SECONDS = 3600;
const MAX_BREAK_GLASS_SECONDS = 7 * 86_400;
const MARK = 'break-glass: ';

const versions = z.array(z.string().min(1).max(64)).min(1).max(16);

export const BREAK_GLASS = defineCommand({
  name: 'policy.break-glass',
  action: 'break-glass',
  parse: (raw) => parseArgs(z.strictObject({ workload: workloadName, accept: versions, reason: z.string().min(1).max(1024), duration: z.union([z.string().max(16), z.number().int()]).optional() }), raw),
  target: (args) => `policy/${args.workload}`,
  async run(tx, ctx, actor, { workload, accept, reason, duration }): Promise<Decision<PolicyVersion>> {
    await requireWorkload(tx, ctx.tenant, workload);
    const seconds = duration === undefined ? DEFAULT_BREAK_GLASS_SECONDS : parseDuration(duration, 'duration');
    if (seconds < 60 || seconds > MAX_BREAK_GLASS_SECONDS) {
      throw new CovenantError('validation-failed', `duration: a break-glass lasts from a minute to ${MAX_BREAK_GLASS_SECONDS / 86_400} days`, { issues: [{ field: 'duration', message: 'out of range' }] });
    }
    const until = new Date(ctx.now.getTime() + seconds * 1000).toISOString();
    const why = `${MARK}${reason.trim()}`;
    const current = await currentPolicy(tx, ctx.tenant, workload);
    // Time-boxing a release the policy accepts for good would let the smaller quorum remove it when the box closes.
    const settled = (current?.document.accepted ?? []).find((entry) => accept.includes(entry.version) && entry.why?.startsWith(MARK) !== true);
    if (settled !== undefined) {
      throw new CovenantError('conflict', `release ${settled.version} is already accepted${settled.until === undefined ? '' : ` (until ${settled.until})`}: break-glass only admits a release the policy does not`);
    }
    const version = await decidePolicy(tx, ctx, actor, workload, current, {
      accept,
      deadlines: accept.map((v) => ({ version: v, until, why })),
      readmit: true,
      reason: `break-glass until ${until}: ${reason.trim()}`,
    });
    const opened: BreakGlassOpened = { versions: [...accept].sort(), until, reason: reason.trim(), policy: version.id };
    return { entries: [{ type: BREAK_GLASS_OPENED, actor, workload, payload: opened }, policyVersionEntry(actor, workload, version, [])], result: version };
  },
});

export const RATIFY_BREAK_GLASS = defineCommand({
  name: 'policy.ratify-break-glass',
  action: 'policy',
  parse: (raw) => parseArgs(z.strictObject({ workload: workloadName, versions, reason: z.string().min(1).max(1024) }), raw),
  target: (args) => `policy/${args.workload}`,
  async run(tx, ctx, actor, { workload, versions: chosen, reason }): Promise<Decision<PolicyVersion>> {
    await requireWorkload(tx, ctx.tenant, workload);
    const current = await currentPolicy(tx, ctx.tenant, workload);
    const open = new Set((current?.document.accepted ?? []).filter((entry) => entry.why?.startsWith(MARK) === true && entry.until !== undefined && Date.parse(entry.until) > ctx.now.getTime()).map((e) => e.version));
    const missing = chosen.find((v) => !open.has(v));
    if (missing !== undefined) throw new CovenantError('invalid-policy', `release ${missing} is not accepted under an open break-glass: nothing to ratify`);
    // Revocation is final (the projection never lifts it): the emergency may use a revoked
    // release for its time box, but keeping it takes a fixed release.
    const releases = await releasesByVersion(tx, ctx.tenant, workload);
    const revoked = chosen.find((v) => releases.get(v)?.status === 'revoked');
    if (revoked !== undefined) {
      throw new CovenantError('invalid-policy', `release ${revoked} is revoked, and revocation is final: its break-glass lasts only its time box; register and roll out a fixed release`);
    }
    const version = await decidePolicy(tx, ctx, actor, workload, current, { clearDeadlines: chosen, reason: `break-glass ratified for ${chosen.join(', ')}: ${reason.trim()}` }, releases);
    const ratified: BreakGlassRatified = { versions: [...chosen].sort(), reason: reason.trim(), policy: version.id };
    return {
      entries: [{ type: BREAK_GLASS_RATIFIED, actor, workload, payload: ratified }, policyVersionEntry(actor, workload, version, chosen.map((v) => ({ version: v, status: 'accepted' as const })))],
      result: version,
    };
  },
});

export const breakGlass = (signer: string, workload: string, args: { accept: readonly string[]; reason: string; duration?: string | number }): Unit<PolicyVersion> =>
  governed(signer, BREAK_GLASS, { workload, ...args });
export const ratifyBreakGlass = (signer: string, workload: string, args: { versions: readonly string[]; reason: string }): Unit<PolicyVersion> =>
  governed(signer, RATIFY_BREAK_GLASS, { workload, ...args });
