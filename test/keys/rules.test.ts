import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Release } from '../../src/core/model.js';
import { earActivation } from '../../src/keys/activation.js';
import { formatResource, parseResource, parseWritableResource, slotOf } from '../../src/keys/names.js';
import { buildRule, changeRules, compileRules, decideAccess, type AccessRequest, type ReleaseRule } from '../../src/keys/rules.js';
import type { EarClaims } from '../../src/verifier/ear.js';
import { expectRejected } from '../support/errors.js';

const claims = (status = 'affirming', runtimeOpaque = 0): EarClaims =>
  ({
    eat_profile: 'tag:github.com,2023:veraison/ear',
    iat: 1_800_000_000,
    exp: 1_800_000_600,
    eat_nonce: 'bm9uY2Vub25jZQ',
    'ear.verifier-id': { developer: 'covenant', build: 'test' },
    submods: {
      'payments/ingest': {
        'ear.status': status,
        'ear.trustworthiness-vector': { executables: 2, hardware: 0, 'runtime-opaque': runtimeOpaque },
        'ear.appraisal-policy-id': 'policy:default/payments/ingest/abc',
        'covenant.tee': 'sim',
        'covenant.release': { version: '1.0.0', digest: 'd1' },
      },
    },
    cnf: { jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } },
  }) as EarClaims;

const release: Release = {
  document: { tenant: 'default', workload: 'payments/ingest', version: '1.0.0', securityVersion: 3, references: {}, config: { 'root-store': { alg: 'sha256', hex: 'ab'.repeat(32) } } },
  digest: 'd1',
  status: 'accepted',
  createdAt: '2026-01-01T00:00:00.000Z',
};

const request = (overrides: Partial<AccessRequest> = {}): AccessRequest => ({
  workload: 'payments/ingest',
  release: '1.0.0',
  phase: 'stable',
  activation: () => earActivation(claims(), 'payments/ingest', release),
  latestVersion: 3,
  ...overrides,
});

const rule = (overrides: Partial<Parameters<typeof buildRule>[0]> = {}): ReleaseRule => buildRule({ name: 'ingest', workloads: ['payments/ingest'], ...overrides });

describe('resource names', () => {
  it('parse repository/type/tag and keep their case', () => {
    expect(parseResource('default/Key/db-1.pem')).toEqual({ repository: 'default', type: 'Key', tag: 'db-1.pem' });
    expect(formatResource(parseResource('a/b/c'))).toBe('a/b/c');
  });

  it('refuse other shapes, dot segments and the reserved sealing repository', () => {
    for (const bad of ['a/b', 'a/b/c/d', 'a//c', '../b/c', 'a/./c', 'a/b/c ', 'a/b/%2e', '', `a/b/${'x'.repeat(65)}`]) {
      expectRejected(() => parseResource(bad), 'validation-failed');
    }
    expectRejected(() => parseWritableResource('sealing/key/current'), 'validation-failed');
    expect(slotOf(parseResource('sealing/key/legacy'))).toBe('legacy');
    expect(slotOf(parseResource('sealing/key/other'))).toBeUndefined();
    expect(slotOf(parseResource('default/key/current'))).toBeUndefined();
  });

  it('never throw anything but a typed error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (text) => {
        try {
          expect(formatResource(parseResource(text))).toBe(text);
        } catch (error) {
          expect((error as { type?: string }).type).toBe('validation-failed');
        }
      }),
    );
  });
});

describe('release rules', () => {
  it('are normalised when written: sorted, distinct, phases in order, versions defaulting to the latest only', () => {
    expect(buildRule({ name: 'r', workloads: ['b/w', 'a/w', 'b/w'], releases: ['2.0', '1.0'], phases: ['rollout-to', 'stable'] })).toEqual({
      name: 'r',
      workloads: ['a/w', 'b/w'],
      releases: ['1.0', '2.0'],
      phases: ['stable', 'rollout-to'],
      versions: 1,
    });
  });

  it('refuse bad names, empty lists, unknown phases and conditions that do not type-check to bool', () => {
    expectRejected(() => buildRule({ name: '1bad', workloads: ['a/w'] }), 'validation-failed');
    expectRejected(() => buildRule({ name: 'r', workloads: [] }), 'validation-failed');
    expectRejected(() => buildRule({ name: 'r', workloads: ['Upper/Case'] }), 'validation-failed');
    expectRejected(() => buildRule({ name: 'r', workloads: ['a/w'], phases: ['canary'] }), 'validation-failed');
    expectRejected(() => buildRule({ name: 'r', workloads: ['a/w'], versions: 0 }), 'validation-failed');
    expectRejected(() => buildRule({ name: 'r', workloads: ['a/w'], when: 'claims.flag' }), 'invalid-rule');
    expectRejected(() => buildRule({ name: 'r', workloads: ['a/w'], when: 'tee ==' }), 'invalid-rule');
  });

  it('change by name: set replaces, drop removes, a missing rule cannot be dropped', () => {
    const one = changeRules([], { set: rule({ name: 'b' }) });
    const two = changeRules(one, { set: rule({ name: 'a' }) });
    expect(two.map((r) => r.name)).toEqual(['a', 'b']);
    expect(changeRules(two, { set: rule({ name: 'a', versions: 'all' }) }).find((r) => r.name === 'a')?.versions).toBe('all');
    expect(changeRules(two, { drop: 'a' }).map((r) => r.name)).toEqual(['b']);
    expectRejected(() => changeRules(two, { drop: 'zzz' }), 'not-found');
  });

  it('deny by default, and name why when nothing grants', () => {
    expect(decideAccess([], request())).toMatchObject({ granted: false, reason: 'no-rules', rule: null });
    expect(decideAccess(compileRules([rule({ workloads: ['other/w'] })]), request())).toMatchObject({ granted: false, reason: 'workload-not-granted', rule: null });
    expect(decideAccess(compileRules([rule({ releases: ['2.0.0'] })]), request())).toMatchObject({ granted: false, reason: 'release-not-granted', rule: 'ingest' });
    expect(decideAccess(compileRules([rule({ phases: ['rollout-to'] })]), request())).toMatchObject({ granted: false, reason: 'phase-not-granted', rule: 'ingest' });
    expect(decideAccess(compileRules([rule({ when: 'svn >= 4' })]), request())).toMatchObject({ granted: false, reason: 'condition-false', rule: 'ingest' });
    expect(decideAccess(compileRules([rule({ when: 'claims.missing.deeper == 1' })]), request())).toMatchObject({ granted: false, reason: 'condition-error', rule: 'ingest' });
  });

  it('grant on the first matching rule in name order, the latest version by default', () => {
    const rules = compileRules([rule({ name: 'a_phase', phases: ['rollout-to'] }), rule({ name: 'b_any' }), rule({ name: 'c_all', versions: 'all' })]);
    expect(decideAccess(rules, request())).toEqual({ granted: true, rule: 'b_any', version: 3 });
    expect(decideAccess(rules, request({ phase: 'rollout-to' }))).toEqual({ granted: true, rule: 'a_phase', version: 3 });
  });

  it('let an instance read only as many of the newest versions as a matching rule allows', () => {
    const latestOnly = compileRules([rule()]);
    expect(decideAccess(latestOnly, request({ version: 2 }))).toMatchObject({ granted: false, reason: 'version-not-granted', rule: 'ingest' });
    const two = compileRules([rule({ versions: 2 })]);
    expect(decideAccess(two, request({ version: 2 }))).toEqual({ granted: true, rule: 'ingest', version: 2 });
    expect(decideAccess(two, request({ version: 1 }))).toMatchObject({ granted: false, reason: 'version-not-granted' });
    expect(decideAccess(compileRules([rule(), rule({ name: 'older', versions: 'all' })]), request({ version: 1 }))).toEqual({ granted: true, rule: 'older', version: 1 });
  });

  it('evaluate conditions over the token and the release it names', () => {
    const grant = (when: string, activation = earActivation(claims(), 'payments/ingest', release)): boolean =>
      decideAccess(compileRules([rule({ when })]), request({ activation: () => activation })).granted;
    expect(grant('tee == "sim" && release == "1.0.0" && workload == "payments/ingest"')).toBe(true);
    expect(grant('svn == 3 && config["root-store"].startsWith("sha256:abab")')).toBe(true);
    expect(grant('claims["ear.status"] == "affirming" && claims["ear.trustworthiness-vector"].executables == 2')).toBe(true);
    expect(grant('claims.exp - claims.iat <= 600')).toBe(true);
    expect(grant('!debug')).toBe(true);
    expect(grant('!debug', earActivation(claims('affirming', 32), 'payments/ingest', release))).toBe(false);
    expect(grant('tcb_status == ""')).toBe(true);
  });
});
