import { describe, it, expect } from 'vitest';
import { rejection } from '../support/errors.js';
import fc from 'fast-check';
import { CovenantError } from '../../src/core/errors.js';
import { DIGEST_HEX_LENGTH, digestEquals, digestProblem, formatDigest, isDigest, parseDigest } from '../../src/core/digest.js';

const hex = (n: number, c = 'a'): string => c.repeat(n);

describe('parseDigest', () => {
  it.each([
    ['sha256', 64],
    ['sha384', 96],
    ['sha512', 128],
  ] as const)('parses %s with %i hex digits', (alg, length) => {
    expect(parseDigest(`${alg}:${hex(length, '0')}`)).toEqual({ alg, hex: hex(length, '0') });
  });

  it('normalises algorithm and hex to lowercase', () => {
    expect(parseDigest(`SHA256:${'AbCdEf01'.repeat(8)}`)).toEqual({ alg: 'sha256', hex: 'abcdef01'.repeat(8) });
  });

  it('round-trips through formatDigest', () => {
    const text = `sha384:${'0123456789abcdef'.repeat(6)}`;
    expect(formatDigest(parseDigest(text))).toBe(text);
  });

  it.each([
    ['no separator', hex(64), /not of the form "<alg>:<hex>"/],
    ['unknown algorithm', `md5:${hex(32)}`, /unsupported digest algorithm "md5" \(expected sha256, sha384, sha512\)/],
    ['empty algorithm', `:${hex(64)}`, /unsupported digest algorithm ""/],
    ['too short', `sha256:${hex(63)}`, /sha256 digest must have 64 hex digits, got 63/],
    ['too long', `sha512:${hex(130)}`, /sha512 digest must have 128 hex digits, got 130/],
    ['length of another algorithm', `sha384:${hex(64)}`, /sha384 digest must have 96 hex digits, got 64/],
    ['empty hex', 'sha256:', /must have 64 hex digits, got 0/],
    ['non-hex character', `sha256:${hex(10)}g${hex(53)}`, /non-hex character "g" at position 17/],
    ['whitespace', `sha256:${hex(64)}\n`, /non-hex character "\\n" at position 71/],
    ['second colon', `sha256:${hex(32)}:${hex(31)}`, /non-hex character ":"/],
  ])('rejects %s with a precise message', (_label, text, message) => {
    const error = rejection(() => parseDigest(text, 'sbom'));
    expect(error.type).toBe('validation-failed');
    expect(error.message).toMatch(message);
    expect(error.message.startsWith('sbom: ')).toBe(true);
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]?.field).toBe('sbom');
  });

  it('rejects non-strings', () => {
    expect(rejection(() => parseDigest(42)).message).toMatch(/expected a string/);
    expect(rejection(() => parseDigest(null)).message).toMatch(/got null/);
  });

  it('does not echo unbounded input in errors', () => {
    const error = rejection(() => parseDigest('x'.repeat(100_000)));
    expect(error.message.length).toBeLessThan(200);
  });

  it('accepts exactly the well-formed digests (property)', () => {
    const algs = Object.keys(DIGEST_HEX_LENGTH) as (keyof typeof DIGEST_HEX_LENGTH)[];
    fc.assert(
      fc.property(
        fc.constantFrom(...algs),
        fc.integer({ min: -2, max: 2 }),
        fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 128, maxLength: 130 }),
        (alg, offset, pool) => {
          const digits = pool.slice(0, Math.max(0, DIGEST_HEX_LENGTH[alg] + offset));
          const text = `${alg}:${digits}`;
          const valid = digits.length === DIGEST_HEX_LENGTH[alg];
          expect(isDigest(text)).toBe(valid);
          if (valid) {
            const parsed = parseDigest(text);
            expect(parsed.hex).toBe(digits.toLowerCase());
            expect(digestProblem(formatDigest(parsed))).toBeUndefined();
          }
        },
      ),
    );
  });

  it('never throws anything but a CovenantError (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseDigest(text);
        } catch (error) {
          expect(error).toBeInstanceOf(CovenantError);
        }
      }),
    );
  });
});

describe('digestEquals', () => {
  it('compares algorithm and hex, ignoring case', () => {
    const a = parseDigest(`sha256:${hex(64)}`);
    expect(digestEquals(a, { alg: 'sha256', hex: hex(64).toUpperCase() })).toBe(true);
    expect(digestEquals(a, { alg: 'sha256', hex: hex(64, 'b') })).toBe(false);
  });
});
