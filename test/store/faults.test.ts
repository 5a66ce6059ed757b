import { describe, expect, it } from 'vitest';
import { FAULT_LOG_WINDOW_MS, StoreHealth, StoreUnavailable } from '../../src/store/faults.js';

function healthAt(start = 0): { health: StoreHealth; advance(ms: number): void } {
  let now = start;
  return { health: new StoreHealth(() => now), advance: (ms) => void (now += ms) };
}

describe('StoreHealth', () => {
  it('reports each condition once per log window, however often it recurs', () => {
    const { health, advance } = healthAt();
    const reported = (condition: 'disk-full' | 'connection-lost') => health.fail(condition, new Error('x')).report;
    expect([reported('disk-full'), reported('disk-full'), reported('connection-lost'), reported('disk-full')]).toEqual([true, false, true, false]);
    advance(FAULT_LOG_WINDOW_MS - 1);
    expect(reported('disk-full')).toBe(false);
    advance(1);
    expect(reported('disk-full')).toBe(true);
  });

  it('answers a 503 with a Retry-After and a detail that names the condition, never the cause', () => {
    const error = new StoreHealth().fail('disk-full', new Error('/srv/covenant/covenant.db: database or disk is full'));
    expect(error).toMatchObject({ type: 'store-unavailable', status: 503, condition: 'disk-full' });
    expect(error.retryAfterSeconds).toBeGreaterThan(0);
    expect(error.message).not.toContain('/srv');
  });

  it('a full disk clears only with a committed write; a lost connection also when the database answers', () => {
    const { health } = healthAt();
    health.fail('disk-full', undefined);
    health.answered();
    expect(health.fault()?.condition).toBe('disk-full');
    health.wrote();
    expect(health.fault()).toBeUndefined();

    health.fail('connection-lost', undefined);
    health.answered();
    expect(health.fault()).toBeUndefined();
  });

  it('a permanent fault (a replaced data directory) stays until restart', () => {
    const { health } = healthAt();
    health.fail('data-dir-replaced', undefined, true);
    health.fail('connection-lost', undefined);
    health.wrote();
    health.answered();
    expect(health.fault()?.condition).toBe('data-dir-replaced');
  });

  it('refuses to let a write transaction commit when a fault was raised while it ran, even a caught one', async () => {
    const health = new StoreHealth();
    await expect(health.within(async () => 'fine')).resolves.toBe('fine');
    await expect(
      health.within(async () => {
        // A unit that caught the fault and carried on.
        health.fail('connection-lost', undefined);
        return 'would commit';
      }),
    ).rejects.toBeInstanceOf(StoreUnavailable);
  });
});
