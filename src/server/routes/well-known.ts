import type { FastifyInstance } from 'fastify';

/**
 * Keys a relying party needs to check Covenant's attestation result tokens offline:
 * the tenant's token-signing keys as a JWKS (RFC 7517), each with its RFC 7638 kid.
 */
export function wellKnownRoutes(app: FastifyInstance, { jwks }: { jwks: { keys: readonly object[] } }): void {
  app.get('/.well-known/jwks.json', { schema: { tags: ['well-known'], summary: 'Attestation result token verification keys (JWKS)' } }, async (_request, reply) =>
    reply.type('application/jwk-set+json').send(jwks),
  );
}
