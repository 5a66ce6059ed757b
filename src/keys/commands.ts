import { z } from 'zod';
import { canonicalJson, SHA256_DIGEST, sha256Digest } from '../core/canonical.js';
import { parseDuration } from '../core/duration.js';
import { CovenantError } from '../core/errors.js';
import { validateWorkloadName } from '../core/names.js';
import type { Actor } from '../core/model.js';
import { defineCommand, governed } from '../ceremony/command.js';
import { parseArgs } from '../ceremony/parse-args.js';
import type { Attachment, Decision, Projector, Unit, UnitContext } from '../ledger/committer.js';
import type { Tx } from '../store/store.js';
import { requireWorkload } from '../policy/queries.js';
import {
  SEALING_WINDOW_SET,
  SECRET_RULES_SET,
  SECRET_WRITTEN,
  type SealingWindowSet,
  type SecretRulesSet,
  type SecretWritten,
} from './events.js';
import { formatResource, parseWritableResource } from './names.js';
import { findSecret, requireSecret, sealedBody } from './queries.js';
import { buildRule, changeRules, PHASES } from './rules.js';
import { inspectSealed, MAX_SECRET_BYTES, SEALED_MEDIA_TYPE } from './sealed.js';

/**
 * The members' side of the key broker, as commands through the spine (and the
 * constitution: `secret-write` for values, `secret-rules` for who may read them and the
 * migration window). A value arrives already sealed under the tenant's KMS by the HTTP
 * edge, so neither a command's arguments, nor a proposal waiting for approvals, nor any
 * ledger entry ever holds a plaintext value.
 */

/** Sealed values outlive any retention: the attachment pruner only drops what has expired. */
const KEPT_FOREVER = new Date('9999-12-31T23:59:59.999Z');

// The sealed document of the largest value (its ciphertext in base64 inside JSON, with
// the wrapped key), in base64 again, with room to spare.
const MAX_SEALED_BASE64 = Math.ceil((MAX_SECRET_BYTES * 1.4 + 1024) / 3) * 4;

const Resource = z.string().max(200);
const WriteArgs = z.union([
  z.strictObject({ resource: Resource, sealed: z.base64().max(MAX_SEALED_BASE64) }),
  // A proposal's form: the sealed value waits beside the ledger, by digest.
  z.strictObject({ resource: Resource, sealedDigest: z.string().regex(SHA256_DIGEST) }),
]);
export type SecretWriteArgs = z.infer<typeof WriteArgs>;

export interface SecretWriteResult {
  readonly resource: string;
  readonly version: number;
  readonly digest: string;
  readonly size: number;
  readonly kek: string;
  readonly createdAt: string;
}

function sealedAttachment(resource: string, body: Uint8Array): Attachment {
  return { digest: sha256Digest(body), mediaType: SEALED_MEDIA_TYPE, body, meta: { resource }, expiresAt: KEPT_FOREVER };
}

/** A proposal keeps the sealed value beside the ledger and records only its digest. */
function detachSealed(args: SecretWriteArgs): { args: SecretWriteArgs; attachments: Attachment[] } {
  if (!('sealed' in args)) return { args, attachments: [] };
  const body = new Uint8Array(Buffer.from(args.sealed, 'base64'));
  inspectSealed(body);
  const attachment = sealedAttachment(args.resource, body);
  return { args: { resource: args.resource, sealedDigest: attachment.digest }, attachments: [attachment] };
}

async function sealedBytes(tx: Tx, tenant: string, args: SecretWriteArgs): Promise<Uint8Array> {
  if ('sealed' in args) return new Uint8Array(Buffer.from(args.sealed, 'base64'));
  const body = await sealedBody(tx, tenant, args.sealedDigest);
  if (body === undefined) throw new CovenantError('conflict', `the sealed value ${args.sealedDigest} this proposal names is no longer stored`);
  return body;
}

/** Version `version` of `resource`: its ledger entry and its sealed bytes beside the ledger. */
async function written(tx: Tx, ctx: UnitContext, actor: Actor, resource: string, version: number, args: SecretWriteArgs): Promise<Decision<SecretWriteResult>> {
  const body = await sealedBytes(tx, ctx.tenant, args);
  const { digest, kek, size } = inspectSealed(body);
  const payload: SecretWritten = { resource, version, digest, size, kek };
  return { entries: [{ type: SECRET_WRITTEN, actor, payload }], attachments: [sealedAttachment(resource, body)], result: { ...payload, createdAt: ctx.now.toISOString() } };
}

export const SECRET_PUT = defineCommand({
  name: 'secret.put',
  action: 'secret-write',
  parse: (args) => parseArgs(WriteArgs, args),
  target: (args) => `secret/${args.resource}`,
  detach: detachSealed,
  async run(tx, ctx, actor, args): Promise<Decision<SecretWriteResult>> {
    const resource = formatResource(parseWritableResource(args.resource));
    if ((await findSecret(tx, ctx.tenant, resource)) !== undefined) {
      throw new CovenantError('conflict', `secret ${resource} already exists: \`covenant secret rotate\` adds a version`);
    }
    return written(tx, ctx, actor, resource, 1, args);
  },
});

export const SECRET_ROTATE = defineCommand({
  name: 'secret.rotate',
  action: 'secret-write',
  parse: (args) => parseArgs(WriteArgs, args),
  target: (args) => `secret/${args.resource}`,
  detach: detachSealed,
  async run(tx, ctx, actor, args): Promise<Decision<SecretWriteResult>> {
    const resource = formatResource(parseWritableResource(args.resource));
    const secret = await requireSecret(tx, ctx.tenant, resource);
    return written(tx, ctx, actor, resource, secret.latestVersion + 1, args);
  },
});

const RuleBody = z.strictObject({
  name: z.string().max(64),
  workloads: z.array(z.string().max(128)).max(64),
  releases: z.array(z.string().max(64)).max(64).optional(),
  phases: z.array(z.enum(PHASES)).max(3).optional(),
  when: z.string().max(8192).optional(),
  versions: z.union([z.int().min(1).max(1_000_000), z.literal('all')]).optional(),
});

const RulesArgs = z
  .strictObject({ resource: z.string().max(200), set: RuleBody.optional(), drop: z.string().max(64).optional() })
  .refine((args) => (args.set === undefined) !== (args.drop === undefined), { message: 'give either set or drop', path: ['set'] });
export type SecretRulesArgs = z.infer<typeof RulesArgs>;

export const SECRET_RULES = defineCommand({
  name: 'secret.rules',
  action: 'secret-rules',
  parse: (args) => parseArgs(RulesArgs, args),
  target: (args) => `secret/${args.resource}/rules`,
  async run(tx, ctx, actor, args): Promise<Decision<SecretRulesSet>> {
    const resource = formatResource(parseWritableResource(args.resource));
    const secret = await requireSecret(tx, ctx.tenant, resource);
    const rules = changeRules(secret.rules, args.set !== undefined ? { set: buildRule(args.set) } : { drop: args.drop! });
    if (canonicalJson(rules) === canonicalJson(secret.rules)) throw new CovenantError('bad-request', `the rules of ${resource} already say that`);
    const payload: SecretRulesSet = { resource, revision: secret.rulesRevision + 1, rules };
    return { entries: [{ type: SECRET_RULES_SET, actor, payload }], result: payload };
  },
});

const WindowArgs = z.strictObject({ workload: z.string().max(128), migrationWindow: z.union([z.string().max(16), z.int()]) });
export type SealingWindowArgs = z.infer<typeof WindowArgs>;

export const SEALING_WINDOW = defineCommand({
  name: 'sealing.window',
  action: 'secret-rules',
  parse: (args) => parseArgs(WindowArgs, args),
  target: (args) => `sealing/${args.workload}`,
  async run(tx, ctx, actor, args): Promise<Decision<SealingWindowSet>> {
    const workload = validateWorkloadName(args.workload);
    await requireWorkload(tx, ctx.tenant, workload);
    const payload: SealingWindowSet = { workload, seconds: parseDuration(args.migrationWindow, 'migrationWindow') };
    return { entries: [{ type: SEALING_WINDOW_SET, actor, workload, payload }], result: payload };
  },
});

export const putSecret = (signer: string, args: SecretWriteArgs): Unit<SecretWriteResult> => governed(signer, SECRET_PUT, args);
export const rotateSecret = (signer: string, args: SecretWriteArgs): Unit<SecretWriteResult> => governed(signer, SECRET_ROTATE, args);
export const changeSecretRules = (signer: string, args: SecretRulesArgs): Unit<SecretRulesSet> => governed(signer, SECRET_RULES, args);
export const setMigrationWindow = (signer: string, args: SealingWindowArgs): Unit<SealingWindowSet> => governed(signer, SEALING_WINDOW, args);

/** The broker's state tables, projected from its entries (releases and refusals change no state). */
export const keyBrokerProjection: Record<string, Projector> = {
  [SECRET_WRITTEN]: async (tx, entry) => {
    const payload = entry.payload as SecretWritten;
    if (payload.version === 1) {
      await tx
        .insertInto('secrets')
        .values({ tenant: entry.tenant, resource: payload.resource, latest_version: 1, rules: '[]', rules_revision: 0, created_at: entry.time, created_by: entry.actor, updated_at: entry.time })
        .execute();
    } else {
      await tx.updateTable('secrets').set({ latest_version: payload.version, updated_at: entry.time }).where('tenant', '=', entry.tenant).where('resource', '=', payload.resource).execute();
    }
    await tx
      .insertInto('secret_versions')
      .values({ tenant: entry.tenant, resource: payload.resource, version: payload.version, digest: payload.digest, size: payload.size, kek: payload.kek, created_at: entry.time, created_by: entry.actor })
      .execute();
  },
  [SECRET_RULES_SET]: async (tx, entry) => {
    const payload = entry.payload as SecretRulesSet;
    await tx
      .updateTable('secrets')
      .set({ rules: canonicalJson(payload.rules), rules_revision: payload.revision, updated_at: entry.time })
      .where('tenant', '=', entry.tenant)
      .where('resource', '=', payload.resource)
      .execute();
  },
  [SEALING_WINDOW_SET]: async (tx, entry) => {
    const payload = entry.payload as SealingWindowSet;
    const row = { seconds: payload.seconds, set_at: entry.time, set_by: entry.actor };
    await tx
      .insertInto('sealing_windows')
      .values({ tenant: entry.tenant, workload: payload.workload, ...row })
      .onConflict((oc) => oc.columns(['tenant', 'workload']).doUpdateSet(row))
      .execute();
  },
};
