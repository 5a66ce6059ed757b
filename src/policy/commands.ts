import { canonicalJson } from '../core/canonical.js';
import { CovenantError } from '../core/errors.js';
import type { PolicyVersion, Release, Workload } from '../core/model.js';
import { validateWorkloadName } from '../core/names.js';
import { decidePolicyUpdate, releaseStatusChanges, type PolicyUpdate } from '../core/policy.js';
import { buildReleaseDocument, decideReleaseRegistration, type ReleaseArgs } from '../core/release.js';
import { z } from 'zod';
import { defineCommand, governed } from '../ceremony/command.js';
import { parseArgs } from '../ceremony/parse-args.js';
import type { Actor } from '../core/model.js';
import type { Decision, Projector, Unit, UnitContext } from '../ledger/committer.js';
import type { Tx } from '../store/store.js';
import type { NewEntry } from '../ledger/entry.js';
import {
  CHANGE_REFUSED,
  POLICY_VERSION_CREATED,
  type ChangeRefused,
  RELEASE_REGISTERED,
  WORKLOAD_CREATED,
  type PolicyVersionCreated,
  type ReleaseRegistered,
  type WorkloadCreated,
} from './events.js';
import { checkRule } from './cel.js';
import { RegisterRelease, UpdatePolicy, workloadName } from './schemas.js';
import { currentPolicy, findRelease, findWorkload, releasesByVersion, requireWorkload, rolloutLock } from './queries.js';

export const WORKLOAD_CREATE = defineCommand({
  name: 'workload.create',
  action: 'workload',
  parse: (args) => parseArgs(z.strictObject({ name: workloadName }), args),
  target: (args) => `workload/${args.name}`,
  async run(tx, ctx, actor, args): Promise<Decision<Workload>> {
    const valid = validateWorkloadName(args.name);
    if (await findWorkload(tx, ctx.tenant, valid)) throw new CovenantError('conflict', `workload ${valid} already exists`);
    const payload: WorkloadCreated = { name: valid };
    return {
      entries: [{ type: WORKLOAD_CREATED, actor, workload: valid, payload }],
      result: { tenant: ctx.tenant, name: valid, createdAt: ctx.now.toISOString(), createdBy: actor },
    };
  },
});

const RegisterArgs = z.strictObject({ workload: workloadName, release: RegisterRelease });

export const RELEASE_REGISTER = defineCommand({
  name: 'release.register',
  action: 'release',
  parse: (args) => parseArgs(RegisterArgs, args),
  target: (args) => `release/${args.workload}/${args.release.version}`,
  async run(tx, ctx, actor, { workload, release }): Promise<Decision<Release>> {
    await requireWorkload(tx, ctx.tenant, workload);
    const document = buildReleaseDocument(ctx.tenant, workload, release as ReleaseArgs);
    const { digest } = decideReleaseRegistration(await findRelease(tx, ctx.tenant, workload, document.version), document);
    const payload: ReleaseRegistered = { digest, document };
    return {
      entries: [{ type: RELEASE_REGISTERED, actor, workload, payload }],
      result: { document, digest, status: 'registered', createdAt: ctx.now.toISOString() },
    };
  },
});

export const createWorkload = (signer: string, name: string): Unit<Workload> => governed(signer, WORKLOAD_CREATE, { name });
export const registerRelease = (signer: string, workload: string, release: ReleaseArgs): Unit<Release> => governed(signer, RELEASE_REGISTER, { workload, release });

/** The ledger entry of a new policy version, with the release lifecycle changes it makes. */
/**
 * The policy version `update` makes of `current` (the workload's version in force, or
 * none), against the workload's releases as read inside `tx` unless given.
 */
export async function decidePolicy(
  tx: Tx,
  ctx: UnitContext,
  actor: Actor,
  workload: string,
  current: PolicyVersion | null,
  update: PolicyUpdate,
  releases?: ReadonlyMap<string, Release>,
): Promise<PolicyVersion> {
  return decidePolicyUpdate({
    current,
    releases: releases ?? (await releasesByVersion(tx, ctx.tenant, workload)),
    update,
    actor,
    now: ctx.now,
    tenant: ctx.tenant,
    workload,
    checkRule,
  });
}

export function policyVersionEntry(actor: Actor, workload: string, version: PolicyVersion, releaseStatus: PolicyVersionCreated['releaseStatus']): NewEntry<PolicyVersionCreated> {
  return { type: POLICY_VERSION_CREATED, actor, workload, payload: { id: version.id, document: version.document, ...(releaseStatus === undefined ? {} : { releaseStatus }) } };
}

/** Refusals that guard against lowering trust: ledgered, then returned to the caller. */
const SECURITY_REFUSALS: ReadonlySet<string> = new Set(['readmission-refused', 'downgrade-refused', 'floor-decrease']);

/**
 * Runs a decision that may be refused; a security refusal becomes a
 * `policy.change-refused` entry (who tried to lower trust, and how) and the rejection.
 */
export async function ledgeringRefusals<T>(actor: Actor, workload: string, command: string, decide: () => Promise<Decision<T>>): Promise<Decision<T>> {
  try {
    return await decide();
  } catch (error) {
    if (!(error instanceof CovenantError) || !SECURITY_REFUSALS.has(error.type)) throw error;
    const payload: ChangeRefused = { command, type: error.type, reason: error.message };
    return { entries: [{ type: CHANGE_REFUSED, actor, workload, payload }], rejection: error };
  }
}

export const POLICY_UPDATE = defineCommand({
  name: 'policy.update',
  action: 'policy',
  parse: (args) => parseArgs(z.strictObject({ workload: workloadName, update: UpdatePolicy }), args),
  target: (args) => `policy/${args.workload}`,
  run: (tx, ctx, actor, { workload, update }): Promise<Decision<PolicyVersion>> =>
    ledgeringRefusals(actor, workload, 'policy.update', async () => {
      await requireWorkload(tx, ctx.tenant, workload);
      const lock = await rolloutLock(tx, ctx.tenant, workload);
      const touched = [...(update.remove ?? [])];
      const locked = lock === undefined ? undefined : touched.find((version) => lock.versions.includes(version));
      if (lock !== undefined && locked !== undefined) {
        throw new CovenantError('conflict', `release ${locked} is part of rollout #${lock.number}; complete or roll back the rollout instead of changing it by hand`);
      }
      const current = await currentPolicy(tx, ctx.tenant, workload);
      const version = await decidePolicy(tx, ctx, actor, workload, current, update);
      return { entries: [policyVersionEntry(actor, workload, version, releaseStatusChanges(current?.document ?? null, version.document))], result: version };
    }),
});

export const updatePolicy = (signer: string, workload: string, update: PolicyUpdate): Unit<PolicyVersion> => governed(signer, POLICY_UPDATE, { workload, update });

export const policyProjection: Record<string, Projector> = {
  [WORKLOAD_CREATED]: async (tx, entry) => {
    const payload = entry.payload as WorkloadCreated;
    await tx.insertInto('workloads').values({ tenant: entry.tenant, name: payload.name, created_at: entry.time, created_by: entry.actor }).execute();
  },
  [RELEASE_REGISTERED]: async (tx, entry) => {
    const { digest, document } = entry.payload as ReleaseRegistered;
    await tx
      .insertInto('releases')
      .values({
        tenant: entry.tenant,
        workload: document.workload,
        version: document.version,
        digest,
        status: 'registered',
        doc: canonicalJson(document),
        created_at: entry.time,
      })
      .execute();
  },
  [POLICY_VERSION_CREATED]: async (tx, entry) => {
    const { id, document, releaseStatus } = entry.payload as PolicyVersionCreated;
    const previous = releaseStatus === undefined ? await currentPolicy(tx, entry.tenant, document.workload) : null;
    await tx
      .insertInto('policy_versions')
      .values({
        tenant: entry.tenant,
        workload: document.workload,
        id,
        number: document.number,
        predecessor: document.predecessor,
        actor: document.actor,
        reason: document.reason,
        created_at: document.createdAt,
        doc: canonicalJson(document),
      })
      .execute();
    for (const change of releaseStatus ?? releaseStatusChanges(previous?.document ?? null, document)) {
      await tx
        .updateTable('releases')
        .set({ status: change.status })
        .where('tenant', '=', entry.tenant)
        .where('workload', '=', document.workload)
        .where('version', '=', change.version)
        // Revocation is final: leaving a policy never turns it back into "retired".
        .where('status', '!=', 'revoked')
        .execute();
    }
  },
};
