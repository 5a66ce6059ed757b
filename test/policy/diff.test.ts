import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import type { PolicyDocument, TcbStatus } from '../../src/core/model.js';
import { diffPolicies, formatPolicyDiff } from '../../src/policy/diff.js';

const d = (c: string): string => c.repeat(64);

const base: PolicyDocument = {
  tenant: 'default',
  workload: 'payments/ingest',
  number: 1,
  predecessor: null,
  actor: 'member:alice',
  reason: 'first',
  createdAt: '2025-03-01T12:00:00.000Z',
  accepted: [
    { version: '1.0.0', digest: d('a') },
    { version: '1.1.0', digest: d('b') },
  ],
  securityVersionFloor: 1,
  requiredTcbStatus: ['UpToDate'],
  debugForbidden: true,
  rules: { min_svn: 'svn >= 1', tee: 'tee == "tdx"' },
};

describe('diffPolicies', () => {
  it('reports no trust change between versions that differ only in metadata', () => {
    const next = { ...base, number: 2, predecessor: 'x', actor: 'member:bob', reason: 'again', createdAt: '2025-03-02T00:00:00.000Z' };
    const diff = diffPolicies(base, next);
    expect(diff).toEqual({
      identical: true,
      accepted: { added: [], removed: [] },
      securityVersionFloor: null,
      debugForbidden: null,
      requiredTcbStatus: null,
      rules: { added: [], removed: [], changed: [] },
    });
    expect(formatPolicyDiff(diff)).toBe('no changes');
  });

  it('reports every kind of change', () => {
    const next: PolicyDocument = {
      ...base,
      number: 2,
      accepted: [
        { version: '1.1.0', digest: d('b') },
        { version: '2.0.0', digest: d('c') },
      ],
      securityVersionFloor: 2,
      requiredTcbStatus: ['UpToDate', 'SWHardeningNeeded'],
      debugForbidden: false,
      rules: { min_svn: 'svn >= 2', no_debug: '!debug' },
    };
    const diff = diffPolicies(base, next);
    expect(diff).toEqual({
      identical: false,
      accepted: { added: [{ version: '2.0.0', digest: d('c') }], removed: [{ version: '1.0.0', digest: d('a') }] },
      securityVersionFloor: { from: 1, to: 2 },
      debugForbidden: { from: true, to: false },
      requiredTcbStatus: { from: ['UpToDate'], to: ['UpToDate', 'SWHardeningNeeded'] },
      rules: {
        added: [{ name: 'no_debug', expression: '!debug' }],
        removed: [{ name: 'tee', expression: 'tee == "tdx"' }],
        changed: [{ name: 'min_svn', from: 'svn >= 1', to: 'svn >= 2' }],
      },
    });
    expect(formatPolicyDiff(diff).split('\n')).toEqual([
      `- accept 1.0.0 (digest ${d('a')})`,
      `+ accept 2.0.0 (digest ${d('c')})`,
      '- floor 1',
      '+ floor 2',
      '- debug forbidden',
      '+ debug allowed',
      '- tcb UpToDate',
      '+ tcb UpToDate, SWHardeningNeeded',
      '- rule tee: tee == "tdx"',
      '- rule min_svn: svn >= 1',
      '+ rule min_svn: svn >= 2',
      '+ rule no_debug: !debug',
    ]);
  });

  it('shows a re-pinned version as removed and added', () => {
    const next = { ...base, accepted: [{ version: '1.0.0', digest: d('f') }, base.accepted[1] as PolicyDocument['accepted'][number]] };
    const diff = diffPolicies(base, next);
    expect(diff.accepted).toEqual({ added: [{ version: '1.0.0', digest: d('f') }], removed: [{ version: '1.0.0', digest: d('a') }] });
  });

  it('keeps the marker on every line of a multi-line rule', () => {
    const next = { ...base, rules: { ...base.rules, multi: 'svn >= 1 &&\n  !debug' } };
    expect(formatPolicyDiff(diffPolicies(base, next))).toBe('+ rule multi: svn >= 1 &&\n+     !debug');
  });

  it('is antisymmetric and empty on itself (property)', () => {
    const versions = ['1.0.0', '1.1.0', '2.0.0', '3.0.0'];
    const docArb: fc.Arbitrary<PolicyDocument> = fc.record({
      accepted: fc.subarray(versions).map((vs) => vs.map((version) => ({ version, digest: d(version.charAt(0)) }))),
      securityVersionFloor: fc.integer({ min: 0, max: 3 }),
      requiredTcbStatus: fc.subarray<TcbStatus>(['UpToDate', 'SWHardeningNeeded', 'OutOfDate'], { minLength: 1 }),
      debugForbidden: fc.boolean(),
      rules: fc.dictionary(fc.constantFrom('a', 'b', 'c'), fc.constantFrom('svn >= 1', '!debug', 'true')),
    }).map((settings) => ({ ...base, ...settings }));
    fc.assert(
      fc.property(docArb, docArb, (a, b) => {
        const forward = diffPolicies(a, b);
        const backward = diffPolicies(b, a);
        expect(diffPolicies(a, a).identical).toBe(true);
        expect(forward.identical).toBe(backward.identical);
        expect(forward.accepted.added).toEqual(backward.accepted.removed);
        expect(forward.rules.added).toEqual(backward.rules.removed);
        expect(forward.rules.changed.map((c) => c.name)).toEqual(backward.rules.changed.map((c) => c.name));
        expect(forward.securityVersionFloor?.to).toBe(backward.securityVersionFloor?.from);
        const sameTrust =
          JSON.stringify([a.accepted, a.securityVersionFloor, a.requiredTcbStatus, a.debugForbidden, Object.entries(a.rules).sort()]) ===
          JSON.stringify([b.accepted, b.securityVersionFloor, b.requiredTcbStatus, b.debugForbidden, Object.entries(b.rules).sort()]);
        expect(forward.identical).toBe(sameTrust);
        const text = formatPolicyDiff(forward);
        if (!forward.identical) for (const line of text.split('\n')) expect(line).toMatch(/^[+-] /);
      }),
    );
  });
});
