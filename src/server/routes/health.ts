import type { FastifyInstance } from 'fastify';
import { CovenantError } from '../../core/errors.js';
import { StoreUnavailable } from '../../store/faults.js';
import type { Metrics } from '../metrics.js';
import type { RouteContext } from '../context.js';

export function healthRoutes(app: FastifyInstance, { cp, tenant, metrics }: RouteContext & { metrics: Metrics }): void {
  app.get('/healthz', { schema: { tags: ['health'], summary: 'Liveness' } }, async () => ({ status: 'ok' }));

  app.get(
    '/readyz',
    { schema: { tags: ['health'], summary: 'Readiness: the store answers, its last write did not fail for lack of storage, and the tenant exists' } },
    async () => {
      try {
        await cp.store.ping();
      } catch (error) {
        if (error instanceof StoreUnavailable) throw error;
        throw new CovenantError('store-unavailable', 'the store does not answer', { cause: error });
      }
      // The store answers, but a full disk (say) only shows itself on writes: stay out of
      // rotation until a write has succeeded again (the background tasks write every minute).
      const fault = cp.store.health.fault();
      // Already logged when it happened.
      if (fault !== undefined) throw new StoreUnavailable(fault.condition, { report: false });
      await cp.requireTenant(tenant);
      return { status: 'ready', store: cp.store.kind };
    },
  );

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
