import { checkRule } from '../../src/policy/cel.js';
import { rejection } from '../support/errors.js';
import { TCB_STATUSES } from '../../src/core/model.js';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { contentDigest } from '../../src/core/canonical.js';
import { CovenantError } from '../../src/core/errors.js';
import type { PolicyDocument, PolicyVersion, Release, ReleaseStatus, TcbStatus } from '../../src/core/model.js';
import {
  decidePolicyUpdate,
  initialPolicy,
  policyInForceAt,
  releaseStatusChanges,
  type PolicyUpdate,
} from '../../src/core/policy.js';
import { buildReleaseDocument } from '../../src/core/release.js';

const TENANT = 'default';
const WORKLOAD = 'payments/ingest';
const T0 = new Date('2025-03-01T12:00:00.000Z');
const later = (minutes: number): Date => new Date(T0.getTime() + minutes * 60_000);

function release(version: string, securityVersion: number, status: ReleaseStatus = 'registered'): Release {
  const measurement = `sha256:${contentDigest(version)}`;
  const document = buildReleaseDocument(TENANT, WORKLOAD, { version, class: 'sim', measurements: [measurement], securityVersion });
  return { document, digest: contentDigest(document), status, createdAt: T0.toISOString() };
}

const RELEASES: ReadonlyMap<string, Release> = new Map(
  [release('1.0.0', 1), release('1.1.0', 2), release('2.0.0', 5), release('10.0.0', 9), release('0.9.0', 0, 'revoked')].map((r) => [
    r.document.version,
    r,
  ]),
);

function decide(current: PolicyVersion | null, update: PolicyUpdate, now = later(1), releases = RELEASES): PolicyVersion {
  return decidePolicyUpdate({ current, releases, update, actor: 'member:alice', now, tenant: TENANT, workload: WORKLOAD, checkRule });
}

const digestOf = (version: string): string => (RELEASES.get(version) as Release).digest;

describe('initialPolicy', () => {
  it('fails closed', () => {
    expect(initialPolicy).toEqual({
      accepted: [],
      securityVersionFloor: 0,
      requiredTcbStatus: ['UpToDate'],
      debugForbidden: true,
      rules: {},
    });
    expect(Object.isFrozen(initialPolicy)).toBe(true);
  });
});

describe('decidePolicyUpdate', () => {
  const v1 = decide(null, { accept: ['1.1.0', '1.0.0'], reason: 'first release' });

  it('creates the first version from the defaults', () => {
    expect(v1.document).toEqual({
      tenant: TENANT,
      workload: WORKLOAD,
      number: 1,
      predecessor: null,
      actor: 'member:alice',
      reason: 'first release',
      createdAt: later(1).toISOString(),
      accepted: [
        { version: '1.0.0', digest: digestOf('1.0.0') },
        { version: '1.1.0', digest: digestOf('1.1.0') },
      ],
      securityVersionFloor: 0,
      requiredTcbStatus: ['UpToDate'],
      debugForbidden: true,
      rules: {},
    } satisfies PolicyDocument);
    expect(v1.id).toBe(contentDigest(v1.document));
  });

  it('chains the next version to its predecessor', () => {
    const v2 = decide(v1, { accept: ['2.0.0'], remove: ['1.0.0'], reason: 'roll forward' }, later(2));
    expect(v2.document.number).toBe(2);
    expect(v2.document.predecessor).toBe(v1.id);
    expect(v2.document.accepted.map((a) => a.version)).toEqual(['1.1.0', '2.0.0']);
  });

  it('sorts accepted releases by version in code-unit order', () => {
    const v = decide(null, { accept: ['2.0.0', '10.0.0', '1.0.0'], reason: 'r' });
    expect(v.document.accepted.map((a) => a.version)).toEqual(['1.0.0', '10.0.0', '2.0.0']);
  });

  it('rejects an unknown release, naming it', () => {
    const error = rejection(() => decide(v1, { accept: ['3.0.0'], reason: 'r' }));
    expect(error.type).toBe('unknown-release');
    expect(error.message).toContain('3.0.0');
  });

  it('rejects a release of another workload as unknown', () => {
    const other = buildReleaseDocument(TENANT, 'other/app', { version: '7.0.0', class: 'sim', measurements: [`sha256:${'7'.repeat(64)}`] });
    const releases = new Map(RELEASES).set('7.0.0', { document: other, digest: contentDigest(other), status: 'registered', createdAt: T0.toISOString() });
    expect(rejection(() => decide(null, { accept: ['7.0.0'], reason: 'r' }, later(1), releases)).type).toBe('unknown-release');
  });

  it('rejects removing a release that is not accepted', () => {
    const error = rejection(() => decide(v1, { remove: ['2.0.0'], reason: 'r' }));
    expect(error.type).toBe('invalid-policy');
    expect(error.message).toMatch(/cannot remove release 2\.0\.0: it is not accepted/);
  });

  it('rejects a version both accepted and removed', () => {
    expect(rejection(() => decide(v1, { accept: ['1.0.0'], remove: ['1.0.0'], reason: 'r' })).type).toBe('bad-request');
  });

  it('rejects a revoked release as a re-admission', () => {
    const error = rejection(() => decide(v1, { accept: ['0.9.0'], reason: 'r' }));
    expect(error.type).toBe('readmission-refused');
    expect(error.message).toMatch(/0\.9\.0 is revoked/);
  });

  it('forces a release revoked after acceptance out of the next version', () => {
    const revoked = new Map(RELEASES).set('1.0.0', { ...(RELEASES.get('1.0.0') as Release), status: 'revoked' });
    const error = rejection(() => decide(v1, { floor: 1, reason: 'r' }, later(2), revoked));
    expect(error.type).toBe('invalid-policy');
    expect(error.message).toMatch(/1\.0\.0 is revoked; remove it/);
    expect(decide(v1, { remove: ['1.0.0'], reason: 'revoke' }, later(2), revoked).document.accepted).toHaveLength(1);
  });

  it('rejects a floor decrease, naming both numbers', () => {
    const v2 = decide(v1, { floor: 1, remove: ['1.0.0'], accept: ['2.0.0'], reason: 'raise' }, later(2));
    const error = rejection(() => decide(v2, { floor: 0, reason: 'lower' }, later(3)));
    expect(error.type).toBe('floor-decrease');
    expect(error.message).toMatch(/0 is below the current floor 1/);
  });

  it('rejects a floor above an accepted release, naming it', () => {
    const error = rejection(() => decide(v1, { floor: 2, reason: 'raise' }));
    expect(error.type).toBe('invalid-policy');
    expect(error.message).toMatch(/release 1\.0\.0 has security version 1, below the floor 2/);
    const ok = decide(v1, { floor: 2, remove: ['1.0.0'], reason: 'raise' });
    expect(ok.document.securityVersionFloor).toBe(2);
  });

  it('rejects accepting a release below the floor', () => {
    const v2 = decide(v1, { floor: 2, remove: ['1.0.0'], reason: 'raise' });
    const error = rejection(() => decide(v2, { accept: ['1.0.0'], reason: 'back' }, later(3)));
    expect(error.type).toBe('invalid-policy');
    expect(error.message).toContain('1.0.0');
  });

  it.each([
    ['a non-integer floor', { floor: 1.5 }],
    ['a negative floor', { floor: -1 }],
    ['an empty TCB requirement', { requiredTcbStatus: [] }],
    ['an unknown TCB status', { requiredTcbStatus: ['Fine' as TcbStatus] }],
    ['a malformed version', { accept: ['not a version'] }],
    ['a duplicated version', { accept: ['1.0.0', '1.0.0'] }],
    ['a bad rule name', { rules: { '-bad': 'true' } }],
    ['a rule name with a space', { rules: { 'bad name': 'true' } }],
  ])('rejects %s as a validation error', (_label, update) => {
    expect(rejection(() => decide(v1, { ...update, reason: 'r' })).type).toBe('validation-failed');
  });

  it.each(['', '   ', undefined])('requires a reason (%j)', (reason) => {
    const error = rejection(() => decide(v1, { floor: 1, reason: reason as string }));
    expect(error.type).toBe('validation-failed');
    expect(error.issues[0]?.field).toBe('reason');
  });

  it('refuses a NUL character in the reason (no store could keep it)', () => {
    const error = rejection(() => decide(v1, { floor: 1, reason: 'a\u0000b' }));
    expect(error.type).toBe('validation-failed');
    expect(error.issues[0]?.field).toBe('reason');
  });

  it.each([
    ['a syntax error', 'svn >= ', /syntax error: Unexpected token/],
    ['a type error', 'svn == "1"', /type error: no such overload/],
    ['an unknown variable', 'nonce == 1', /Unknown variable: nonce/],
    ['a non-bool result', 'svn + 1', /must have type bool.*int/],
  ])('rejects a rule with %s, naming the rule and the problem', (_label, expression, message) => {
    const error = rejection(() => decide(v1, { rules: { min_svn: expression }, reason: 'r' }));
    expect(error.type).toBe('invalid-rule');
    expect(error.message).toContain('"min_svn"');
    expect(error.message).toMatch(message);
  });

  it('adds, replaces and drops rules', () => {
    const v2 = decide(v1, { rules: { min_svn: 'svn >= 1', tee: 'tee == "sim"' }, reason: 'rules' }, later(2));
    expect(v2.document.rules).toEqual({ min_svn: 'svn >= 1', tee: 'tee == "sim"' });
    expect(Object.keys(v2.document.rules)).toEqual(['min_svn', 'tee']);
    const v3 = decide(v2, { rules: { min_svn: 'svn >= 2' }, dropRules: ['tee'], reason: 'tighten' }, later(3));
    expect(v3.document.rules).toEqual({ min_svn: 'svn >= 2' });
    expect(rejection(() => decide(v3, { dropRules: ['tee'], reason: 'r' }, later(4))).type).toBe('invalid-policy');
    expect(rejection(() => decide(v3, { dropRules: ['min_svn'], rules: { min_svn: 'true' }, reason: 'r' }, later(4))).type).toBe('bad-request');
  });

  it('sets debug and TCB requirements (statuses kept in canonical order, without duplicates)', () => {
    const v2 = decide(v1, { debug: 'allow', requiredTcbStatus: ['SWHardeningNeeded', 'UpToDate', 'UpToDate'], reason: 'lab' }, later(2));
    expect(v2.document.debugForbidden).toBe(false);
    expect(v2.document.requiredTcbStatus).toEqual(['UpToDate', 'SWHardeningNeeded']);
    expect(decide(v2, { debug: 'forbid', reason: 'prod' }, later(3)).document.debugForbidden).toBe(true);
  });

  it.each<[string, PolicyUpdate]>([
    ['an empty update', { reason: 'nothing' }],
    ['re-accepting an accepted release', { accept: ['1.0.0'], reason: 'again' }],
    ['the same floor', { floor: 0, reason: 'same' }],
    ['the same debug setting', { debug: 'forbid', reason: 'same' }],
    ['the same TCB requirement', { requiredTcbStatus: ['UpToDate'], reason: 'same' }],
  ])('rejects %s as changing nothing', (_label, update) => {
    const error = rejection(() => decide(v1, update));
    expect(error.type).toBe('bad-request');
    expect(error.message).toMatch(/changes nothing/);
  });

  it('rejects a first update that only restates the defaults', () => {
    expect(rejection(() => decide(null, { debug: 'forbid', reason: 'r' })).type).toBe('bad-request');
  });

  it('rejects a time before the current version', () => {
    expect(rejection(() => decide(v1, { floor: 1, remove: ['1.0.0'], reason: 'r' }, T0)).type).toBe('conflict');
  });

  it('refuses to chain onto a version whose id is not its content address', () => {
    const tampered: PolicyVersion = { id: v1.id, document: { ...v1.document, securityVersionFloor: 9 } };
    expect(rejection(() => decide(tampered, { debug: 'allow', reason: 'r' }, later(2))).type).toBe('internal');
  });

  it('refuses a current version of another workload', () => {
    const error = rejection(() =>
      decidePolicyUpdate({ current: v1, releases: RELEASES, update: { floor: 1, reason: 'r' }, actor: 'member:a', now: later(2), tenant: TENANT, workload: 'other', checkRule }),
    );
    expect(error.type).toBe('bad-request');
  });

  it('rejects an invalid clock reading and an empty actor', () => {
    expect(rejection(() => decide(null, { accept: ['1.0.0'], reason: 'r' }, new Date(Number.NaN))).issues[0]?.field).toBe('now');
    const error = rejection(() =>
      decidePolicyUpdate({ current: null, releases: RELEASES, update: { accept: ['1.0.0'], reason: 'r' }, actor: '', now: T0, tenant: TENANT, workload: WORKLOAD, checkRule }),
    );
    expect(error.issues[0]?.field).toBe('actor');
  });
});

describe('releaseStatusChanges', () => {
  it('marks newly accepted releases accepted and dropped ones retired', () => {
    const v1 = decide(null, { accept: ['1.0.0', '1.1.0'], reason: 'r' });
    const v2 = decide(v1, { accept: ['2.0.0'], remove: ['1.0.0'], reason: 'r' }, later(2));
    expect(releaseStatusChanges(null, v1.document)).toEqual([
      { version: '1.0.0', status: 'accepted' },
      { version: '1.1.0', status: 'accepted' },
    ]);
    expect(releaseStatusChanges(v1.document, v2.document)).toEqual([
      { version: '1.0.0', status: 'retired' },
      { version: '2.0.0', status: 'accepted' },
    ]);
    expect(releaseStatusChanges(v2.document, v2.document)).toEqual([]);
  });
});

describe('policyInForceAt', () => {
  const v1 = decide(null, { accept: ['1.0.0'], reason: 'r' }, later(10));
  const v2 = decide(v1, { accept: ['1.1.0'], reason: 'r' }, later(20));
  const v3 = decide(v2, { accept: ['2.0.0'], reason: 'r' }, later(20));

  it('returns the newest version created at or before the time', () => {
    const versions = [v3, v1, v2];
    expect(policyInForceAt(versions, later(5))).toBeUndefined();
    expect(policyInForceAt(versions, later(10))?.id).toBe(v1.id);
    expect(policyInForceAt(versions, later(19))?.id).toBe(v1.id);
    expect(policyInForceAt(versions, later(20))?.id).toBe(v3.id);
    expect(policyInForceAt([], later(20))).toBeUndefined();
  });

  it('rejects an invalid time rather than answering with the newest version', () => {
    expect(rejection(() => policyInForceAt([v1], new Date(Number.NaN))).type).toBe('validation-failed');
  });
});

// ---- properties over random update sequences ----

const VERSIONS = [...RELEASES.keys()];
const RULE_POOL = ['svn >= 1', 'tee == "sim"', '!debug', 'tcb_status == "UpToDate"', 'claims.size() >= 0'];
const RULE_NAMES = ['a', 'b', 'c'];

/**
 * Updates are generated as intents resolved against the current version, so most of a
 * random sequence is accepted (a pure random update would mostly be refused) while
 * floor decreases, revoked releases and stale removals still occur.
 */
interface Intent {
  readonly accept: readonly string[];
  readonly removePicks: readonly number[];
  readonly floorDelta?: number;
  readonly pruneBelowFloor: boolean;
  readonly rules?: Readonly<Record<string, string>>;
  readonly dropPick?: number;
  readonly debug?: 'allow' | 'forbid';
  readonly requiredTcbStatus?: readonly TcbStatus[];
  readonly reason: string;
}

const intentArb: fc.Arbitrary<Intent> = fc.record(
  {
    accept: fc.uniqueArray(fc.constantFrom(...VERSIONS), { maxLength: 2 }),
    removePicks: fc.array(fc.nat(), { maxLength: 2 }),
    floorDelta: fc.integer({ min: -2, max: 3 }),
    pruneBelowFloor: fc.boolean(),
    rules: fc.dictionary(fc.constantFrom(...RULE_NAMES), fc.constantFrom(...RULE_POOL), { maxKeys: 2 }),
    dropPick: fc.nat(),
    debug: fc.constantFrom('allow' as const, 'forbid' as const),
    requiredTcbStatus: fc.subarray([...TCB_STATUSES], { minLength: 1 }),
    reason: fc.constantFrom('rollout', 'cleanup', 'raise floor'),
  },
  { requiredKeys: ['accept', 'removePicks', 'pruneBelowFloor', 'reason'] },
);

function resolve(intent: Intent, current: PolicyVersion | null): PolicyUpdate {
  const accepted = current?.document.accepted.map((a) => a.version) ?? [];
  const currentFloor = current?.document.securityVersionFloor ?? 0;
  const floor = intent.floorDelta === undefined ? undefined : Math.max(0, currentFloor + intent.floorDelta);
  const remove = new Set(accepted.length === 0 ? [] : intent.removePicks.map((i) => accepted[i % accepted.length] as string));
  let accept = intent.accept.filter((v) => !remove.has(v));
  if (intent.pruneBelowFloor && floor !== undefined) {
    const below = (v: string): boolean => (RELEASES.get(v) as Release).document.securityVersion < floor;
    for (const v of accepted) if (below(v)) remove.add(v);
    accept = accept.filter((v) => !below(v));
  }
  const ruleNames = Object.keys(current?.document.rules ?? {}).filter((name) => !(intent.rules && name in intent.rules));
  const dropRules = intent.dropPick === undefined || ruleNames.length === 0 ? undefined : [ruleNames[intent.dropPick % ruleNames.length] as string];
  return {
    accept,
    remove: [...remove],
    ...(floor === undefined ? {} : { floor }),
    ...(intent.rules === undefined ? {} : { rules: intent.rules }),
    ...(dropRules === undefined ? {} : { dropRules }),
    ...(intent.debug === undefined ? {} : { debug: intent.debug }),
    ...(intent.requiredTcbStatus === undefined ? {} : { requiredTcbStatus: intent.requiredTcbStatus }),
    reason: intent.reason,
  };
}

interface Run {
  readonly chain: PolicyVersion[];
  readonly rejected: { update: PolicyUpdate; error: CovenantError; current: PolicyVersion | null }[];
}

/** Applies intents in order, one minute apart, keeping the accepted versions. */
function run(intents: readonly Intent[]): Run {
  const chain: PolicyVersion[] = [];
  const rejected: Run['rejected'] = [];
  intents.forEach((intent, i) => {
    const current = chain.at(-1) ?? null;
    const update = resolve(intent, current);
    try {
      chain.push(decide(current, update, later(i)));
    } catch (error) {
      if (!(error instanceof CovenantError)) throw error;
      rejected.push({ update, error, current });
    }
  });
  return { chain, rejected };
}

describe('policy decision properties', () => {
  it('the floor never decreases, and every lower floor is refused as floor-decrease', () => {
    fc.assert(
      fc.property(fc.array(intentArb, { maxLength: 25 }), (updates) => {
        const { chain, rejected } = run(updates);
        for (let i = 1; i < chain.length; i++) {
          expect((chain[i] as PolicyVersion).document.securityVersionFloor).toBeGreaterThanOrEqual(
            (chain[i - 1] as PolicyVersion).document.securityVersionFloor,
          );
        }
        for (const { update, error, current } of rejected) {
          const floor = current?.document.securityVersionFloor ?? 0;
          if (error.type === 'floor-decrease') expect(update.floor).toBeLessThan(floor);
        }
        for (const version of chain) {
          for (const accepted of version.document.accepted) {
            expect((RELEASES.get(accepted.version) as Release).document.securityVersion).toBeGreaterThanOrEqual(version.document.securityVersionFloor);
          }
        }
      }),
    );
  });

  it('each version names its predecessor: a hash chain with consecutive numbers', () => {
    fc.assert(
      fc.property(fc.array(intentArb, { maxLength: 25 }), (updates) => {
        const { chain } = run(updates);
        chain.forEach((version, i) => {
          expect(version.document.number).toBe(i + 1);
          expect(version.document.predecessor).toBe(i === 0 ? null : (chain[i - 1] as PolicyVersion).id);
          const { accepted } = version.document;
          expect(accepted.map((a) => a.version)).toEqual(accepted.map((a) => a.version).sort());
          for (const a of accepted) expect(a.digest).toBe(digestOf(a.version));
        });
      }),
    );
  });

  it('ids are content addresses: same content gives the same id', () => {
    fc.assert(
      fc.property(fc.array(intentArb, { maxLength: 10 }), (updates) => {
        const first = run(updates).chain;
        const second = run(updates).chain;
        expect(second.map((v) => v.id)).toEqual(first.map((v) => v.id));
        for (const version of first) expect(version.id).toBe(contentDigest(version.document));
      }),
    );
  });

  it('ids are content addresses: any change to the document changes the id', () => {
    const base = decide(null, { accept: ['1.0.0', '2.0.0'], rules: { a: 'svn >= 1' }, reason: 'r' });
    const mutations: fc.Arbitrary<PolicyDocument> = fc.oneof(
      fc.string().filter((s) => s !== base.document.reason).map((reason) => ({ ...base.document, reason })),
      fc.string().filter((s) => s !== base.document.actor).map((actor) => ({ ...base.document, actor })),
      fc.integer({ min: 2 }).map((number) => ({ ...base.document, number })),
      fc.integer({ min: 1 }).map((securityVersionFloor) => ({ ...base.document, securityVersionFloor })),
      fc.constant({ ...base.document, debugForbidden: false }),
      fc.constant({ ...base.document, predecessor: base.id }),
      fc.date({ noInvalidDate: true }).filter((d) => d.toISOString() !== base.document.createdAt).map((d) => ({ ...base.document, createdAt: d.toISOString() })),
      fc.subarray(base.document.accepted as PolicyDocument['accepted'][number][], { maxLength: 1 }).map((accepted) => ({ ...base.document, accepted })),
      fc.string().map((expression) => ({ ...base.document, rules: { a: `svn >= 1${expression === '' ? ' ' : expression}` } })),
      fc.constant({ ...base.document, requiredTcbStatus: ['UpToDate', 'OutOfDate'] as TcbStatus[] }),
    );
    fc.assert(
      fc.property(mutations, (mutated) => {
        expect(contentDigest(mutated)).not.toBe(base.id);
      }),
    );
  });
});
