import type { FastifyInstance } from 'fastify';
import { CovenantError } from '../../core/errors.js';
import type { Metrics } from '../metrics.js';
import type { RouteContext } from '../context.js';

export function healthRoutes(app: FastifyInstance, { cp, tenant, metrics }: RouteContext & { metrics: Metrics }): void {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'Liveness' } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { tags: ['health'], summary: 'Readiness: the store answers and the tenant exists' } }, async () => {
    try {
      await cp.store.ping();
    } catch (error) {
      throw new CovenantError('store-unavailable', 'the store does not answer', { cause: error });
    }
    await cp.requireTenant(tenant);
    return { status: 'ready', store: cp.store.kind };
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
