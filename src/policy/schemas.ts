import { z } from 'zod';
import { TCB_STATUSES, TEE_CLASSES } from '../core/model.js';

/**
 * The arguments of the workload, release and policy commands, as JSON: what the HTTP
 * edge validates a request body against and what a stored proposal is read back with.
 * The decisions themselves check meaning (names, digests, rules); these check shape.
 */
export const workloadName = z.string().min(1).max(128);

export const RegisterRelease = z.strictObject({
  version: z.string().min(1).max(64),
  class: z.enum(TEE_CLASSES),
  measurements: z.array(z.string().max(200)).max(64).optional(),
  signer: z.string().max(256).optional(),
  product: z.string().max(128).optional(),
  minSvn: z.number().int().min(0).max(2 ** 32).optional(),
  securityVersion: z.number().int().min(0).max(2 ** 32).optional(),
  config: z.record(z.string().max(128), z.string().max(200)).optional(),
  sbom: z.string().max(200).optional(),
  provenance: z.string().max(200).optional(),
});

export const UpdatePolicy = z.strictObject({
  accept: z.array(z.string().max(64)).max(256).optional(),
  remove: z.array(z.string().max(64)).max(256).optional(),
  floor: z.number().int().min(0).max(2 ** 32).optional(),
  rules: z.record(z.string().max(64), z.string().max(4096)).optional(),
  dropRules: z.array(z.string().max(64)).max(256).optional(),
  debug: z.enum(['allow', 'forbid']).optional(),
  requiredTcbStatus: z.array(z.enum(TCB_STATUSES)).min(1).max(5).optional(),
  reason: z.string().min(1).max(1024),
});
