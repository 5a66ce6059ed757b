import { SHA256_DIGEST, sha256Digest } from '../core/canonical.js';
import { z } from 'zod';
import { defineCommand, governed } from '../ceremony/command.js';
import { parseArgs } from '../ceremony/parse-args.js';
import { CovenantError } from '../core/errors.js';
import type { Decision, Projector, Unit } from '../ledger/committer.js';
import { describeAnchorFile, refuseExpired } from './anchor-file.js';
import { ANCHOR_CLASSES } from './classes.js';
import { TRUST_ANCHOR_ADDED, TRUST_ANCHOR_REMOVED, type TrustAnchorAdded, type TrustAnchorRemoved } from './events.js';
import { findTrustAnchor } from './queries.js';

/** A root or a short chain; vendors' roots are a few KiB. */
const MAX_ANCHOR_BYTES = 64 * 1024;

/** The request bodies, checked at the HTTP edge and again when a proposal executes. */
export const AddAnchor = z.strictObject({ class: z.enum(ANCHOR_CLASSES), certificate: z.base64().min(1).max(Math.ceil(MAX_ANCHOR_BYTES / 3) * 4) });
export const RemoveAnchor = z.strictObject({ class: z.enum(ANCHOR_CLASSES), digest: z.string().regex(SHA256_DIGEST) });
export type AnchorAddArgs = z.infer<typeof AddAnchor>;
export type AnchorRemoveArgs = z.infer<typeof RemoveAnchor>;

/**
 * Trusts the certificates of one file as roots for one evidence class, beside the
 * class's shipped roots (or `serve --anchor` files): a new vendor root, a private PKI.
 * It is the most powerful change of trust there is (a root certifies any evidence), so
 * it is its own class of change; an anchor already expired is refused.
 */
export const ANCHOR_ADD = defineCommand({
  name: 'anchor.add',
  action: 'trust-anchors',
  parse: (args) => parseArgs(AddAnchor, args),
  target: (args) => `anchor/${args.class}/${sha256Digest(Buffer.from(args.certificate, 'base64'))}`,
  async run(tx, ctx, actor, args): Promise<Decision<TrustAnchorAdded>> {
    const bytes = new Uint8Array(Buffer.from(args.certificate, 'base64'));
    const description = describeAnchorFile(bytes);
    refuseExpired(description, ctx.now);
    const digest = sha256Digest(bytes);
    if ((await findTrustAnchor(tx, ctx.tenant, args.class, digest)) !== undefined) throw new CovenantError('conflict', `${digest} is already a ${args.class} trust anchor`);
    const payload: TrustAnchorAdded = {
      tee: args.class,
      digest,
      subject: description.subject,
      notBefore: description.notBefore.toISOString(),
      notAfter: description.notAfter.toISOString(),
      certificate: Buffer.from(bytes).toString('base64'),
    };
    return { entries: [{ type: TRUST_ANCHOR_ADDED, actor, payload }], result: payload };
  },
});

/** Stops trusting an anchor members added; shipped roots and `serve --anchor` files are not theirs to remove. */
export const ANCHOR_REMOVE = defineCommand({
  name: 'anchor.remove',
  action: 'trust-anchors',
  parse: (args) => parseArgs(RemoveAnchor, args),
  target: (args) => `anchor/${args.class}/${args.digest}`,
  async run(tx, ctx, actor, args): Promise<Decision<TrustAnchorRemoved>> {
    if ((await findTrustAnchor(tx, ctx.tenant, args.class, args.digest)) === undefined) throw new CovenantError('not-found', `no ${args.class} trust anchor ${args.digest}`);
    const payload: TrustAnchorRemoved = { tee: args.class, digest: args.digest };
    return { entries: [{ type: TRUST_ANCHOR_REMOVED, actor, payload }], result: payload };
  },
});

export const addTrustAnchor = (signer: string, args: AnchorAddArgs): Unit<TrustAnchorAdded> => governed(signer, ANCHOR_ADD, args);
export const removeTrustAnchor = (signer: string, args: AnchorRemoveArgs): Unit<TrustAnchorRemoved> => governed(signer, ANCHOR_REMOVE, args);

export const trustAnchorProjection: Record<string, Projector> = {
  [TRUST_ANCHOR_ADDED]: async (tx, entry) => {
    const payload = entry.payload as TrustAnchorAdded;
    await tx
      .insertInto('trust_anchors')
      .values({
        tenant: entry.tenant,
        tee: payload.tee,
        digest: payload.digest,
        subject: payload.subject,
        not_before: payload.notBefore,
        not_after: payload.notAfter,
        certificate: payload.certificate,
        added_at: entry.time,
        added_by: entry.actor,
      })
      .execute();
  },
  [TRUST_ANCHOR_REMOVED]: async (tx, entry) => {
    const payload = entry.payload as TrustAnchorRemoved;
    await tx.deleteFrom('trust_anchors').where('tenant', '=', entry.tenant).where('tee', '=', payload.tee).where('digest', '=', payload.digest).execute();
  },
};
