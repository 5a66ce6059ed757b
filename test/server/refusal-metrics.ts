import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';

/**
 * How many refusals `covenant_refusals_total` counted for `endpoint` and `reason`:
 * refusals of unauthenticated requests are counted there instead of ledgered.
 */
export async function refusalCount(app: FastifyInstance, endpoint: string, reason: string): Promise<number> {
  const res = await app.inject({ method: 'GET', url: '/metrics' });
  expect(res.statusCode).toBe(200);
  const line = res.body.split('\n').find((text) => text.startsWith('covenant_refusals_total{') && text.includes(`endpoint="${endpoint}"`) && text.includes(`reason="${reason}"`));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
}
