import { describe, it, expect } from 'vitest';
import { contentDigest } from '../../src/core/canonical.js';
import type { Release } from '../../src/core/model.js';
import { appraise, appraisalPolicyId, type Appraisal, type AppraisalInput } from '../../src/verifier/appraisal.js';
import { PolicyRuleCache, compilePolicyRules } from '../../src/verifier/rules.js';
import { EAR_STATUS, tierOf, worstTier } from '../../src/verifier/trust-vector.js';
import {
  CRYPTO,
  M1,
  M2,
  NOW,
  PCR_COMPOSITE,
  ROOT_STORE,
  SIGNER,
  SIM_1_0,
  SIM_1_1,
  SNP_2_0,
  T0,
  TENANT,
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

const ALL = releaseMap(SIM_1_0, SIM_1_1, SNP_2_0, TPM_3_0);
const BASE = makePolicy(ALL, { accept: ['1.0.0', '1.1.0', '2.0.0', '3.0.0'] });

function run(overrides: Partial<AppraisalInput> = {}): Appraisal {
  return appraise({ claims: simClaims(), policy: BASE, releases: ALL, workload: WORKLOAD, now: NOW, ...overrides });
}

const codes = (appraisal: Appraisal): string[] => appraisal.reasons.map((reason) => reason.code);

describe('appraise: the happy paths', () => {
  it('affirms sim evidence matching an accepted release by measurement', () => {
    const result = run();
    expect(result).toEqual({
      status: 'affirming',
      reasons: [],
      matchedRelease: { version: '1.0.0', digest: SIM_1_0.digest },
      trustVector: {
        'instance-identity': 0,
        configuration: 2,
        executables: 2,
        'file-system': 0,
        hardware: 0,
        // A simulated TEE isolates no memory.
        'runtime-opaque': 0,
        'storage-opaque': 0,
        'sourced-data': 0,
      },
      policyId: `policy:${TENANT}/${WORKLOAD}/${BASE.id}`,
    } satisfies Appraisal);
    expect(appraisalPolicyId(BASE)).toBe(result.policyId);
  });

  it('affirms sev-snp evidence by signer + product + svn, with a TCB verdict', () => {
    const result = run({ claims: snpClaims() });
    expect(result.status).toBe('affirming');
    expect(result.matchedRelease).toEqual({ version: '2.0.0', digest: SNP_2_0.digest });
    expect(result.trustVector.hardware).toBe(2);
    expect(result.trustVector.configuration).toBe(0);
  });

  it('affirms tpm evidence and claims no runtime opacity for it', () => {
    const result = run({ claims: tpmClaims() });
    expect(result.status).toBe('affirming');
    expect(result.matchedRelease?.version).toBe('3.0.0');
    expect(result.trustVector['runtime-opaque']).toBe(0);
    expect(result.trustVector.hardware).toBe(0);
  });
});

describe('release matching', () => {
  it('compares measurements by algorithm and hex, case-insensitively', () => {
    const upper = { alg: 'sha256' as const, hex: digest(M1).hex.toUpperCase() };
    expect(run({ claims: simClaims({ measurements: [upper] }) }).status).toBe('affirming');
    const otherAlg = { alg: 'sha512' as const, hex: digest(M1).hex };
    const result = run({ claims: simClaims({ measurements: [otherAlg] }) });
    expect(codes(result)).toEqual(['no-matching-release']);
  });

  it('matches when any listed measurement equals any evidence measurement', () => {
    const multi = makeRelease({ version: '1.2.0', class: 'sim', measurements: [sha256Of('a'), sha256Of('b')], securityVersion: 1 });
    const releases = releaseMap(multi);
    const policy = makePolicy(releases, { accept: ['1.2.0'] });
    const claims = simClaims({ measurements: [digest(sha256Of('zzz')), digest(sha256Of('b'))] });
    const result = appraise({ claims, policy, releases, workload: WORKLOAD, now: NOW });
    expect(result.status).toBe('affirming');
    expect(result.matchedRelease?.version).toBe('1.2.0');
  });

  it('only uses reference values of the evidence TEE class', () => {
    // The tpm release lists this digest; sim evidence carrying it must still not match.
    const result = run({ claims: simClaims({ measurements: [digest(PCR_COMPOSITE)] }) });
    expect(result.status).toBe('contraindicated');
    expect(codes(result)).toEqual(['no-matching-release']);
    expect(result.matchedRelease).toBeUndefined();
    expect(result.trustVector.executables).toBe(96);
  });

  it('names what it looked for when nothing matches', () => {
    const result = run({ claims: simClaims({ measurements: [digest(sha256Of('unknown'))] }) });
    const [reason] = result.reasons;
    expect(reason?.code).toBe('no-matching-release');
    expect(reason?.severity).toBe('contraindicated');
    expect(reason?.message).toContain('sim evidence');
    expect(reason?.message).toContain(`1.0.0 (measurement sha256:${digest(M1).hex.slice(0, 16)}…)`);
    expect(reason?.message).toContain('2.0.0 (no sim reference values)');
  });

  it('says so when the policy accepts nothing, and names accepted releases missing from the store', () => {
    const policy = makePolicy(ALL, { accept: ['1.1.0'] });
    const emptyish = makePolicy(ALL, { remove: ['1.1.0'], floor: 0, debug: 'allow' }, policy, new Date(T0.getTime() + 1000));
    expect(run({ policy: emptyish }).reasons[0]?.message).toMatch(/the policy accepts no release/);
    const missing = run({ policy, releases: releaseMap(SIM_1_0), claims: simClaims({ measurements: [digest(M2)] }) });
    expect(codes(missing)).toEqual(['no-matching-release']);
    expect(missing.reasons[0]?.message).toMatch(/accepted but not in the store: 1\.1\.0/);
  });

  describe('signer form', () => {
    it('matches the signer case-insensitively', () => {
      expect(run({ claims: snpClaims({ signer: SIGNER.toUpperCase() }) }).status).toBe('affirming');
    });

    it.each([
      ['another signer', { signer: 'cd'.repeat(32) }],
      ['another product', { product: 'billing' }],
      ['an svn below minSvn', { securityVersion: 2 }],
      ['no signer', { signer: undefined }],
      ['no product', { product: undefined }],
      ['no svn', { securityVersion: undefined }],
    ])('does not match %s', (_, overrides) => {
      const claims = { ...snpClaims(), ...overrides };
      const result = run({ claims });
      expect(result.status).toBe('contraindicated');
      expect(codes(result)).toContain('no-matching-release');
      expect(result.reasons[0]?.message).toContain('2.0.0 (signer abababababababab… product payments svn ≥ 3)');
    });

    it('matches evidence whose svn is above minSvn', () => {
      const result = run({ claims: snpClaims({ securityVersion: 7 }) });
      expect(result.status).toBe('affirming');
    });
  });

  it('ignores releases the policy does not accept, and says the evidence matches one', () => {
    const policy = makePolicy(ALL, { accept: ['1.1.0'] });
    const result = run({ policy });
    expect(result.status).toBe('contraindicated');
    expect(codes(result)).toEqual(['no-matching-release', 'release-not-accepted']);
    expect(result.reasons[1]?.message).toBe('the evidence matches release 1.0.0 (registered), which policy version 1 does not accept');
  });

  it('never matches a release whose stored digest differs from the pin', () => {
    const tampered: Release = { ...SIM_1_0, digest: 'f'.repeat(64) };
    const result = run({ releases: releaseMap(tampered, SIM_1_1, SNP_2_0, TPM_3_0) });
    expect(result.status).toBe('contraindicated');
    expect(codes(result)).toEqual(['release-digest-mismatch', 'no-matching-release']);
    expect(result.reasons[0]?.message).toContain(`stored with digest ${'f'.repeat(64)}, but the policy pins ${SIM_1_0.digest}`);
    expect(result.matchedRelease).toBeUndefined();
  });

  it('never matches a release whose document was altered under its digest', () => {
    const altered: Release = { ...SIM_1_0, document: { ...SIM_1_0.document, config: {} } };
    const result = run({ releases: releaseMap(altered, SIM_1_1, SNP_2_0, TPM_3_0) });
    expect(codes(result)).toEqual(['release-digest-mismatch', 'no-matching-release']);
    expect(result.reasons[0]?.message).toContain(`document hashes to ${contentDigest(altered.document)}`);
  });

  it('reports a tampered matching release even when another accepted release matches', () => {
    const twin = makeRelease({ version: '1.0.1', class: 'sim', measurements: [M1], securityVersion: 1, config: { 'root-store': ROOT_STORE } });
    const releases = releaseMap(SIM_1_0, twin);
    const policy = makePolicy(releases, { accept: ['1.0.0', '1.0.1'] });
    const tampered = releaseMap({ ...SIM_1_0, digest: '0'.repeat(64) }, twin);
    const result = appraise({ claims: simClaims(), policy, releases: tampered, workload: WORKLOAD, now: NOW });
    expect(result.matchedRelease?.version).toBe('1.0.1');
    expect(codes(result)).toEqual(['release-digest-mismatch']);
    expect(result.trustVector.executables).toBe(96);
  });

  describe('choice among several matches', () => {
    const a = makeRelease({ version: '1.0.0', class: 'sim', measurements: [M1], securityVersion: 1 });
    const b = makeRelease({ version: '1.5.0', class: 'sim', measurements: [M1], securityVersion: 3 });
    const c = makeRelease({ version: '1.9.0', class: 'sim', measurements: [M1], securityVersion: 2 });
    const d = makeRelease({ version: '1.4.0', class: 'sim', measurements: [M1], securityVersion: 3 });

    it('prefers the highest security version, then the greatest version string', () => {
      const releases = releaseMap(a, b, c, d);
      const policy = makePolicy(releases, { accept: ['1.0.0', '1.5.0', '1.9.0', '1.4.0'] });
      const result = appraise({ claims: simClaims(), policy, releases, workload: WORKLOAD, now: NOW });
      expect(result.matchedRelease).toEqual({ version: '1.5.0', digest: b.digest });
    });

    it('does not depend on the order of the releases map', () => {
      const policy = makePolicy(releaseMap(a, b, c, d), { accept: ['1.0.0', '1.5.0', '1.9.0', '1.4.0'] });
      const results = [releaseMap(a, b, c, d), releaseMap(d, c, b, a), releaseMap(c, a, d, b)].map((releases) =>
        appraise({ claims: simClaims(), policy, releases, workload: WORKLOAD, now: NOW }),
      );
      expect(results[1]).toEqual(results[0]);
      expect(results[2]).toEqual(results[0]);
    });
  });
});

describe('security-version floor', () => {
  it('passes at the floor', () => {
    const policy = makePolicy(ALL, { accept: ['1.1.0'], floor: 2 });
    const result = run({ policy, claims: simClaims({ measurements: [digest(M2)], securityVersion: 2 }) });
    expect(result.status).toBe('affirming');
  });

  it('refuses evidence whose own security version is below the floor', () => {
    const policy = makePolicy(ALL, { accept: ['1.1.0'], floor: 2 });
    const result = run({ policy, claims: simClaims({ measurements: [digest(M2)], securityVersion: 1 }) });
    expect(result.status).toBe('contraindicated');
    expect(codes(result)).toEqual(['below-floor']);
    expect(result.reasons[0]?.message).toBe("the evidence reports security version 1, below the policy's floor 2");
    expect(result.matchedRelease?.version).toBe('1.1.0');
    expect(result.trustVector.executables).toBe(96);
  });

  it('refuses a matched release below the floor (a policy the update logic would refuse)', () => {
    const policy = alterPolicy(BASE, { securityVersionFloor: 5 });
    const result = run({ policy, claims: simClaims({ securityVersion: 9 }) });
    expect(codes(result)).toEqual(['below-floor']);
    expect(result.reasons[0]?.message).toBe("release 1.0.0 has security version 1, below the policy's floor 5");
  });

  it('lists both when both are low', () => {
    const policy = alterPolicy(BASE, { securityVersionFloor: 5 });
    const result = run({ policy });
    expect(result.reasons).toHaveLength(1);
    expect(result.reasons[0]?.message).toMatch(/release 1\.0\.0 has security version 1 and the evidence reports security version 1/);
  });

  it('also checks evidence that matches nothing', () => {
    const policy = makePolicy(ALL, { accept: ['1.1.0'], floor: 2 });
    const result = run({ policy, claims: simClaims({ measurements: [digest(sha256Of('x'))], securityVersion: 0 }) });
    expect(codes(result)).toEqual(['no-matching-release', 'below-floor']);
  });
});

describe('configuration digests', () => {
  it('accepts extra evidence config and case differences in hex', () => {
    const claims = simClaims({
      config: { 'root-store': { alg: 'sha256', hex: digest(ROOT_STORE).hex.toUpperCase() }, crypto: digest(CRYPTO), more: digest(sha256Of('m')) },
    });
    expect(run({ claims }).status).toBe('affirming');
  });

  it('refuses a missing config digest and a different one, one reason each', () => {
    const claims = simClaims({ config: { crypto: digest(sha256Of('weak-crypto')) } });
    const result = run({ claims });
    expect(result.status).toBe('contraindicated');
    expect(codes(result)).toEqual(['config-mismatch', 'config-mismatch']);
    expect(result.reasons.map((r) => r.message)).toEqual([
      `config crypto: release 1.0.0 requires ${CRYPTO}, the evidence binds ${sha256Of('weak-crypto')}`,
      `config root-store: release 1.0.0 requires ${ROOT_STORE}, the evidence does not bind it`,
    ]);
    expect(result.trustVector.configuration).toBe(96);
  });

  it('does not read config names from the prototype', () => {
    const withProto = makeRelease({ version: '1.3.0', class: 'sim', measurements: [M1], securityVersion: 1, config: { constructor: ROOT_STORE } });
    const releases = releaseMap(withProto);
    const policy = makePolicy(releases, { accept: ['1.3.0'] });
    const result = appraise({ claims: simClaims({ config: {} }), policy, releases, workload: WORKLOAD, now: NOW });
    expect(codes(result)).toEqual(['config-mismatch']);
  });
});

describe('debug', () => {
  it('refuses debug mode when the policy forbids it', () => {
    const result = run({ claims: simClaims({ debug: true }) });
    expect(codes(result)).toEqual(['debug-forbidden']);
    expect(result.trustVector['runtime-opaque']).toBe(96);
  });

  it('allows debug mode when the policy allows it, and says so in the vector', () => {
    const policy = makePolicy(ALL, { accept: ['1.0.0'], debug: 'allow' });
    const result = run({ policy, claims: simClaims({ debug: true }) });
    expect(result.status).toBe('affirming');
    expect(result.trustVector['runtime-opaque']).toBe(32);
  });
});

describe('TCB status', () => {
  it('refuses a status the policy does not require', () => {
    const result = run({ claims: snpClaims({ tcbStatus: 'OutOfDate' }) });
    expect(codes(result)).toEqual(['tcb-status']);
    expect(result.reasons[0]?.message).toBe('TCB status OutOfDate is not one the policy requires (UpToDate)');
    expect(result.trustVector.hardware).toBe(96);
  });

  it('accepts any status the policy lists', () => {
    const policy = makePolicy(ALL, { accept: ['2.0.0'], requiredTcbStatus: ['UpToDate', 'SWHardeningNeeded'] });
    expect(run({ policy, claims: snpClaims({ tcbStatus: 'SWHardeningNeeded' }) }).status).toBe('affirming');
  });

  it('gives no TCB verdict for evidence without a status, and records it as not assessed', () => {
    const result = run({ claims: snpClaims({ tcbStatus: undefined }) });
    expect(result.status).toBe('affirming');
    expect(result.trustVector.hardware).toBe(0);
  });
});

describe('CEL rules', () => {
  const everyVariable = [
    'tee == "sim"',
    'release == "1.0.0"',
    'svn == 1',
    '!debug',
    'tcb_status == ""',
    `config["root-store"] == "${ROOT_STORE}"`,
    'workload == "payments/ingest"',
    `claims.measurements[0] == "${M1}"`,
    'claims.securityVersion == 1',
    'claims.details.platform == "CN=sim"',
    '!has(claims.signer)',
  ].join(' && ');

  it('evaluates rules with the documented activation', () => {
    const policy = makePolicy(ALL, { accept: ['1.0.0'], rules: { every_variable: everyVariable } });
    const result = run({ policy });
    expect(result).toMatchObject({ status: 'affirming', reasons: [] });
    expect(result.trustVector.configuration).toBe(2);
  });

  it('passes tcb_status through for evidence that has one', () => {
    const policy = makePolicy(ALL, { accept: ['2.0.0'], rules: { tcb: 'tcb_status == "UpToDate" && claims.tcb.snp >= 8' } });
    expect(run({ policy, claims: snpClaims() }).status).toBe('affirming');
  });

  it('reports every false rule as rule-failed:<name>', () => {
    const policy = makePolicy(ALL, { accept: ['1.0.0'], rules: { min_svn: 'svn >= 2', sim_only: 'tee == "sim"', no_sim: 'tee != "sim"' } });
    const result = run({ policy });
    expect(result.status).toBe('contraindicated');
    expect(codes(result)).toEqual(['rule-failed:min_svn', 'rule-failed:no_sim']);
    expect(result.reasons[0]?.message).toBe('rule min_svn is false: svn >= 2');
    expect(result.trustVector.configuration).toBe(96);
  });

  it('reports an evaluation error as rule-error:<name>, failing closed', () => {
    const policy = makePolicy(ALL, { accept: ['1.0.0'], rules: { needs_chip: 'claims.details.chipId == "x"' } });
    const result = run({ policy });
    expect(codes(result)).toEqual(['rule-error:needs_chip']);
    expect(result.reasons[0]?.message).toMatch(/^rule needs_chip could not be evaluated: /);
  });

  it('reports a stored rule that no longer compiles as rule-error, without throwing', () => {
    const policy = alterPolicy(BASE, { rules: { broken: 'svn >= ' } });
    const result = run({ policy });
    expect(codes(result)).toEqual(['rule-error:broken']);
    expect(result.reasons[0]?.message).toMatch(/does not compile: .*syntax error/);
  });

  it('does not evaluate rules when no release matched', () => {
    let calls = 0;
    const compiledRules = { policyId: BASE.id, rules: [{ name: 'spy', evaluate: () => ((calls += 1), { ok: true as const, value: false }) }] };
    const result = run({ compiledRules, claims: simClaims({ measurements: [digest(sha256Of('nope'))] }) });
    expect(calls).toBe(0);
    expect(codes(result)).toEqual(['no-matching-release']);
  });

  it('uses the compiled rules it is given, and survives an evaluator that throws', () => {
    const compiledRules = {
      policyId: BASE.id,
      rules: [
        { name: 'fine', evaluate: () => ({ ok: true as const, value: true }) },
        {
          name: 'wild',
          evaluate: () => {
            throw new Error('boom');
          },
        },
      ],
    };
    const result = run({ compiledRules });
    expect(codes(result)).toEqual(['rule-error:wild']);
    expect(result.reasons[0]?.message).toBe('rule wild could not be evaluated: boom');
  });

  it('ignores compiled rules of another policy version and compiles the right ones', () => {
    const strict = makePolicy(ALL, { accept: ['1.0.0'], rules: { never: 'tee == "tdx"' } });
    const result = run({ policy: strict, compiledRules: compilePolicyRules(BASE) });
    expect(codes(result)).toEqual(['rule-failed:never']);
  });
});

describe('policy sanity', () => {
  it('refuses a policy of another workload', () => {
    const result = run({ workload: 'payments/other' });
    expect(codes(result)).toEqual(['policy-workload-mismatch']);
    expect(result.status).toBe('contraindicated');
  });

  it('refuses a policy created after now', () => {
    const result = run({ now: new Date(T0.getTime() - 1) });
    expect(codes(result)).toEqual(['policy-not-in-force']);
    expect(run({ now: new Date(Number.NaN) }).status).toBe('contraindicated');
    expect(run({ now: T0 }).status).toBe('affirming');
  });
});

describe('warnings and combinations', () => {
  const revoked = { code: 'release-revoked', message: 'release 1.0.0 is revoked; deadline 2025-03-10T00:00:00.000Z' };

  it('turns caller warnings into a warning when nothing is contraindicated', () => {
    const result = run({ warnings: [revoked] });
    expect(result.status).toBe('warning');
    expect(result.reasons).toEqual([{ ...revoked, severity: 'warning' }]);
    expect(result.trustVector.executables).toBe(32);
  });

  it('keeps warnings, after the contraindications, when something is contraindicated', () => {
    const result = run({ warnings: [revoked], claims: simClaims({ debug: true }) });
    expect(result.status).toBe('contraindicated');
    expect(result.reasons.map((r) => [r.code, r.severity])).toEqual([
      ['debug-forbidden', 'contraindicated'],
      ['release-revoked', 'warning'],
    ]);
  });

  it('lists every problem, in check order', () => {
    const releases = releaseMap(SIM_1_0, SIM_1_1);
    const policy = makePolicy(releases, { accept: ['1.0.0'], floor: 1, requiredTcbStatus: ['UpToDate'], rules: { min_svn: 'svn >= 5', other: 'tee == "sim"' } });
    const claims = simClaims({ securityVersion: 0, debug: true, tcbStatus: 'OutOfDate', config: { crypto: digest(sha256Of('x')) } });
    const result = appraise({ claims, policy, releases, workload: WORKLOAD, now: NOW, warnings: [revoked] });
    expect(result.status).toBe('contraindicated');
    expect(codes(result)).toEqual([
      'below-floor',
      'config-mismatch',
      'config-mismatch',
      'debug-forbidden',
      'tcb-status',
      'rule-failed:min_svn',
      'release-revoked',
    ]);
    expect(result.trustVector).toMatchObject({ configuration: 96, executables: 96, hardware: 96, 'runtime-opaque': 96 });
  });

  it('combines no match with the checks that do not need a release', () => {
    const claims = snpClaims({ product: 'other', debug: true, tcbStatus: 'OutOfDate' });
    expect(codes(run({ claims }))).toEqual(['no-matching-release', 'debug-forbidden', 'tcb-status']);
  });
});

describe('trust vector', () => {
  it('has every AR4SI claim, with status tiers matching ear.status', () => {
    const result = run();
    expect(Object.keys(result.trustVector).sort()).toEqual(
      ['configuration', 'executables', 'file-system', 'hardware', 'instance-identity', 'runtime-opaque', 'sourced-data', 'storage-opaque'],
    );
    expect(worstTier(result.trustVector)).toBe('affirming');
    expect(EAR_STATUS[result.status]).toBe(2);
    expect([0, 1, 2, 31, 32, 95, 96, 127, -1].map(tierOf)).toEqual([
      'none',
      'none',
      'affirming',
      'affirming',
      'warning',
      'warning',
      'contraindicated',
      'contraindicated',
      'none',
    ]);
  });
});

describe('PolicyRuleCache', () => {
  it('compiles once per policy version and evicts the least recently used', () => {
    const cache = new PolicyRuleCache(2);
    const p1 = makePolicy(ALL, { accept: ['1.0.0'], rules: { a: 'svn >= 1' } });
    const p2 = makePolicy(ALL, { accept: ['1.0.0'], rules: { b: 'svn >= 2' } });
    const p3 = makePolicy(ALL, { accept: ['1.0.0'], rules: { c: 'svn >= 3' } });
    const first = cache.get(p1);
    expect(cache.get(p1)).toBe(first);
    expect(first.rules.map((r) => r.name)).toEqual(['a']);
    cache.get(p2);
    cache.get(p1);
    cache.get(p3);
    expect(cache.size).toBe(2);
    expect(cache.get(p1)).toBe(first);
    expect(() => new PolicyRuleCache(0)).toThrow(RangeError);
  });
});
