import { describe, expect, it } from 'vitest';
import { Admission, RateLimited } from '../../src/server/admission.js';
import { asyncRejection, rejection } from '../support/errors.js';
import { manualClock } from '../support/control-plane.js';

describe('Admission', () => {
  it('admits a burst, then the rate, and says how long to wait, with jitter of up to 2×', () => {
    const clock = manualClock();
    const draws = [0, 0.999];
    const admission = new Admission({ ratePerSecond: 2, burst: 3, maxInFlight: 1 }, clock, () => draws.shift() ?? 0);
    for (let i = 0; i < 3; i++) admission.admitSession();
    // The next token comes in 0.5 s: rounded up to 1 s, then stretched by 0..1 s.
    expect(rejection(() => admission.admitSession(), RateLimited).retryAfterSeconds).toBe(1);
    expect(rejection(() => admission.admitSession(), RateLimited).retryAfterSeconds).toBe(2);
    clock.advance(500);
    admission.admitSession();
    expect(rejection(() => admission.admitSession(), RateLimited).type).toBe('rate-limited');
    // A quiet spell saves up to the burst, never more.
    clock.advance(60_000);
    for (let i = 0; i < 3; i++) admission.admitSession();
    expect(() => admission.admitSession()).toThrow(RateLimited);
  });

  it('spreads a crowd refused together over the time the rate needs to serve it', () => {
    const clock = manualClock();
    const admission = new Admission({ ratePerSecond: 10, burst: 10, maxInFlight: 1 }, clock, () => 0);
    for (let i = 0; i < 10; i++) admission.admitSession();
    const waits = Array.from({ length: 100 }, () => rejection(() => admission.admitSession(), RateLimited).retryAfterSeconds);
    // The 100th is served only after the 99 ahead of it: ten seconds at ten a second.
    expect(waits.slice(0, 10)).toEqual(Array.from({ length: 10 }, () => 1));
    expect(waits[99]).toBe(10);
    expect(new Set(waits).size).toBe(10);
    // Served at the rate, the backlog drains: a newcomer 10 s later waits a second again.
    clock.advance(10_000);
    for (let i = 0; i < 10; i++) admission.admitSession();
    expect(rejection(() => admission.admitSession(), RateLimited).retryAfterSeconds).toBe(1);
  });

  it('bounds the evidence in flight, and frees the slot whatever the outcome', async () => {
    const admission = new Admission({ ratePerSecond: 1, burst: 1, maxInFlight: 1 }, manualClock(), () => 0);
    let release = (): void => {};
    const running = admission.withinFlight(() => new Promise<string>((resolve) => (release = () => resolve('done'))));
    const refused = await asyncRejection(admission.withinFlight(async () => 'second'), RateLimited);
    expect(refused.retryAfterSeconds).toBe(1);
    release();
    expect(await running).toBe('done');
    await expect(admission.withinFlight(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await admission.withinFlight(async () => 'third')).toBe('third');
  });

  it('refuses limits below 1', () => {
    for (const limits of [{ ratePerSecond: 0, burst: 1, maxInFlight: 1 }, { ratePerSecond: 1, burst: 0.5, maxInFlight: 1 }, { ratePerSecond: 1, burst: 1, maxInFlight: Number.NaN }]) {
      expect(() => new Admission(limits, manualClock())).toThrow(/must be at least 1/);
    }
  });
});
