import type { z } from 'zod';
import { CovenantError } from '../core/errors.js';

/** Reads a command's arguments from JSON, naming every bad field (as the HTTP edge does). */
export function parseArgs<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => ({ field: issue.path.join('.') || 'args', message: issue.message }));
  throw new CovenantError('validation-failed', issues.map((issue) => `${issue.field}: ${issue.message}`).join('; '), { issues });
}
