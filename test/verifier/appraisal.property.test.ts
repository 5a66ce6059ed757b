import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { TCB_STATUSES, type Digest, type Release } from '../../src/core/model.js';
import type { Claims } from '../../src/evidence/plugin.js';
import { appraise, type AppraisalInput } from '../../src/verifier/appraisal.js';
import { compilePolicyRules } from '../../src/verifier/rules.js';
import { worstTier } from '../../src/verifier/trust-vector.js';
import {
  CRYPTO,
  M1,
  NOW,
  ROOT_STORE,
  SIM_1_0,
  SIM_1_1,
  SNP_2_0,
  TPM_3_0,
  WORKLOAD,
  alterPolicy,
  digest,
  makePolicy,
  makeRelease,
  releaseMap,
  sha256Of,
  simClaims,
  snpClaims,
  tpmClaims,
} from './fixtures.js';

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const sha256Arb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes): Digest => ({ alg: 'sha256', hex: hex(bytes) }));

const ALL = releaseMap(SIM_1_0, SIM_1_1, SNP_2_0, TPM_3_0);
const RULES = { min_svn: 'svn >= 1', not_tdx: 'tee != "tdx"', svn_claim: 'has(claims.securityVersion) && claims.securityVersion >= 1' };
const POLICIES = [
  makePolicy(ALL, { accept: ['1.0.0', '1.1.0', '2.0.0', '3.0.0'] }),
  makePolicy(ALL, { accept: ['1.0.0', '2.0.0'], rules: RULES, debug: 'allow', requiredTcbStatus: ['UpToDate', 'OutOfDate'] }),
  makePolicy(ALL, { accept: ['1.1.0', '2.0.0', '3.0.0'], floor: 2 }),
];

/** Claims near the fixtures' reference values, so every branch of appraisal is reached. */
const claimsArb: fc.Arbitrary<Claims> = fc
  .record({
    base: fc.constantFrom(simClaims(), snpClaims(), tpmClaims(), simClaims({ measurements: [digest(sha256Of('app-1.1.0'))] })),
    measurements: fc.option(fc.array(fc.oneof(sha256Arb, fc.constant(digest(M1))), { maxLength: 3 }), { nil: undefined }),
    securityVersion: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
    debug: fc.boolean(),
    tcbStatus: fc.option(fc.constantFrom(...TCB_STATUSES), { nil: undefined }),
    config: fc.option(
      fc.dictionary(fc.constantFrom('root-store', 'crypto', 'extra'), fc.oneof(sha256Arb, fc.constantFrom(digest(ROOT_STORE), digest(CRYPTO)))),
      { nil: undefined },
    ),
  })
  .map(({ base, measurements, securityVersion, debug, tcbStatus, config }) => {
    const { securityVersion: _svn, tcbStatus: _tcb, ...rest } = base;
    return {
      ...rest,
      ...(measurements === undefined ? {} : { measurements }),
      ...(securityVersion === undefined ? {} : { securityVersion }),
      debug,
      ...(tcbStatus === undefined ? {} : { tcbStatus }),
      ...(config === undefined ? { config: base.config } : { config }),
    };
  });

const inputArb: fc.Arbitrary<AppraisalInput> = fc
  .record({
    claims: claimsArb,
    policy: fc.constantFrom(...POLICIES),
    warn: fc.boolean(),
  })
  .map(({ claims, policy, warn }) => ({
    claims,
    policy,
    releases: ALL,
    workload: WORKLOAD,
    now: NOW,
    compiledRules: compilePolicyRules(policy),
    ...(warn ? { warnings: [{ code: 'release-revoked', message: 'release 1.0.0 is revoked' }] } : {}),
  }));

describe('appraise: properties', () => {
  it('is a pure function: the same input gives a deep-equal output, and the input is untouched', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const before = structuredClone({ claims: input.claims, policy: input.policy, releases: [...input.releases] });
        const first = appraise(input);
        const second = appraise({ ...input, claims: structuredClone(input.claims), releases: new Map(input.releases) });
        expect(second).toEqual(first);
        expect({ claims: input.claims, policy: input.policy, releases: [...input.releases] }).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });

  it('derives the status from the reasons, and the vector agrees with it', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const result = appraise(input);
        const severities = new Set(result.reasons.map((reason) => reason.severity));
        const expected = severities.has('contraindicated') ? 'contraindicated' : severities.has('warning') ? 'warning' : 'affirming';
        expect(result.status).toBe(expected);
        expect(result.reasons.length > 0).toBe(result.status !== 'affirming');
        // Debug allowed by policy is the documented exception: a warning-tier vector under an affirming status.
        const worst = worstTier(result.trustVector);
        if (result.status === 'contraindicated') expect(worst).toBe('contraindicated');
        else expect(worst).not.toBe('contraindicated');
        if (result.status === 'warning') expect(worst).toBe('warning');
        if (result.status === 'affirming' && !input.claims.debug) expect(worst).toBe('affirming');
      }),
      { numRuns: 300 },
    );
  });

  it('does not depend on the order of the releases map', () => {
    fc.assert(
      fc.property(inputArb, fc.func(fc.integer()), (input, key) => {
        const shuffled = new Map([...input.releases].sort(([a], [b]) => key(a) - key(b) || (a < b ? -1 : 1)));
        expect(appraise({ ...input, releases: shuffled })).toEqual(appraise(input));
      }),
      { numRuns: 100 },
    );
  });

  const unrelatedArb = fc
    .array(
      fc.oneof(
        fc.record({ kind: fc.constant('measurements' as const), measurement: sha256Arb, svn: fc.integer({ min: 0, max: 20 }) }),
        fc.record({
          kind: fc.constant('signer' as const),
          signer: fc.uint8Array({ minLength: 8, maxLength: 32 }).map(hex),
          svn: fc.integer({ min: 0, max: 20 }),
        }),
      ),
      { minLength: 1, maxLength: 5 },
    )
    .map((specs) =>
      specs.map((spec, i): Release =>
        spec.kind === 'measurements'
          ? makeRelease({ version: `9.${i}.0`, class: 'sim', measurements: [`sha256:${spec.measurement.hex}`], securityVersion: spec.svn })
          : makeRelease({ version: `9.${i}.0`, class: 'sev-snp', signer: spec.signer, product: 'unrelated', minSvn: spec.svn }),
      ),
    );

  it('never turns affirming into contraindicated when an unrelated release is accepted too', () => {
    fc.assert(
      fc.property(claimsArb, unrelatedArb, (claims, extras) => {
        const releases = releaseMap(SIM_1_0, SIM_1_1, SNP_2_0, TPM_3_0, ...extras);
        const before = makePolicy(releases, { accept: ['1.0.0', '1.1.0', '2.0.0', '3.0.0'], requiredTcbStatus: [...TCB_STATUSES] });
        const baseline = appraise({ claims, policy: before, releases, workload: WORKLOAD, now: NOW });
        fc.pre(baseline.status === 'affirming');
        const after = makePolicy(releases, { accept: extras.map((r) => r.document.version) }, before, NOW);
        const result = appraise({ claims, policy: after, releases, workload: WORKLOAD, now: NOW });
        expect(result.status).toBe('affirming');
        expect(result.matchedRelease).toEqual(baseline.matchedRelease);
      }),
      { numRuns: 200 },
    );
  });

  it('is always contraindicated once the floor is above the matched release', () => {
    fc.assert(
      fc.property(inputArb, fc.integer({ min: 1, max: 1000 }), (input, raise) => {
        const baseline = appraise(input);
        fc.pre(baseline.matchedRelease !== undefined);
        const matched = input.releases.get(baseline.matchedRelease?.version ?? '') as Release;
        const floor = matched.document.securityVersion + raise;
        const policy = alterPolicy(input.policy, { securityVersionFloor: floor });
        const result = appraise({ ...input, policy, compiledRules: compilePolicyRules(policy) });
        expect(result.status).toBe('contraindicated');
        expect(result.reasons.map((reason) => reason.code)).toContain('below-floor');
        expect(result.trustVector.executables).toBe(96);
      }),
      { numRuns: 200 },
    );
  });
});
