import type { FastifyInstance } from 'fastify';
import type { PublishedJwks } from '../../verifier/token-keys.js';

/**
 * Keys a relying party needs to check Covenant's attestation result tokens offline:
 * the tenant's token-signing keys as a JWKS (RFC 7517), each with its RFC 7638 kid.
 * A retired key stays listed until every token it signed has expired, then drops out
 * (judged at each request, so no restart is needed for it to go).
 */
export function wellKnownRoutes(app: FastifyInstance, { jwks }: { readonly jwks: () => PublishedJwks }): void {
  app.get('/.well-known/jwks.json', { schema: { tags: ['well-known'], summary: 'Attestation result token verification keys (JWKS)' } }, async (_request, reply) =>
    reply.type('application/jwk-set+json').send(jwks()),
  );
}
