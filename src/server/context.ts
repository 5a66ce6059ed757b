import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ControlPlane } from '../app/control-plane.js';
import { CovenantError } from '../core/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The member whose signature authenticated this request (mutating routes only). */
    signer?: string;
  }
}

export interface RouteContext {
  readonly cp: ControlPlane;
  readonly tenant: string;
}

export const typed = (app: FastifyInstance) => app.withTypeProvider<ZodTypeProvider>();

/** The authenticated signer; the preValidation hook guarantees one on mutating routes. */
export function signerOf(request: FastifyRequest): string {
  if (request.signer === undefined) throw new CovenantError('unauthenticated', 'request is not signed');
  return request.signer;
}
