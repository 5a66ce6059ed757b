import type { JsonWebKey } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CovenantError } from '../../core/errors.js';
import { verifyEar } from '../../verifier/ear.js';
import { TOKEN_KEY_REFRESH_SECONDS, type PublishedJwks } from '../../verifier/token-keys.js';
import { TokenStandingCheck } from '../../verifier/token-standing.js';
import { VerdictReads } from '../../verifier/verdict-reads.js';
import { newTokenKey, rotateTokenKeyOnline } from '../../app/token-key-rotation.js';
import type { TokenKeyRing } from '../../app/token-key-ring.js';
import { signerOf, typed, type RouteContext } from '../context.js';

/**
 * `POST /v1/tokens/check`: a cheap way for any relying party (the key broker among
 * them) to ask whether a result token still stands — signed by this tenant, not
 * expired, and its claims still passing the policy in force (`TokenStandingCheck`, the
 * key broker's check too). No member signature: the token is what is being asked
 * about, and the answer reveals nothing it does not. Only tokens this tenant signed get
 * past the signature, and their re-appraisal is memoised: an anonymous caller's cost
 * is bounded.
 */
export function tokenRoutes(app: FastifyInstance, { cp, tenant, jwks, ring }: RouteContext & { readonly jwks: () => PublishedJwks; readonly ring?: TokenKeyRing }): void {
  const reads = new VerdictReads();
  const standing = new TokenStandingCheck();
  typed(app).post(
    '/v1/tokens/check',
    {
      config: { unsigned: true },
      schema: { tags: ['tokens'], summary: 'Whether an attestation result token still stands', body: z.strictObject({ token: z.string().min(1).max(16_384) }) },
    },
    async (request) => {
      let claims: Awaited<ReturnType<typeof verifyEar>>;
      try {
        claims = await verifyEar(request.body.token, { keys: jwks().keys.map((key): JsonWebKey => ({ ...key })) }, cp.clock());
      } catch (error) {
        // A token that does not verify is an answer, not a failed request.
        if (error instanceof CovenantError && (error.type === 'bad-request' || error.type === 'unauthenticated')) return { valid: false, reasons: [error.message] };
        throw error;
      }
      const db = cp.store.db;
      const reasons = await standing.reasons(db, tenant, claims, cp.clock(), (workload) => reads.basis(db, tenant, workload));
      return { valid: reasons.length === 0, reasons };
    },
  );
  if (ring !== undefined) tokenKeyRoutes(app, { cp, tenant, ring });
}

/**
 * `POST /v1/token-keys/rotations`: a governed change of class `token-key`. This server
 * makes the new key and seals it under the tenant's KMS before the command runs, so a
 * proposal waiting for approvals holds the sealed key (beside the ledger), never a
 * plaintext one, and executes exactly that key. The next token this replica signs
 * carries the new kid; every other replica's within `TOKEN_KEY_REFRESH_SECONDS`.
 */
function tokenKeyRoutes(app: FastifyInstance, { cp, tenant, ring }: RouteContext & { readonly ring: TokenKeyRing }): void {
  typed(app).post(
    '/v1/token-keys/rotations',
    {
      schema: {
        tags: ['tokens'],
        summary: 'Replace the token-signing key; the old key stays in the JWKS until every token it signed has expired',
        body: z.strictObject({}).optional(),
      },
    },
    async (request, reply) => {
      const args = await newTokenKey(ring.kms, tenant);
      const rotated = await cp.execute(tenant, rotateTokenKeyOnline(signerOf(request), args));
      ring.invalidate();
      const at = new Date(rotated.rotatedAt);
      return reply.code(201).send({
        ...rotated,
        everyReplicaBy: new Date(at.getTime() + TOKEN_KEY_REFRESH_SECONDS * 1000).toISOString(),
        previousPublishedUntil: ring.retiredKeyPublishedUntil(at).toISOString(),
      });
    },
  );
}
