import { createHash } from 'node:crypto';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { sgxPlugin, tdxPlugin, trustedPlatforms } from '../../../src/evidence/dcap/index.js';
import type { VerifyContext } from '../../../src/evidence/plugin.js';
import { toPem } from '../../../src/evidence/x509/pem.js';
import { expectRefused } from '../refusal.js';
import { issue, issueLeafWith } from '../x509/pki.js';
import {
  ATTESTATION_KEY,
  buildQuote,
  collateralV3,
  DEFAULT_PCK_TCB,
  makePki,
  NOW,
  qeIdentityText,
  sgxExtensionDer,
  sgxLevels,
  signText,
  tcbInfoText,
  tdxLevels,
  VALIDITY,
  world,
  type Pki,
} from './synthetic.js';

/**
 * What the real vectors cannot show, with a throwaway PKI: revocation, every TCB status
 * and how Intel folds the QE and TDX module into it, identity mismatches, the quote
 * versions and body types the vectors do not cover, and collateral forged by a platform.
 */

type World = Awaited<ReturnType<typeof world>>;
let sgx: World;
let tdx: World;

beforeAll(async () => {
  sgx = await world('sgx');
  tdx = await world('tdx');
});

beforeEach(() => trustedPlatforms.clear());

const ctx = (w: World, collateral: Uint8Array = w.collateral(), now = NOW): VerifyContext => ({ now, collateral: [collateral], trustAnchors: [w.pki.root.der] });
const sgxCollateral = (w: World, tcbInfo: string, qeIdentity = qeIdentityText()): Uint8Array => collateralV3(w.pki, { tcbInfo, qeIdentity });
const tdxCollateral = (w: World, tcbInfo: string, qeIdentity = qeIdentityText({ id: 'TD_QE' })): Uint8Array => collateralV3(w.pki, { tcbInfo, qeIdentity });

describe('revocation', () => {
  it("a PCK on the PCK CA's CRL is 'revoked'", async () => {
    const w = await world('sgx', { revokePck: true });
    await expectRefused(sgxPlugin.verify(w.quote(), ctx(w)), 'revoked', /the PCK certificate \(serial [0-9a-f]+\) is revoked/);
  });

  it("a PCK CA on the root CA's CRL is 'revoked'", async () => {
    const w = await world('tdx', { revokePckCa: true });
    await expectRefused(tdxPlugin.verify(w.quote(), ctx(w)), 'revoked', /Intel SGX PCK Platform CA.*is revoked/);
  });

  it("a stale CRL is 'expired', a CRL signed by another key 'chain'", async () => {
    const stale = await world('sgx', { crlWindow: { thisUpdate: new Date('2025-04-01T00:00:00Z'), nextUpdate: new Date('2025-05-01T00:00:00Z') } });
    await expectRefused(sgxPlugin.verify(stale.quote(), ctx(stale)), 'expired', /CRL/);
    // Same issuer name (both copy Intel's), another key.
    const other = await makePki();
    await expectRefused(
      sgxPlugin.verify(sgx.quote(), ctx(sgx, collateralV3(sgx.pki, { tcbInfo: tcbInfoText({ levels: sgxLevels() }), qeIdentity: qeIdentityText(), pckCrl: other.pckCrl }))),
      'chain',
      /CRL.*signature does not verify/,
    );
  });

  it("a Revoked TCB level is 'revoked', naming its advisories", async () => {
    const collateral = sgxCollateral(sgx, tcbInfoText({ levels: sgxLevels('Revoked', ['INTEL-SA-00001']) }));
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, collateral)), 'revoked', /platform's TCB level.*INTEL-SA-00001/);
  });

  it("a Revoked QE TCB level is 'revoked'", async () => {
    const collateral = sgxCollateral(sgx, tcbInfoText({ levels: sgxLevels() }), qeIdentityText({ levels: [{ isvsvn: 8, status: 'Revoked' }] }));
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, collateral)), 'revoked', /QE's TCB level/);
  });
});

describe('TCB statuses, end to end', () => {
  it.each([
    ['UpToDate', 'UpToDate'],
    ['SWHardeningNeeded', 'SWHardeningNeeded'],
    ['ConfigurationNeeded', 'ConfigurationNeeded'],
    ['ConfigurationAndSWHardeningNeeded', 'ConfigurationAndSWHardeningNeeded'],
    ['OutOfDate', 'OutOfDate'],
    ['OutOfDateConfigurationNeeded', 'OutOfDate'],
  ] as const)('Intel %s is tcbStatus %s, Intel status and advisories kept in details', async (intel, ours) => {
    const collateral = sgxCollateral(sgx, tcbInfoText({ levels: sgxLevels(intel, ['INTEL-SA-00999']) }));
    const claims = await sgxPlugin.verify(sgx.quote(), ctx(sgx, collateral));
    expect(claims.tcbStatus).toBe(ours);
    expect(claims.details).toMatchObject({ intelTcbStatus: intel, advisoryIds: ['INTEL-SA-00999'] });
  });

  it("an unknown status is 'unsupported', by name", async () => {
    const collateral = sgxCollateral(sgx, tcbInfoText({ levels: sgxLevels('Splendid') }));
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, collateral)), 'unsupported', /"Splendid"/);
  });

  it('the first level the platform reaches decides, in document order', async () => {
    const levels = [
      { sgx: DEFAULT_PCK_TCB.components.map((c, i) => (i === 7 ? c + 1 : c)), pcesvn: 13, status: 'UpToDate' },
      { sgx: DEFAULT_PCK_TCB.components, pcesvn: 14, status: 'UpToDate' },
      { sgx: DEFAULT_PCK_TCB.components, pcesvn: 13, status: 'SWHardeningNeeded', advisoryIDs: ['INTEL-SA-00615'] },
      { sgx: DEFAULT_PCK_TCB.components, pcesvn: 5, status: 'OutOfDate' },
    ];
    const claims = await sgxPlugin.verify(sgx.quote(), ctx(sgx, sgxCollateral(sgx, tcbInfoText({ levels }))));
    expect(claims.details).toMatchObject({ intelTcbStatus: 'SWHardeningNeeded', advisoryIds: ['INTEL-SA-00615'] });
  });

  it("a platform below every level is refused: Intel's 'TCB not supported'", async () => {
    const levels = [{ sgx: DEFAULT_PCK_TCB.components.map((c) => c + 1), pcesvn: 13, status: 'UpToDate' }];
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, sgxCollateral(sgx, tcbInfoText({ levels })))), 'endorsement-mismatch', /TCB not supported/);
  });

  it('an out-of-date QE turns UpToDate into OutOfDate and ConfigurationNeeded into OutOfDateConfigurationNeeded', async () => {
    const qe = qeIdentityText({ levels: [{ isvsvn: 9, status: 'UpToDate' }, { isvsvn: 6, status: 'OutOfDate', advisoryIDs: ['INTEL-SA-00615'] }] });
    const up = await sgxPlugin.verify(sgx.quote(), ctx(sgx, sgxCollateral(sgx, tcbInfoText({ levels: sgxLevels('UpToDate', ['INTEL-SA-00001']) }), qe)));
    expect(up.tcbStatus).toBe('OutOfDate');
    expect(up.details).toMatchObject({ intelTcbStatus: 'OutOfDate', advisoryIds: ['INTEL-SA-00001', 'INTEL-SA-00615'], qeIdentity: { status: 'OutOfDate', isvSvn: 8 } });
    const config = await sgxPlugin.verify(sgx.quote(), ctx(sgx, sgxCollateral(sgx, tcbInfoText({ levels: sgxLevels('ConfigurationNeeded') }), qe)));
    expect(config.details).toMatchObject({ intelTcbStatus: 'OutOfDateConfigurationNeeded' });
    expect(config.tcbStatus).toBe('OutOfDate');
  });

  it("a QE below every level of its identity is refused ('endorsement-mismatch')", async () => {
    const qe = qeIdentityText({ levels: [{ isvsvn: 9, status: 'UpToDate' }] });
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, sgxCollateral(sgx, tcbInfoText({ levels: sgxLevels() }), qe))), 'endorsement-mismatch', /QE's ISVSVN/);
  });
});

describe('QE identity', () => {
  it.each([
    ['MRSIGNER', { mrSigner: new Uint8Array(32).fill(1) }],
    ['ISVPRODID', { isvProdId: 3 }],
    ['ATTRIBUTES', { attributes: Uint8Array.from([0x13, ...new Array<number>(15).fill(0)]) }],
    ['MISCSELECT', { miscSelect: Uint8Array.from([1, 0, 0, 0]) }],
  ] as const)("a QE report with another %s is 'endorsement-mismatch'", async (field, qe) => {
    await expectRefused(sgxPlugin.verify(sgx.quote({ qe }), ctx(sgx)), 'endorsement-mismatch', new RegExp(field));
  });

  it('attribute bits outside the mask do not matter', async () => {
    // Byte 0 bit 2 is masked out (FB), and bytes 8.. are not compared (mask 00).
    const attributes = Uint8Array.from([0x15, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 0, 0, 0, 0]);
    await expect(sgxPlugin.verify(sgx.quote({ qe: { attributes } }), ctx(sgx))).resolves.toMatchObject({ tcbStatus: 'UpToDate' });
  });

  it("a QE report whose REPORTDATA upper half is not zero does not certify the key ('signature')", async () => {
    // The right hash, then one non-zero byte.
    const binding = createHash('sha256').update(ATTESTATION_KEY).update(new Uint8Array(32).fill(0x0a)).digest();
    const reportData = new Uint8Array(64);
    reportData.set(binding);
    reportData[40] = 1;
    await expectRefused(sgxPlugin.verify(sgx.quote({ qe: { reportData } }), ctx(sgx)), 'signature', /does not certify/);
  });

  it("a TDX quote needs the TD_QE identity, an SGX quote the QE one ('endorsement-mismatch')", async () => {
    await expectRefused(
      tdxPlugin.verify(tdx.quote(), ctx(tdx, tdxCollateral(tdx, tcbInfoText({ id: 'TDX', levels: tdxLevels() }), qeIdentityText({ id: 'QE' })))),
      'endorsement-mismatch',
      /needs TD_QE/,
    );
  });
});

describe('the TCB info must be for this platform', () => {
  it("another FMSPC is 'endorsement-mismatch'", async () => {
    const collateral = sgxCollateral(sgx, tcbInfoText({ fmspc: '00906ed50001', levels: sgxLevels() }));
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, collateral)), 'endorsement-mismatch', /FMSPC 00906ed50001/);
  });

  it("another PCE-ID is 'endorsement-mismatch'", async () => {
    const collateral = sgxCollateral(sgx, tcbInfoText({ pceId: '0001', levels: sgxLevels() }));
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, collateral)), 'endorsement-mismatch', /PCE-ID 0001/);
  });

  it('among several TCB infos, the one for this FMSPC and TEE is taken', async () => {
    const other = sgxCollateral(sgx, tcbInfoText({ fmspc: '00906ed50001', levels: sgxLevels('OutOfDate') }));
    const mine = sgxCollateral(sgx, tcbInfoText({ levels: sgxLevels('SWHardeningNeeded') }));
    const claims = await sgxPlugin.verify(sgx.quote(), { now: NOW, collateral: [other, mine], trustAnchors: [sgx.pki.root.der] });
    expect(claims.tcbStatus).toBe('SWHardeningNeeded');
  });

  it("TCB info version 2 and QE identity version 1 are 'unsupported', by name", async () => {
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, sgxCollateral(sgx, tcbInfoText({ version: 2, levels: sgxLevels() })))), 'unsupported', /TCB info version 2/);
    const v1 = qeIdentityText().replace('"version":2', '"version":1');
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, sgxCollateral(sgx, tcbInfoText({ levels: sgxLevels() }), v1))), 'unsupported', /QE identity version 1/);
  });

  it("collateral outside its issueDate..nextUpdate is 'expired'", async () => {
    const collateral = sgxCollateral(sgx, tcbInfoText({ levels: sgxLevels(), issueDate: '2025-06-02T00:00:00Z', nextUpdate: '2025-07-01T00:00:00Z' }));
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, collateral)), 'expired', /TCB info is valid 2025-06-02/);
  });
});

describe('who may sign the TCB info', () => {
  const tcbInfo = (): string => tcbInfoText({ levels: sgxLevels() });

  function forged(pki: Pki, signer: { der: Uint8Array; keys: Pki['tcbSigning']['keys'] }, chain: string): Uint8Array {
    const fake: Pki = { ...pki, tcbSigning: { ...pki.tcbSigning, keys: signer.keys } };
    const doc = JSON.parse(Buffer.from(collateralV3(pki, { tcbInfo: tcbInfo(), qeIdentity: qeIdentityText() })).toString()) as Record<string, string>;
    doc.tcb_info_issuer_chain = chain;
    doc.qe_identity_issuer_chain = chain;
    doc.tcb_info_signature = signText(fake, doc.tcb_info ?? '');
    doc.qe_identity_signature = signText(fake, doc.qe_identity ?? '');
    return new TextEncoder().encode(JSON.stringify(doc));
  }

  it('not a PCK certificate: a platform cannot endorse its own TCB with its PCK key', async () => {
    const { pki } = sgx;
    const collateral = forged(pki, pki.pck, toPem(pki.pck.der) + toPem(pki.pckCa.der) + toPem(pki.root.der));
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, collateral)), 'missing-collateral', /no TCB signing certificate/);
  });

  it('not a certificate one level down, even without the SGX extension', async () => {
    const { pki } = sgx;
    const underCa = await issue(pki.pckCa, 'CN=Intel SGX TCB Signing, O=Intel Corporation, L=Santa Clara, ST=CA, C=US', VALIDITY);
    const collateral = forged(pki, underCa, toPem(underCa.der) + toPem(pki.pckCa.der) + toPem(pki.root.der));
    await expectRefused(sgxPlugin.verify(sgx.quote(), ctx(sgx, collateral)), 'chain', /TCB info signing certificate/);
  });

  it('a certificate the root issued directly does', async () => {
    const { pki } = sgx;
    const direct = await issue(pki.root, 'CN=Another TCB Signer', VALIDITY);
    const collateral = forged(pki, direct, toPem(direct.der) + toPem(pki.root.der));
    await expect(sgxPlugin.verify(sgx.quote(), ctx(sgx, collateral))).resolves.toMatchObject({ tcbStatus: 'UpToDate' });
  });
});

describe('PCK certificate', () => {
  it("without the SGX extension it is 'malformed'", async () => {
    const pki = await makePki();
    const bare = await issueLeafWith(pki.pckCa, 'CN=Intel SGX PCK Certificate', VALIDITY, []);
    const w = { ...pki, pck: bare };
    const quote = buildQuote(w, {});
    await expectRefused(
      sgxPlugin.verify(quote, { now: NOW, collateral: [collateralV3(w, { tcbInfo: tcbInfoText({ levels: sgxLevels() }), qeIdentity: qeIdentityText() })], trustAnchors: [pki.root.der] }),
      'malformed',
      /no SGX extension/,
    );
  });

  it("outside its validity it is 'expired'", async () => {
    const w = await world('sgx', { pckValidity: { notBefore: new Date('2025-06-01T00:00:01Z'), notAfter: VALIDITY.notAfter } });
    await expectRefused(sgxPlugin.verify(w.quote(), ctx(w)), 'expired', /Intel SGX PCK Certificate/);
  });

  it('its component SVNs, not the report CPUSVN, are compared (255 parses as 255)', async () => {
    const tcb = { components: [11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], pceSvn: 13 };
    const w = await world('sgx', { tcb });
    const collateral = sgxCollateral(w, tcbInfoText({ levels: [{ sgx: tcb.components, pcesvn: 13, status: 'UpToDate' }] }));
    const claims = await sgxPlugin.verify(w.quote(), ctx(w, collateral));
    expect(claims.tcb).toMatchObject({ sgxtcbcomp05: 255, pcesvn: 13 });
    expect(sgxExtensionDer(tcb).length).toBeGreaterThan(0);
  });
});

describe('SGX quote versions and claims', () => {
  it.each([3, 4, 5] as const)('quote v%i with an SGX body verifies', async (version) => {
    const claims = await sgxPlugin.verify(sgx.quote({ version }), ctx(sgx));
    expect(claims).toMatchObject({ teeClass: 'sgx', measurements: [{ alg: 'sha256', hex: 'aa'.repeat(32) }], signer: 'bb'.repeat(32), product: '7', securityVersion: 3 });
    expect(claims.details.quoteVersion).toBe(version);
  });

  it('claims DEBUG from ATTRIBUTES bit 1 and a non-zero CONFIGID', async () => {
    const attributes = Uint8Array.from([0x07, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0]);
    const configId = new Uint8Array(64).fill(0xcc);
    const claims = await sgxPlugin.verify(sgx.quote({ enclave: { attributes, configId, configSvn: 2 } }), ctx(sgx));
    expect(claims.debug).toBe(true);
    expect(claims.config).toEqual({ configId: { alg: 'sha512', hex: 'cc'.repeat(64) } });
    expect(claims.details.configSvn).toBe(2);
  });
});

describe('TDX quote versions, module and claims', () => {
  it.each([
    [4, undefined],
    [5, 2],
    [5, 3],
  ] as const)('quote v%i (body type %s) verifies', async (version, bodyType) => {
    const claims = await tdxPlugin.verify(tdx.quote({ version, ...(bodyType ? { bodyType } : {}) }), ctx(tdx));
    expect(claims).toMatchObject({ teeClass: 'tdx', measurements: [{ alg: 'sha384', hex: '91'.repeat(48) }], tcbStatus: 'UpToDate' });
    expect(claims.details.teeTcbSvn2 !== undefined).toBe(bodyType === 3);
  });

  it('claims DEBUG from TDATTRIBUTES bit 0 and the non-zero MRCONFIGID, MROWNER, MROWNERCONFIG', async () => {
    const td = { tdAttributes: Uint8Array.from([1, 0, 0, 0x10, 0, 0, 0, 0]), mrConfigId: new Uint8Array(48).fill(1), mrOwner: new Uint8Array(48).fill(2), mrOwnerConfig: new Uint8Array(48).fill(3) };
    const claims = await tdxPlugin.verify(tdx.quote({ td }), ctx(tdx));
    expect(claims.debug).toBe(true);
    expect(Object.keys(claims.config).sort()).toEqual(['mrConfigId', 'mrOwner', 'mrOwnerConfig', 'rtmr0', 'rtmr1', 'rtmr2', 'rtmr3']);
    expect(claims.config.mrOwner).toEqual({ alg: 'sha384', hex: '02'.repeat(48) });
  });

  it("another MRSIGNERSEAM, or non-zero SEAMATTRIBUTES, is 'endorsement-mismatch'", async () => {
    await expectRefused(tdxPlugin.verify(tdx.quote({ td: { mrSignerSeam: new Uint8Array(48).fill(1) } }), ctx(tdx)), 'endorsement-mismatch', /MRSIGNERSEAM/);
    await expectRefused(tdxPlugin.verify(tdx.quote({ td: { seamAttributes: Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0]) } }), ctx(tdx)), 'endorsement-mismatch', /SEAMATTRIBUTES/);
  });

  it("a module major version without an identity is 'endorsement-mismatch'", async () => {
    const teeTcbSvn = Uint8Array.from([6, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    await expectRefused(tdxPlugin.verify(tdx.quote({ td: { teeTcbSvn } }), ctx(tdx)), 'endorsement-mismatch', /no TDX module identity TDX_02/);
  });

  it('major version 0 is judged by tdxModule, with TEE_TCB_SVN compared from byte 0', async () => {
    const teeTcbSvn = Uint8Array.from([5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const claims = await tdxPlugin.verify(tdx.quote({ td: { teeTcbSvn } }), ctx(tdx));
    expect(claims.details.tdxModule).toMatchObject({ id: null, status: 'UpToDate' });
    const low = Uint8Array.from([4, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    await expectRefused(tdxPlugin.verify(tdx.quote({ td: { teeTcbSvn: low } }), ctx(tdx)), 'endorsement-mismatch', /TEE_TCB_SVN 04000200/);
    const signed = tdxCollateral(tdx, tcbInfoText({ id: 'TDX', levels: tdxLevels(), tdxModuleMrSigner: 'ab'.repeat(48) }));
    await expectRefused(tdxPlugin.verify(tdx.quote({ td: { teeTcbSvn } }), ctx(tdx, signed)), 'endorsement-mismatch', /tdxModule/);
  });

  it('an out-of-date module makes the TD OutOfDate; a revoked one is refused', async () => {
    const moduleIdentities = [{ id: 'TDX_01', levels: [{ isvsvn: 7, status: 'UpToDate' }, { isvsvn: 4, status: 'OutOfDate', advisoryIDs: ['INTEL-SA-01036'] }] }];
    const claims = await tdxPlugin.verify(tdx.quote(), ctx(tdx, tdxCollateral(tdx, tcbInfoText({ id: 'TDX', levels: tdxLevels(), moduleIdentities }))));
    expect(claims.tcbStatus).toBe('OutOfDate');
    expect(claims.details).toMatchObject({ intelTcbStatus: 'OutOfDate', advisoryIds: ['INTEL-SA-01036'], tdxModule: { id: 'TDX_01', status: 'OutOfDate' } });
    const revoked = [{ id: 'TDX_01', levels: [{ isvsvn: 4, status: 'Revoked' }] }];
    await expectRefused(tdxPlugin.verify(tdx.quote(), ctx(tdx, tdxCollateral(tdx, tcbInfoText({ id: 'TDX', levels: tdxLevels(), moduleIdentities: revoked })))), 'revoked', /TDX module/);
  });

  it('TD 1.5: an OutOfDate TD on an updated platform is TDRelaunchAdvised (OutOfDate here)', async () => {
    const moduleIdentities = [{ id: 'TDX_01', levels: [{ isvsvn: 6, status: 'UpToDate' }, { isvsvn: 4, status: 'OutOfDate' }] }];
    const levels = [
      { sgx: DEFAULT_PCK_TCB.components, pcesvn: 13, tdx: [5, 0, 3, ...new Array<number>(13).fill(0)], status: 'UpToDate' },
      { sgx: DEFAULT_PCK_TCB.components, pcesvn: 13, tdx: [5, 0, 2, ...new Array<number>(13).fill(0)], status: 'OutOfDate' },
    ];
    const collateral = tdxCollateral(tdx, tcbInfoText({ id: 'TDX', levels, moduleIdentities }));
    const launched = Uint8Array.from([4, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const updated = Uint8Array.from([6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const relaunch = await tdxPlugin.verify(tdx.quote({ version: 5, td: { teeTcbSvn: launched, teeTcbSvn2: updated } }), ctx(tdx, collateral));
    expect(relaunch.details.intelTcbStatus).toBe('TDRelaunchAdvised');
    expect(relaunch.tcbStatus).toBe('OutOfDate');
    const stale = await tdxPlugin.verify(tdx.quote({ version: 5, td: { teeTcbSvn: launched, teeTcbSvn2: launched } }), ctx(tdx, collateral));
    expect(stale.details.intelTcbStatus).toBe('OutOfDate');
    const td10 = await tdxPlugin.verify(tdx.quote({ version: 5, bodyType: 2, td: { teeTcbSvn: launched } }), ctx(tdx, collateral));
    expect(td10.details.intelTcbStatus).toBe('OutOfDate');
  });

  it('a TDX TCB info without tdxtcbcomponents is malformed', async () => {
    const text = tcbInfoText({ id: 'TDX', levels: sgxLevels() });
    await expectRefused(tdxPlugin.verify(tdx.quote(), ctx(tdx, tdxCollateral(tdx, text))), 'malformed', /tdxtcbcomponents/);
  });
});
