import { CovenantError } from './errors.js';

const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };
const DURATION = /^(\d{1,9})([smhd])$/;

/** Longest duration anything in a rollout may name: a year covers any patch deadline. */
export const MAX_DURATION_SECONDS = 366 * 86_400;

/**
 * A duration as people write it in gate files and on the command line — `90s`, `10m`,
 * `2h`, `3d`, or a bare number of seconds — in whole seconds. `field` names it in the
 * refusal.
 */
export function parseDuration(value: unknown, field: string): number {
  let seconds: number | undefined;
  if (typeof value === 'number' && Number.isSafeInteger(value)) seconds = value;
  else if (typeof value === 'string') {
    const match = DURATION.exec(value.trim());
    if (match !== null) seconds = Number(match[1]) * UNIT_SECONDS[match[2]!]!;
    else if (/^\d{1,9}$/.test(value.trim())) seconds = Number(value.trim());
  }
  if (seconds === undefined || seconds < 0 || seconds > MAX_DURATION_SECONDS) {
    const message = `must be a duration like 90s, 10m, 2h or 3d (at most ${MAX_DURATION_SECONDS / 86_400} days), got ${JSON.stringify(value)}`;
    throw new CovenantError('validation-failed', `${field}: ${message}`, { issues: [{ field, message }] });
  }
  return seconds;
}

/** `3h 5m`-style rendering for status lines; negative durations read as "overdue". */
export function formatDuration(seconds: number): string {
  if (seconds < 0) return `${formatDuration(-seconds)} overdue`;
  const parts: string[] = [];
  let left = Math.floor(seconds);
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) {
    if (left >= size) {
      parts.push(`${Math.floor(left / size)}${unit}`);
      left %= size;
    }
  }
  if (left > 0 || parts.length === 0) parts.push(`${left}s`);
  return parts.slice(0, 2).join(' ');
}
