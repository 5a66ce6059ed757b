import { describe, it, expect } from 'vitest';
import { rejection } from '../support/errors.js';
import fc from 'fast-check';
import { CovenantError } from '../../src/core/errors.js';
import {
  MAX_WORKLOAD_NAME_LENGTH,
  validateConfigName,
  validateMemberName,
  validateReleaseVersion,
  validateRoleName,
  validateRuleName,
  validateTenantName,
  validateWorkloadName,
  workloadNameProblem,
  type NameValidator,
} from '../../src/core/names.js';

function expectRejected(validate: NameValidator, value: unknown, field: string, message: RegExp): void {
  const error = rejection(() => validate(value));
  expect(error.type).toBe('validation-failed');
  expect(error.issues).toEqual([{ field, message: expect.stringMatching(message) }]);
  expect(error.message).toContain(`${field}: `);
}

describe('workload names', () => {
  it.each(['payments/ingest', 'a', '0', 'team.a/svc_b/v-2', 'x'.repeat(MAX_WORKLOAD_NAME_LENGTH)])('accepts %s', (name) => {
    expect(validateWorkloadName(name)).toBe(name);
  });

  it.each([
    ['', /must not be empty/],
    ['Payments/ingest', /segment 1 "Payments" must match/],
    ['payments//ingest', /empty segment at position 2/],
    ['/payments', /empty segment at position 1/],
    ['payments/', /empty segment at position 2/],
    ['payments/../etc', /segment 2 "\.\." must match/],
    ['payments/-x', /segment 2 "-x"/],
    ['pay ments', /segment 1 "pay ments"/],
    ['x'.repeat(MAX_WORKLOAD_NAME_LENGTH + 1), /at most 128 characters, got 129/],
  ])('rejects %j', (name, message) => {
    expectRejected(validateWorkloadName, name, 'workload', message);
  });

  it('rejects non-strings and names the given field', () => {
    const error = rejection(() => validateWorkloadName(7, 'target.workload'));
    expect(error.issues[0]).toEqual({ field: 'target.workload', message: 'expected a string, got number' });
  });

  it('accepts exactly slash-joined lowercase segments (property)', () => {
    const segment = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,10}$/);
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 6 }), (segments) => {
        expect(workloadNameProblem(segments.join('/'))).toBeUndefined();
      }),
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (text) => {
        const valid = text.length > 0 && text.split('/').every((s) => /^[a-z0-9][a-z0-9._-]*$/.test(s));
        expect(workloadNameProblem(text) === undefined).toBe(valid);
      }),
    );
  });
});

describe('release versions', () => {
  it.each(['1.2.3', 'v2', '2024.06.01-rc.1+build.7', 'A'.repeat(64)])('accepts %s', (v) => {
    expect(validateReleaseVersion(v)).toBe(v);
  });
  it.each([
    ['', /must not be empty/],
    ['.1', /must match/],
    ['1.0 beta', /must match/],
    ['1/2', /must match/],
    ['A'.repeat(65), /at most 64 characters/],
  ])('rejects %j', (v, message) => {
    expectRejected(validateReleaseVersion, v, 'version', message);
  });
});

describe('other names', () => {
  it.each<[NameValidator, string, string[], string[]]>([
    [validateConfigName, 'config', ['root-store', 'tls.ciphers', 'a_b'], ['Root', '-x', '', 'a b', '__proto__']],
    [validateRuleName, 'rule', ['min_svn', '_x', 'Rule1', 'min-svn'], ['1rule', '-x', 'a.b', 'a:b', '__proto__', '']],
    [validateMemberName, 'member', ['alice', 'alice@example.com', 'ops.bot-1'], ['Alice', '@alice', 'a b', '']],
    [validateRoleName, 'role', ['admin', 'release-manager'], ['Admin', '1role', 'a_b', 'r'.repeat(33)]],
    [validateTenantName, 'tenant', ['default', 'acme-1'], ['Default', 'a.b', '-x', '']],
  ])('%#: %s names', (validate, field, good, bad) => {
    for (const name of good) expect(validate(name)).toBe(name);
    for (const name of bad) {
      const error = rejection(() => validate(name));
      expect(error.type).toBe('validation-failed');
      expect(error.issues[0]?.field).toBe(field);
    }
  });

  it('never throws anything but a CovenantError (property)', () => {
    const validators = [validateWorkloadName, validateReleaseVersion, validateConfigName, validateRuleName, validateMemberName, validateRoleName, validateTenantName];
    fc.assert(
      fc.property(fc.constantFrom(...validators), fc.anything(), (validate, value) => {
        try {
          expect(validate(value)).toBe(value);
        } catch (error) {
          expect(error).toBeInstanceOf(CovenantError);
        }
      }),
    );
  });
});
