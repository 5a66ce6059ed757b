import { SHA256_DIGEST, sha256Digest } from '../core/canonical.js';
import { z } from 'zod';
import { defineCommand, governed } from '../ceremony/command.js';
import { parseArgs } from '../ceremony/parse-args.js';
import { CovenantError } from '../core/errors.js';
import { describeCollateral, type CollateralDescription } from '../evidence/collateral.js';
import { EvidenceError } from '../evidence/plugin.js';
import type { Attachment, Decision, Projector, Unit } from '../ledger/committer.js';
import type { Tx } from '../store/store.js';
import { COLLATERAL_IMPORTED, type CollateralImported } from './events.js';
import { findCollateral } from './queries.js';

/** Intel's PCS bundles and vendors' CRLs stay well below this. */
export const MAX_COLLATERAL_BYTES = 4 * 1024 * 1024;
export const COLLATERAL_MEDIA_TYPE = 'application/octet-stream';

const ImportArgs = z.union([
  z.strictObject({ collateral: z.base64().max(Math.ceil(MAX_COLLATERAL_BYTES / 3) * 4) }),
  // A proposal's form: the bytes wait beside the ledger, by digest.
  z.strictObject({ collateralDigest: z.string().regex(SHA256_DIGEST) }),
]);
export type CollateralImportArgs = z.infer<typeof ImportArgs>;

function described(body: Uint8Array): CollateralDescription {
  if (body.length === 0) throw new CovenantError('validation-failed', 'collateral: empty', { issues: [{ field: 'collateral', message: 'empty' }] });
  try {
    return describeCollateral(body);
  } catch (error) {
    if (error instanceof EvidenceError) throw new CovenantError('validation-failed', `collateral: ${error.message}`, { issues: [{ field: 'collateral', message: error.message }] });
    throw error;
  }
}

/** Kept exactly as long as it is valid: useless once expired. */
const attachment = (body: Uint8Array, description: CollateralDescription): Attachment => ({
  digest: sha256Digest(body),
  mediaType: COLLATERAL_MEDIA_TYPE,
  body,
  meta: { kind: description.kind },
  expiresAt: description.notAfter,
});

async function bytesOf(tx: Tx, tenant: string, args: CollateralImportArgs): Promise<Uint8Array> {
  if ('collateral' in args) return new Uint8Array(Buffer.from(args.collateral, 'base64'));
  const row = await tx.selectFrom('attachments').select('body').where('tenant', '=', tenant).where('digest', '=', args.collateralDigest).executeTakeFirst();
  if (row === undefined) throw new CovenantError('conflict', `the collateral ${args.collateralDigest} this proposal names is no longer stored (it expired)`);
  return new Uint8Array(row.body);
}

/**
 * Stores collateral for verification to use offline (with each verification's posted
 * collateral). It grants no trust — each plugin checks every signature on it against its
 * own roots — but it decides which TCB levels and revocations verification sees, so it
 * is a governed change of its own class. Collateral already past its validity is refused.
 */
export const COLLATERAL_IMPORT = defineCommand({
  name: 'collateral.import',
  action: 'collateral',
  parse: (args) => parseArgs(ImportArgs, args),
  target: (args) => `collateral/${'collateral' in args ? sha256Digest(Buffer.from(args.collateral, 'base64')) : args.collateralDigest}`,
  // Under a rule of several signatures, the bytes (up to 4 MiB) wait beside the ledger.
  detach: (args) => {
    if (!('collateral' in args)) return { args, attachments: [] };
    const body = new Uint8Array(Buffer.from(args.collateral, 'base64'));
    const item = attachment(body, described(body));
    return { args: { collateralDigest: item.digest }, attachments: [item] };
  },
  async run(tx, ctx, actor, args): Promise<Decision<CollateralImported>> {
    const body = await bytesOf(tx, ctx.tenant, args);
    const description = described(body);
    if (description.notAfter.getTime() <= ctx.now.getTime()) {
      throw new CovenantError('validation-failed', `collateral: ${description.subject} expired at ${description.notAfter.toISOString()}`, { issues: [{ field: 'collateral', message: 'expired' }] });
    }
    const digest = sha256Digest(body);
    if ((await findCollateral(tx, ctx.tenant, digest)) !== undefined) throw new CovenantError('conflict', `collateral ${digest} is already imported`);
    const payload: CollateralImported = {
      digest,
      size: body.length,
      kind: description.kind,
      classes: description.classes,
      subject: description.subject,
      notBefore: description.notBefore.toISOString(),
      notAfter: description.notAfter.toISOString(),
    };
    return { entries: [{ type: COLLATERAL_IMPORTED, actor, payload }], attachments: [attachment(body, description)], result: payload };
  },
});

export const importCollateral = (signer: string, args: CollateralImportArgs): Unit<CollateralImported> => governed(signer, COLLATERAL_IMPORT, args);

export const collateralProjection: Record<string, Projector> = {
  [COLLATERAL_IMPORTED]: async (tx, entry) => {
    const payload = entry.payload as CollateralImported;
    await tx
      .insertInto('collateral')
      .values({
        tenant: entry.tenant,
        digest: payload.digest,
        size: payload.size,
        kind: payload.kind,
        classes: JSON.stringify(payload.classes),
        subject: payload.subject,
        not_before: payload.notBefore,
        not_after: payload.notAfter,
        imported_at: entry.time,
        imported_by: entry.actor,
      })
      .execute();
  },
};
