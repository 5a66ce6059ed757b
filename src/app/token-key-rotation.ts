import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { defineCommand, governed } from '../ceremony/command.js';
import { parseArgs } from '../ceremony/parse-args.js';
import { SHA256_DIGEST, sha256Digest } from '../core/canonical.js';
import { CovenantError } from '../core/errors.js';
import type { Attachment, Decision, Unit } from '../ledger/committer.js';
import type { KeyEncryptionService } from '../keys/kms.js';
import { inspectSealed, sealValue, unsealValue, type SealingContext } from '../keys/sealed.js';
import type { Database } from '../store/schema.js';
import type { Tx } from '../store/store.js';
import { signingPublicJwk, thumbprintOf } from '../verifier/token-keys.js';

/**
 * Online rotation of the tenant's token-signing key, a governed change of class
 * `token-key`. The server that takes the request makes the new key and seals its private
 * half under the tenant's KMS (as a secret value is sealed); the ledger entry holds only
 * the public JWK and its kid, the sealed bytes are kept beside the ledger (an attachment
 * by digest) where every replica sharing the store can unseal them. Replicas read these
 * entries (`TokenKeyRing`): the newest one's key signs, and every earlier key stays in
 * the JWKS until the last token it may have signed expired.
 */
export const TOKEN_KEY_ROTATED = 'token-key.rotated';

export interface TokenKeyRotated {
  /** RFC 7638 thumbprint of `jwk`: the `kid` of the tokens it signs. */
  readonly kid: string;
  readonly jwk: { readonly kty: 'EC'; readonly crv: 'P-256'; readonly x: string; readonly y: string };
  /** `sha256:<hex>` of the sealed private key kept beside the ledger. */
  readonly sealed: string;
}

export const SEALED_TOKEN_KEY_MEDIA_TYPE = 'application/vnd.covenant.sealed-token-key+json';

/** Kept while a key may sign or its tokens live: a later rotation does not know when that ends for every replica's lifetime. */
const KEPT_FOREVER = new Date('9999-12-31T23:59:59.999Z');

const B64URL = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
const Jwk = z.strictObject({ kty: z.literal('EC'), crv: z.literal('P-256'), x: B64URL, y: B64URL });
// A sealed P-256 PKCS#8 key is a few hundred bytes; the bound only stops nonsense.
const RotateArgs = z.union([
  z.strictObject({ kid: B64URL, jwk: Jwk, sealed: z.base64().max(4096) }),
  // A proposal's form: the sealed key waits beside the ledger, by digest.
  z.strictObject({ kid: B64URL, jwk: Jwk, sealedDigest: z.string().regex(SHA256_DIGEST) }),
]);
export type TokenKeyRotateArgs = z.infer<typeof RotateArgs>;

export interface TokenKeyRotation {
  readonly kid: string;
  readonly rotatedAt: string;
}

/** Where a token key is sealed: the AAD binds the bytes to the tenant and the kid. */
const sealingContext = (tenant: string, kid: string): SealingContext => ({ tenant, resource: `token-key/${kid}` });

const sealedAttachment = (kid: string, body: Uint8Array): Attachment => ({
  digest: sha256Digest(body),
  mediaType: SEALED_TOKEN_KEY_MEDIA_TYPE,
  body,
  meta: { kid },
  expiresAt: KEPT_FOREVER,
});

/** A fresh ES256 key, sealed under the tenant's KMS: the arguments of a rotation. Only the server makes them. */
export async function newTokenKey(kms: KeyEncryptionService, tenant: string): Promise<TokenKeyRotateArgs> {
  const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const jwk = signingPublicJwk(key);
  const kid = await thumbprintOf(jwk);
  const der = key.export({ type: 'pkcs8', format: 'der' });
  try {
    const sealed = await sealValue(kms, sealingContext(tenant, kid), der);
    return { kid, jwk, sealed: Buffer.from(sealed.body).toString('base64') };
  } finally {
    der.fill(0);
  }
}

function detachSealed(args: TokenKeyRotateArgs): { args: TokenKeyRotateArgs; attachments: Attachment[] } {
  if (!('sealed' in args)) return { args, attachments: [] };
  const attachment = sealedAttachment(args.kid, new Uint8Array(Buffer.from(args.sealed, 'base64')));
  return { args: { kid: args.kid, jwk: args.jwk, sealedDigest: attachment.digest }, attachments: [attachment] };
}

type Db = Kysely<Database> | Tx;

async function attachmentBody(db: Db, tenant: string, digest: string): Promise<Uint8Array | undefined> {
  const row = await db.selectFrom('attachments').select('body').where('tenant', '=', tenant).where('digest', '=', digest).executeTakeFirst();
  return row === undefined ? undefined : new Uint8Array(row.body);
}

export const TOKEN_KEY_ROTATE = defineCommand({
  name: 'token-key.rotate',
  action: 'token-key',
  parse: (args) => parseArgs(RotateArgs, args),
  target: () => 'token-key',
  detach: detachSealed,
  async run(tx, ctx, actor, args): Promise<Decision<TokenKeyRotation>> {
    if ((await thumbprintOf(args.jwk)) !== args.kid) throw new CovenantError('validation-failed', 'kid: is not the thumbprint of jwk', { issues: [{ field: 'kid', message: 'is not the thumbprint of jwk' }] });
    if ((await tokenKeyRotations(tx, ctx.tenant)).some((rotation) => rotation.kid === args.kid)) throw new CovenantError('conflict', `token key ${args.kid} was already rotated in`);
    const body = 'sealed' in args ? new Uint8Array(Buffer.from(args.sealed, 'base64')) : await attachmentBody(tx, ctx.tenant, args.sealedDigest);
    if (body === undefined) throw new CovenantError('conflict', `the sealed token key ${'sealedDigest' in args ? args.sealedDigest : ''} this proposal names is no longer stored`);
    const { digest } = inspectSealed(body);
    const payload: TokenKeyRotated = { kid: args.kid, jwk: args.jwk, sealed: digest };
    return { entries: [{ type: TOKEN_KEY_ROTATED, actor, payload }], attachments: [sealedAttachment(args.kid, body)], result: { kid: args.kid, rotatedAt: ctx.now.toISOString() } };
  },
});

export const rotateTokenKeyOnline = (signer: string, args: TokenKeyRotateArgs): Unit<TokenKeyRotation> => governed(signer, TOKEN_KEY_ROTATE, args);

/** A rotation as the ledger records it, with the time it took effect. */
export interface RecordedRotation extends TokenKeyRotated {
  readonly at: Date;
}

/** Every rotation of the tenant's token key, oldest first (few: one per rotation, read through the type index). */
export async function tokenKeyRotations(db: Db, tenant: string): Promise<RecordedRotation[]> {
  const rows = await db.selectFrom('ledger_entries').select(['time', 'body']).where('tenant', '=', tenant).where('type', '=', TOKEN_KEY_ROTATED).orderBy('seq').execute();
  return rows.map((row) => {
    const { payload } = JSON.parse(Buffer.from(row.body).toString('utf8')) as { payload: TokenKeyRotated };
    return { kid: payload.kid, jwk: payload.jwk, sealed: payload.sealed, at: new Date(row.time) };
  });
}

/**
 * The private key a rotation made current, unsealed; refused (`internal`) if the sealed
 * bytes are gone, altered, or hold another key than the one the ledger names.
 */
export async function unsealTokenKey(db: Db, kms: KeyEncryptionService, tenant: string, rotation: TokenKeyRotated): Promise<KeyObject> {
  const body = await attachmentBody(db, tenant, rotation.sealed);
  if (body === undefined) throw new CovenantError('internal', `the sealed token key ${rotation.kid} (${rotation.sealed}) is not stored`);
  const der = await unsealValue(kms, sealingContext(tenant, rotation.kid), body);
  try {
    const key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' });
    if ((await thumbprintOf(signingPublicJwk(key))) !== rotation.kid) throw new CovenantError('internal', `the sealed token key ${rotation.sealed} is not key ${rotation.kid}`);
    return key;
  } finally {
    der.fill(0);
  }
}
