import { z } from 'zod';
import { DEADLINE_ACTIONS, MAX_WAVES } from '../core/rollout.js';
import { workloadName } from '../policy/schemas.js';

/** The body of `POST …/rollout`: what `rollout start` asks for (decisions check meaning). */
export const StartRollout = z.strictObject({
  to: z.string().min(1).max(64),
  from: z.array(z.string().min(1).max(64)).max(16).optional(),
  waves: z.array(z.number().int().min(1).max(100)).min(1).max(20).optional(),
  // Validated by the rollout's own parser, which names every bad field of a gates file.
  gate: z.record(z.string(), z.unknown()).optional(),
  deadline: z.iso.datetime({ offset: true }).optional(),
  onDeadline: z.enum(DEADLINE_ACTIONS).optional(),
  raiseFloor: z.boolean().optional(),
  reason: z.string().min(1).max(1024),
});

export const StartArgs = StartRollout.extend({ workload: workloadName });
export const EndArgs = z.strictObject({ workload: workloadName, reason: z.string().max(1024) });
/** Completion may be forced past a fleet that has not caught up (the reason says why); a rollback never needs to be. */
export const CompleteArgs = EndArgs.extend({ force: z.boolean().optional() });
export const AdvanceArgs = z.strictObject({ workload: workloadName, expectedWave: z.number().int().min(0).max(MAX_WAVES).optional(), reason: z.string().max(1024).optional(), force: z.boolean().optional() });
