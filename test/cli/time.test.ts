/**
 * The one parser behind every time option of the CLI: `now`, `+2h`, `-2h`/`2h ago`, and
 * ISO-8601 with zone, each option allowing the directions that make sense for it.
 */
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { timeArgument } from '../../src/cli/context.js';
import { parseDateTime, parseTimeExpression, type TimeDirection } from '../../src/core/duration.js';
import { CovenantError } from '../../src/core/errors.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const at = (value: string, direction: TimeDirection): string => parseTimeExpression(value, 'since', NOW, direction).toISOString();
const refusal = (value: string, direction: TimeDirection): string => {
  try {
    parseTimeExpression(value, 'since', NOW, direction);
  } catch (error) {
    expect(error).toBeInstanceOf(CovenantError);
    expect((error as CovenantError).type).toBe('validation-failed');
    return (error as Error).message;
  }
  throw new Error(`${value} was accepted`);
};

describe('parseTimeExpression', () => {
  it('reads now in every direction', () => {
    for (const direction of ['past', 'future', 'any'] as const) expect(at(' NOW ', direction)).toBe(NOW.toISOString());
  });

  it('reads +<duration> as that long from now and -<duration> or <duration> ago as that long before', () => {
    expect(at('+2h', 'future')).toBe('2026-03-01T14:00:00.000Z');
    expect(at('+90s', 'any')).toBe('2026-03-01T12:01:30.000Z');
    expect(at('-1d', 'past')).toBe('2026-02-28T12:00:00.000Z');
    expect(at('30m ago', 'past')).toBe('2026-03-01T11:30:00.000Z');
    expect(at('3D AGO', 'any')).toBe('2026-02-26T12:00:00.000Z');
  });

  it('points a bare duration the one way the option allows, and refuses it where both make sense', () => {
    expect(at('1d', 'past')).toBe('2026-02-28T12:00:00.000Z');
    expect(at('2h', 'future')).toBe('2026-03-01T14:00:00.000Z');
    expect(refusal('2h', 'any')).toMatch(/could be ahead or behind: write \+2h \(from now\) or 2h ago/);
  });

  it('refuses a relative time that points the wrong way for the option', () => {
    expect(refusal('-2h', 'future')).toMatch(/^since: must lie in the future/);
    expect(refusal('2h ago', 'future')).toMatch(/must lie in the future/);
    expect(refusal('+1d', 'past')).toMatch(/must lie in the past/);
  });

  it('refuses a sign together with "ago", a missing unit, and durations beyond the bound', () => {
    expect(refusal('+2h ago', 'any')).toMatch(/has a sign and "ago"/);
    expect(refusal('-2h ago', 'past')).toMatch(/has a sign and "ago"/);
    expect(refusal('+90', 'future')).toMatch(/must be now, \+2h/);
    expect(refusal('400d ago', 'past')).toMatch(/at most 366 days/);
    expect(refusal('yesterday', 'past')).toMatch(/must be now, -2h, 2h ago, 2h \(that long ago\) or an ISO-8601 date-time with zone, got "yesterday"/);
  });

  it('reads ISO-8601 date-times with zone whatever the direction, and refuses local times and impossible dates', () => {
    expect(at('2025-01-01T00:00:00Z', 'future')).toBe('2025-01-01T00:00:00.000Z');
    expect(at('2030-01-01T02:00:00+02:00', 'past')).toBe('2030-01-01T00:00:00.000Z');
    expect(refusal('2025-01-01T00:00:00', 'any')).toMatch(/with zone/);
    expect(refusal('2025-01-01', 'any')).toMatch(/with zone/);
    expect(() => parseDateTime('2022-02-30T00:00:00Z', 'at')).toThrow(/not a calendar date-time/);
  });
});

describe('timeArgument', () => {
  it('reads against the clock when the command line is parsed', () => {
    const before = Date.now();
    const parsed = timeArgument('future')('+1h').getTime();
    expect(parsed).toBeGreaterThanOrEqual(before + 3_600_000);
    expect(parsed).toBeLessThanOrEqual(Date.now() + 3_600_000);
  });

  it('turns a refusal into a usage error without the field prefix', () => {
    expect(() => timeArgument('past')('+1d')).toThrow(InvalidArgumentError);
    expect(() => timeArgument('past')('+1d')).toThrow(/^must lie in the past/);
  });
});
