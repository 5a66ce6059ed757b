import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { VerificationMaterial } from '../../app/verification-material.js';
import { importCollateral, MAX_COLLATERAL_BYTES } from '../../collateral/commands.js';
import { listCollateral } from '../../collateral/queries.js';
import { signerOf, typed, type RouteContext } from '../context.js';

// The base64 of the largest item inside a small JSON document.
const IMPORT_BODY_LIMIT = Math.ceil(MAX_COLLATERAL_BYTES / 3) * 4 + 1024;

export function collateralRoutes(app: FastifyInstance, { cp, tenant, cache }: RouteContext & { readonly cache?: VerificationMaterial }): void {
  const api = typed(app);
  const tags = ['collateral'];

  api.get('/v1/collateral', { schema: { tags, summary: 'Imported collateral: what it is, which evidence reads it, when it is valid' } }, async () => {
    const now = cp.clock().toISOString();
    const items = await listCollateral(cp.store.db, tenant);
    return { collateral: items.map((item) => ({ ...item, valid: item.notBefore <= now && now < item.notAfter })) };
  });

  api.post(
    '/v1/collateral',
    {
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        tags,
        summary: 'Import collateral (certificates, CRLs, Intel PCS TCB info and QE identity), recognised by content, for verification to use offline',
        body: z.strictObject({ collateral: z.base64().min(1).max(IMPORT_BODY_LIMIT) }),
      },
    },
    async (request, reply) => {
      const imported = await cp.execute(tenant, importCollateral(signerOf(request), request.body));
      cache?.invalidate();
      return reply.code(201).send(imported);
    },
  );
}
