import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/core/lru.js';

describe('LruCache', () => {
  it('forgets the least recently used entry beyond its capacity', () => {
    const cache = new LruCache<string, number>(2);
    cache.set('a', 1);
    cache.set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now the most recent
    cache.set('c', 3);
    expect(cache.size).toBe(2);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
    expect(cache.stats).toEqual({ hits: 3, misses: 1 });
    cache.clear();
    expect([cache.size, cache.stats.hits, cache.stats.misses]).toEqual([0, 0, 0]);
  });

  it('replaces a value without growing', () => {
    const cache = new LruCache<string, string>(2);
    cache.set('a', 'one');
    cache.set('a', 'two');
    expect(cache.size).toBe(1);
    expect(cache.get('a')).toBe('two');
  });

  it('computes a missing value once and remembers it', () => {
    const cache = new LruCache<string, object>(4);
    let calls = 0;
    const make = () => ({ n: ++calls });
    const first = cache.getOrSet('k', make);
    expect(cache.getOrSet('k', make)).toBe(first);
    expect(calls).toBe(1);
  });

  it('refuses a capacity that is not a positive integer', () => {
    for (const capacity of [0, -1, 1.5, Number.NaN]) expect(() => new LruCache(capacity)).toThrow(RangeError);
  });
});
