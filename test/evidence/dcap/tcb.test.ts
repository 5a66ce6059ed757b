import { describe, expect, it } from 'vitest';
import { readPckExtensions, type PckExtensions } from '../../../src/evidence/dcap/pck.js';
import { checkQeIdentity, parseQeIdentity, type QeVerdict } from '../../../src/evidence/dcap/qe-identity.js';
import { parseQuote, type Quote } from '../../../src/evidence/dcap/quote.js';
import { parseTdReport, type TdReport } from '../../../src/evidence/dcap/td-report.js';
import { checkTdxModule, evaluateTcb, matchTcbLevels, toTcbStatus, type IntelTcbStatus } from '../../../src/evidence/dcap/tcb.js';
import { parseTcbInfo, type TcbInfo } from '../../../src/evidence/dcap/tcb-info.js';
import { certificatesFromPem } from '../../../src/evidence/x509/certificate.js';
import { expectRefusedSync } from '../refusal.js';
import { collateralDoc, SGX_V3, TDX_V4, TDX_V5_OUTDATED, type Vector } from './fixtures.js';
import { DEFAULT_PCK_TCB, TD, tcbInfoText, tdReport, type LevelSpec, type ModuleIdentitySpec } from './synthetic.js';

/** TCB evaluation alone (pure): Intel's level matching and how QVL folds the QE and TDX module in. */

function real(v: Vector): { quote: Quote; pck: PckExtensions; info: TcbInfo; qe: QeVerdict } {
  const quote = parseQuote(v.quote());
  const leaf = certificatesFromPem(Buffer.from(quote.pckChain).toString('latin1'), 'chain')[0];
  if (leaf === undefined) throw new Error('no PCK');
  const doc = collateralDoc(v);
  const info = parseTcbInfo(JSON.parse(doc.tcb_info ?? ''));
  const qe = checkQeIdentity(parseQeIdentity(JSON.parse(doc.qe_identity ?? '')), quote.qeReport);
  return { quote, pck: readPckExtensions(leaf), info, qe };
}

const td = (q: Quote): TdReport => {
  if (q.body.kind === 'sgx') throw new Error('not a TD');
  return q.body.report;
};

const UP: QeVerdict = { status: 'UpToDate' };
const svn = (...head: number[]): Uint8Array => Uint8Array.from([...head, ...new Array<number>(16 - head.length).fill(0)]);
const info = (levels: LevelSpec[], moduleIdentities?: ModuleIdentitySpec[], id: 'SGX' | 'TDX' = 'TDX'): TcbInfo =>
  parseTcbInfo(JSON.parse(tcbInfoText({ id, levels, ...(moduleIdentities ? { moduleIdentities } : {}) })));
const tdLevel = (tdx: number[], status: string, advisoryIDs?: string[]): LevelSpec => ({
  sgx: DEFAULT_PCK_TCB.components,
  pcesvn: 13,
  tdx: [...tdx, ...new Array<number>(16 - tdx.length).fill(0)],
  status,
  ...(advisoryIDs ? { advisoryIDs } : {}),
});
const pck = { components: DEFAULT_PCK_TCB.components, pceSvn: 13, cpuSvn: new Uint8Array(16) };
/** A TD report with these TEE_TCB_SVN (and, for TD 1.5, TEE_TCB_SVN2), through the real parser. */
const report = (teeTcbSvn: Uint8Array, teeTcbSvn2?: Uint8Array): TdReport =>
  parseTdReport(tdReport({ ...TD, teeTcbSvn, ...(teeTcbSvn2 ? { teeTcbSvn2 } : {}) }, teeTcbSvn2 !== undefined), 'TD report', teeTcbSvn2 !== undefined);

describe('the real vectors', () => {
  it('sgx_quote: the first level needs component 7 ≥ 12 (PCK has 0); the second, ConfigurationAndSWHardeningNeeded, matches', () => {
    const { pck: ext, info: tcbInfo, qe } = real(SGX_V3);
    expect(ext.tcb.components[6]).toBe(0);
    expect(tcbInfo.tcbLevels[0]?.sgxComponents[6]).toBe(12);
    const { sgx } = matchTcbLevels(tcbInfo.tcbLevels, ext.tcb);
    expect(sgx).toBe(tcbInfo.tcbLevels[1]);
    const result = evaluateTcb(tcbInfo, ext.tcb, qe);
    expect(result).toMatchObject({ status: 'ConfigurationAndSWHardeningNeeded', advisoryIds: ['INTEL-SA-00289', 'INTEL-SA-00615'] });
    expect(qe.status).toBe('UpToDate');
  });

  it('tdx_quote: the first level matches, TEE_TCB_SVN compared from byte 2 (module major version 1)', () => {
    const { quote, pck: ext, info: tcbInfo, qe } = real(TDX_V4);
    const r = td(quote);
    expect(matchTcbLevels(tcbInfo.tcbLevels, ext.tcb, r.teeTcbSvn).tdx).toBe(tcbInfo.tcbLevels[0]);
    expect(checkTdxModule(tcbInfo, r, 4)).toMatchObject({ id: 'TDX_01', status: 'UpToDate' });
    expect(evaluateTcb(tcbInfo, ext.tcb, qe, { report: r, quoteVersion: 4 })).toMatchObject({ status: 'UpToDate', advisoryIds: [] });
  });

  it('tdx_quote_outdated: no level matches the platform, while the QE and the TDX module TDX_01 are UpToDate on their own', () => {
    const { quote, pck: ext, info: tcbInfo, qe } = real(TDX_V5_OUTDATED);
    const r = td(quote);
    expect(ext.tcb.components[7]).toBe(3);
    expect(tcbInfo.tcbLevels.every((l) => (l.sgxComponents[7] ?? 0) >= 5)).toBe(true);
    expect(matchTcbLevels(tcbInfo.tcbLevels, ext.tcb, r.teeTcbSvn)).toEqual({});
    expect(qe.status).toBe('UpToDate');
    expect(checkTdxModule(tcbInfo, r, 5)).toMatchObject({ id: 'TDX_01', status: 'UpToDate' });
    expectRefusedSync(() => evaluateTcb(tcbInfo, ext.tcb, qe, { report: r, quoteVersion: 5 }), 'endorsement-mismatch', /TCB not supported/);
  });
});

describe('matchTcbLevels', () => {
  const levels = info([tdLevel([5, 0, 3], 'UpToDate'), tdLevel([5, 0, 2], 'OutOfDate'), tdLevel([0, 0, 0], 'OutOfDate')]).tcbLevels;

  it('skips TEE_TCB_SVN bytes 0 and 1 when the module major version is not zero', () => {
    expect(matchTcbLevels(levels, pck, svn(1, 1, 3)).tdx).toBe(levels[0]);
    expect(matchTcbLevels(levels, pck, svn(1, 1, 2)).tdx).toBe(levels[1]);
  });

  it('compares them when it is zero', () => {
    expect(matchTcbLevels(levels, pck, svn(5, 0, 3)).tdx).toBe(levels[0]);
    expect(matchTcbLevels(levels, pck, svn(4, 0, 3)).tdx).toBe(levels[2]);
  });

  it('keeps the first SGX match even when a later level is the TDX one', () => {
    const result = matchTcbLevels(levels, pck, svn(1, 1, 2));
    expect(result.sgx).toBe(levels[0]);
  });

  it('one component below, or PCESVN below, skips a level', () => {
    const sgxLevels = info(
      [
        { sgx: pck.components.map((c, i) => (i === 15 ? c + 1 : c)), pcesvn: 13, status: 'UpToDate' },
        { sgx: pck.components, pcesvn: 14, status: 'UpToDate' },
        { sgx: pck.components, pcesvn: 13, status: 'SWHardeningNeeded' },
      ],
      undefined,
      'SGX',
    ).tcbLevels;
    expect(matchTcbLevels(sgxLevels, pck).sgx).toBe(sgxLevels[2]);
    expect(matchTcbLevels(sgxLevels, { ...pck, pceSvn: 12 })).toEqual({});
  });
});

describe('folding in the QE and the TDX module (QVL convergeTcbStatus)', () => {
  const sgxInfo = (status: string): TcbInfo => info([{ sgx: pck.components, pcesvn: 13, status }], undefined, 'SGX');

  it.each([
    ['UpToDate', 'OutOfDate'],
    ['SWHardeningNeeded', 'OutOfDate'],
    ['ConfigurationNeeded', 'OutOfDateConfigurationNeeded'],
    ['ConfigurationAndSWHardeningNeeded', 'OutOfDateConfigurationNeeded'],
    ['OutOfDate', 'OutOfDate'],
    ['OutOfDateConfigurationNeeded', 'OutOfDateConfigurationNeeded'],
  ])('platform %s with an OutOfDate QE is %s', (platform, expected) => {
    expect(evaluateTcb(sgxInfo(platform), pck, { status: 'OutOfDate' }).status).toBe(expected);
  });

  it('a revoked QE or platform level is refused; a QE below every level too', () => {
    expectRefusedSync(() => evaluateTcb(sgxInfo('UpToDate'), pck, { status: 'Revoked' }), 'revoked', /QE/);
    expectRefusedSync(() => evaluateTcb(sgxInfo('Revoked'), pck, UP), 'revoked', /platform/);
    expectRefusedSync(() => evaluateTcb(sgxInfo('UpToDate'), pck, { status: 'NotSupported' }), 'endorsement-mismatch', /QE's ISVSVN/);
  });

  it.each([
    ['UpToDate', 'OutOfDate', 'OutOfDate'],
    ['ConfigurationNeeded', 'OutOfDate', 'OutOfDateConfigurationNeeded'],
    ['SWHardeningNeeded', 'UpToDate', 'SWHardeningNeeded'],
  ])('TDX level %s with a %s module is %s', (level, module, expected) => {
    const tcbInfo = info([tdLevel([5, 0, 2], level)], [{ id: 'TDX_01', levels: [{ isvsvn: 9, status: 'UpToDate' }, { isvsvn: 1, status: module }] }]);
    const status = evaluateTcb(tcbInfo, pck, UP, { report: report(svn(module === 'UpToDate' ? 9 : 2, 1, 2)), quoteVersion: 4 }).status;
    expect(status).toBe(expected);
  });

  it('collects the advisories of the deciding level, the module level and the QE level, each once', () => {
    const tcbInfo = info([tdLevel([5, 0, 2], 'UpToDate', ['SA-1', 'SA-2'])], [{ id: 'TDX_01', levels: [{ isvsvn: 1, status: 'OutOfDate', advisoryIDs: ['SA-2', 'SA-3'] }] }]);
    const qe: QeVerdict = { status: 'OutOfDate', level: { isvSvn: 1, tcbDate: '', tcbStatus: 'OutOfDate', advisoryIds: ['SA-4', 'SA-1'] } };
    expect(evaluateTcb(tcbInfo, pck, qe, { report: report(svn(1, 1, 2)), quoteVersion: 4 }).advisoryIds).toEqual(['SA-1', 'SA-2', 'SA-3', 'SA-4']);
  });

  it('a module SVN below every level of its identity is refused', () => {
    const tcbInfo = info([tdLevel([5, 0, 2], 'UpToDate')], [{ id: 'TDX_01', levels: [{ isvsvn: 4, status: 'UpToDate' }] }]);
    expectRefusedSync(() => evaluateTcb(tcbInfo, pck, UP, { report: report(svn(3, 1, 2)), quoteVersion: 4 }), 'endorsement-mismatch', /TDX_01 SVN 3/);
  });
});

describe('TD relaunch (TD 1.5)', () => {
  const tcbInfo = info(
    [tdLevel([5, 0, 3], 'UpToDate'), tdLevel([5, 0, 2], 'OutOfDate')],
    [{ id: 'TDX_01', levels: [{ isvsvn: 6, status: 'UpToDate' }, { isvsvn: 4, status: 'OutOfDate' }] }],
  );
  const evaluate = (svn1: Uint8Array, svn2: Uint8Array, qe: QeVerdict = UP): IntelTcbStatus =>
    evaluateTcb(tcbInfo, pck, qe, { report: report(svn1, svn2), quoteVersion: 5 }).status;

  it('is advised when TEE_TCB_SVN2 reaches the latest module and TDX levels', () => {
    expect(evaluate(svn(4, 1, 2), svn(6, 1, 3))).toBe('TDRelaunchAdvised');
  });

  it('is not when the update did not reach them, or the QE is out of date', () => {
    expect(evaluate(svn(4, 1, 2), svn(5, 1, 3))).toBe('OutOfDate');
    expect(evaluate(svn(4, 1, 2), svn(6, 1, 2))).toBe('OutOfDate');
    expect(evaluate(svn(4, 1, 2), svn(6, 1, 3), { status: 'OutOfDate' })).toBe('OutOfDate');
  });

  it('with module major version 0 in TEE_TCB_SVN2, compares its SVN with the latest level', () => {
    expect(evaluate(svn(4, 1, 2), svn(5, 0, 3))).toBe('TDRelaunchAdvised');
    expect(evaluate(svn(4, 1, 2), svn(4, 0, 3))).toBe('OutOfDate');
  });

  it('keeps configuration needed in the advice', () => {
    const config = info(
      [tdLevel([5, 0, 3], 'UpToDate'), tdLevel([5, 0, 2], 'OutOfDateConfigurationNeeded')],
      [{ id: 'TDX_01', levels: [{ isvsvn: 6, status: 'UpToDate' }, { isvsvn: 4, status: 'OutOfDate' }] }],
    );
    expect(evaluateTcb(config, pck, UP, { report: report(svn(4, 1, 2), svn(6, 1, 3)), quoteVersion: 5 }).status).toBe('TDRelaunchAdvisedConfigurationNeeded');
  });
});

describe('toTcbStatus', () => {
  it.each([
    ['UpToDate', 'UpToDate'],
    ['SWHardeningNeeded', 'SWHardeningNeeded'],
    ['ConfigurationNeeded', 'ConfigurationNeeded'],
    ['ConfigurationAndSWHardeningNeeded', 'ConfigurationAndSWHardeningNeeded'],
    ['OutOfDate', 'OutOfDate'],
    ['OutOfDateConfigurationNeeded', 'OutOfDate'],
    ['TDRelaunchAdvised', 'OutOfDate'],
    ['TDRelaunchAdvisedConfigurationNeeded', 'OutOfDate'],
  ] as const)('maps Intel %s to %s', (intel, ours) => {
    expect(toTcbStatus(intel)).toBe(ours);
  });

  it('refuses Revoked', () => {
    expectRefusedSync(() => toTcbStatus('Revoked'), 'revoked');
  });
});
