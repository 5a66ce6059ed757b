import type { FastifyInstance } from 'fastify';
import { AddAnchor, addTrustAnchor, RemoveAnchor, removeTrustAnchor } from '../../anchors/commands.js';
import { listTrustAnchors } from '../../anchors/queries.js';
import type { VerificationMaterial } from '../../app/verification-material.js';
import { signerOf, typed, type RouteContext } from '../context.js';

export function anchorRoutes(app: FastifyInstance, { cp, tenant, cache }: RouteContext & { readonly cache?: VerificationMaterial }): void {
  const api = typed(app);
  const tags = ['trust anchors'];

  api.get('/v1/anchors', { schema: { tags, summary: 'Trust anchors members added, by evidence class, with whether each is valid now' } }, async () => {
    const now = cp.clock().toISOString();
    const anchors = await listTrustAnchors(cp.store.db, tenant);
    return { anchors: anchors.map((anchor) => ({ ...anchor, valid: anchor.notBefore <= now && now < anchor.notAfter })) };
  });

  api.post(
    '/v1/anchors',
    {
      schema: {
        tags,
        summary: "Trust a root (PEM or DER, base64) for one evidence class, beside the class's shipped or configured roots",
        body: AddAnchor,
      },
    },
    async (request, reply) => {
      const added = await cp.execute(tenant, addTrustAnchor(signerOf(request), request.body));
      cache?.invalidate();
      return reply.code(201).send(added);
    },
  );

  api.delete(
    '/v1/anchors/:class/:digest',
    { schema: { tags, summary: 'Stop trusting an anchor members added', params: RemoveAnchor } },
    async (request) => {
      const removed = await cp.execute(tenant, removeTrustAnchor(signerOf(request), request.params));
      cache?.invalidate();
      return removed;
    },
  );
}
