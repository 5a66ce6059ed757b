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

// A zone is required: a time that silently means local time would make the same
// command accept on one machine and refuse on another.
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

function invalidTime(field: string, message: string): CovenantError {
  return new CovenantError('validation-failed', `${field}: ${message}`, { issues: [{ field, message }] });
}

/** An ISO-8601 date-time with zone, e.g. `2025-01-01T00:00:00Z`, that names a real calendar day. */
export function parseDateTime(value: string, field: string): Date {
  const match = DATE_TIME.exec(value);
  const time = match === null ? Number.NaN : Date.parse(value.toUpperCase());
  if (match === null || Number.isNaN(time)) throw invalidTime(field, `must be an ISO-8601 date-time with zone, e.g. 2025-01-01T00:00:00Z, got ${JSON.stringify(value)}`);
  // Date.parse rolls 2022-02-30 over to March; a typo must not become another day.
  const [year, month, day, hour, minute] = match.slice(1, 6).map(Number) as [number, number, number, number, number];
  const second = match[6] === undefined ? 0 : Number(match[6]);
  const calendar = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const sameWallClock =
    calendar.getUTCFullYear() === year &&
    calendar.getUTCMonth() === month - 1 &&
    calendar.getUTCDate() === day &&
    calendar.getUTCHours() === hour &&
    calendar.getUTCMinutes() === minute &&
    calendar.getUTCSeconds() === second;
  if (!sameWallClock) throw invalidTime(field, `${JSON.stringify(value)} is not a calendar date-time`);
  return new Date(time);
}

/** Which way from now a time option may point: a deadline lies ahead, a `--since` behind. */
export type TimeDirection = 'past' | 'future' | 'any';

const RELATIVE = /^([+-])?\s*(\d+[smhd])(\s+ago)?$/i;

/** How each direction writes a relative time, for refusals and --help. */
export const RELATIVE_FORMS: Readonly<Record<TimeDirection, string>> = {
  past: 'now, -2h, 2h ago, 2h (that long ago) or an ISO-8601 date-time with zone',
  future: 'now, +2h, 2h (that long from now) or an ISO-8601 date-time with zone',
  any: 'now, +2h (from now), -2h or 2h ago (before now), or an ISO-8601 date-time with zone',
};

/**
 * A point in time as people write it on the command line: `now`; `+2h` (that long
 * from now); `-2h` or `2h ago` (that long before now); or an ISO-8601 date-time with
 * zone. A bare `2h` points the one way the option allows (a `--since` looks back, a
 * `--deadline` ahead) and is refused where both make sense, rather than guessed. An
 * explicit direction the option does not allow is refused too: a deadline two hours
 * ago is a typo, not a request. Durations are bounded as `parseDuration`'s are.
 */
export function parseTimeExpression(value: string, field: string, now: Date, direction: TimeDirection): Date {
  const text = value.trim();
  if (text.toLowerCase() === 'now') return new Date(now.getTime());
  const relative = RELATIVE.exec(text);
  if (relative === null) {
    if (!DATE_TIME.test(text)) throw invalidTime(field, `must be ${RELATIVE_FORMS[direction]}, got ${JSON.stringify(value)}`);
    return parseDateTime(text, field);
  }
  const [sign, amount, ago] = [relative[1], relative[2]!.toLowerCase(), relative[3]];
  if (sign !== undefined && ago !== undefined) throw invalidTime(field, `${JSON.stringify(value)} has a sign and "ago": write +${amount} or ${amount} ago`);
  const way = sign === '+' ? 'future' : sign === '-' || ago !== undefined ? 'past' : direction;
  if (way === 'any') throw invalidTime(field, `${JSON.stringify(value)} could be ahead or behind: write +${amount} (from now) or ${amount} ago`);
  if (direction !== 'any' && way !== direction) throw invalidTime(field, `must lie in the ${direction}: ${RELATIVE_FORMS[direction]}, got ${JSON.stringify(value)}`);
  const seconds = parseDuration(amount, field);
  return new Date(now.getTime() + (way === 'future' ? 1 : -1) * seconds * 1000);
}
