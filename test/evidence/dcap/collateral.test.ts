import { describe, expect, it } from 'vitest';
import { readCollateral, MAX_COLLATERAL_ITEMS } from '../../../src/evidence/dcap/collateral.js';
import { topLevelMembers } from '../../../src/evidence/dcap/json-member.js';
import { checkQeIdentity, parseQeIdentity } from '../../../src/evidence/dcap/qe-identity.js';
import { parseEnclaveReport } from '../../../src/evidence/dcap/enclave-report.js';
import { parseTcbInfo } from '../../../src/evidence/dcap/tcb-info.js';
import { toPem } from '../../../src/evidence/x509/pem.js';
import { expectRefusedSync } from '../refusal.js';
import { collateralDoc, encodeDoc, SGX_V3, TDX_V4 } from './fixtures.js';
import { ENCLAVE, enclaveReport, qeIdentityText, QE_MRSIGNER, sgxLevels, tcbInfoText } from './synthetic.js';

/** Recognising collateral by content, and reading Intel's signed documents field by field. */

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

describe('readCollateral: dcap-qvl QuoteCollateralV3', () => {
  it('takes tcb_info and qe_identity as the exact signed texts, the chains as certificates, both CRLs', () => {
    const doc = collateralDoc(SGX_V3);
    const c = readCollateral([SGX_V3.collateral()]);
    expect(c.tcbInfos).toHaveLength(1);
    expect(decode(c.tcbInfos[0]!.body)).toBe(doc.tcb_info);
    expect(Buffer.from(c.tcbInfos[0]!.signature).toString('hex')).toBe(doc.tcb_info_signature);
    expect(decode(c.qeIdentities[0]!.body)).toBe(doc.qe_identity);
    // PCK Processor CA, root, TCB signing: the root and the signer appear twice, kept once.
    expect(c.certificates.map((x) => x.subject.split(',')[0])).toEqual(['CN=Intel SGX PCK Processor CA', 'CN=Intel SGX Root CA', 'CN=Intel SGX TCB Signing']);
    expect(c.crls).toHaveLength(2);
  });

  it('accepts signatures and CRLs as byte arrays (serde without hex) too', () => {
    const doc: Record<string, unknown> = collateralDoc(TDX_V4);
    for (const key of ['tcb_info_signature', 'qe_identity_signature', 'pck_crl', 'root_ca_crl']) doc[key] = [...Buffer.from(doc[key] as string, 'hex')];
    const c = readCollateral([encodeDoc(doc)]);
    expect(c.crls).toHaveLength(2);
    expect(c.tcbInfos[0]!.signature.length).toBe(64);
  });

  it.each([
    ['a signature that is not hex', { tcb_info_signature: 'zz' }, /tcb_info_signature is neither hex nor a byte array/],
    ['a signature of 63 bytes', { qe_identity_signature: 'ab'.repeat(63) }, /63 bytes, not a 64-byte/],
    ['a CRL that is not one', { pck_crl: 'abcd' }, /pck_crl is not a CRL/],
    ['a tcb_info that is not JSON', { tcb_info: '{"id":' }, /tcb_info is not valid JSON/],
    ['a chain that is not PEM', { tcb_info_issuer_chain: 'no certificates here' }, /holds no PEM certificate/],
  ])('refuses %s as malformed', (_label, patch, message) => {
    expectRefusedSync(() => readCollateral([encodeDoc({ ...collateralDoc(SGX_V3), ...patch })]), 'malformed', message);
  });

  it('refuses a tcb_info without its signature', () => {
    const doc = collateralDoc(SGX_V3);
    delete doc.tcb_info_signature;
    expectRefusedSync(() => readCollateral([encodeDoc(doc)]), 'malformed', /tcb_info_signature/);
  });
});

describe('readCollateral: Intel PCS bodies and loose items', () => {
  const doc = collateralDoc(SGX_V3);

  it('signs over the inner value exactly as it appears, whatever surrounds it', () => {
    const body = `\r\n{ "signature" : "${doc.tcb_info_signature}" ,\n\t"tcbInfo" :   ${doc.tcb_info}   }\n`;
    const c = readCollateral([text(body)]);
    expect(decode(c.tcbInfos[0]!.body)).toBe(doc.tcb_info);
    expect(c.tcbInfos[0]!.source).toBe('collateral item 0.tcbInfo');
  });

  it('refuses a body naming the signed member twice', () => {
    const body = `{"enclaveIdentity":${doc.qe_identity},"enclaveIdentity":${doc.qe_identity},"signature":"${doc.qe_identity_signature}"}`;
    expectRefusedSync(() => readCollateral([text(body)]), 'malformed', /names "enclaveIdentity" more than once/);
  });

  it('takes certificates (PEM chains, DER) and CRLs (DER, PEM, hex) as loose items', () => {
    const v3 = readCollateral([SGX_V3.collateral()]);
    const [ca, root] = v3.certificates;
    const crl = v3.crls[0]!;
    const c = readCollateral([text(toPem(ca!.der) + toPem(root!.der)), root!.der, crl.der, text(toPem(crl.der, 'X509 CRL')), text(Buffer.from(v3.crls[1]!.der).toString('hex'))]);
    expect(c.certificates).toHaveLength(2);
    expect(c.crls).toHaveLength(2);
  });

  it('leaves what is not DCAP collateral alone', () => {
    const c = readCollateral([text('{"vcek":"…"}'), text('[1,2,3]'), text('hello'), new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]), new Uint8Array(0)]);
    expect(c).toEqual({ tcbInfos: [], qeIdentities: [], certificates: [], crls: [] });
  });

  it('refuses JSON that is not UTF-8 or does not parse', () => {
    expectRefusedSync(() => readCollateral([new Uint8Array([0x7b, 0xff, 0x7d])]), 'malformed', /not UTF-8/);
    expectRefusedSync(() => readCollateral([text('{"tcbInfo": ')]), 'malformed', /not valid JSON/);
  });

  it(`refuses more than ${MAX_COLLATERAL_ITEMS} items`, () => {
    expectRefusedSync(() => readCollateral(new Array<Uint8Array>(MAX_COLLATERAL_ITEMS + 1).fill(new Uint8Array(1))), 'malformed', /collateral items/);
  });
});

describe('topLevelMembers', () => {
  it('finds each member value exactly, strings with braces, quotes and escapes included', () => {
    const source = '{"a" : {"x":"}\\"]{","y":[1,{"z":"\\\\"}]} , "b":[ "]" ],"c":-1.5e3,"d":"s\\u0041","e":null}';
    const members = topLevelMembers(source);
    expect(JSON.parse(source)).toBeDefined();
    expect([...members.entries()]).toEqual([
      ['a', '{"x":"}\\"]{","y":[1,{"z":"\\\\"}]}'],
      ['b', '[ "]" ]'],
      ['c', '-1.5e3'],
      ['d', '"s\\u0041"'],
      ['e', 'null'],
    ]);
  });
});

describe('parseTcbInfo', () => {
  const base = (): Record<string, unknown> => JSON.parse(tcbInfoText({ levels: sgxLevels() })) as Record<string, unknown>;

  it.each([
    ['id', 'XYZ', 'unsupported', /id "XYZ" is neither SGX nor TDX/],
    ['version', 2, 'unsupported', /version 2 is not supported; only version 3/],
    ['tcbType', 1, 'unsupported', /tcbType 1/],
    ['fmspc', '00906ED500', 'malformed', /fmspc is not 6 bytes of hex/],
    ['issueDate', '2025-05-15 00:00:00', 'malformed', /issueDate is not a UTC date-time/],
    ['nextUpdate', '2025-05-15T00:00:00+02:00', 'malformed', /nextUpdate/],
    ['tcbLevels', {}, 'malformed', /tcbLevels is not an array/],
  ] as const)('refuses %s = %j', (key, value, reason, message) => {
    expectRefusedSync(() => parseTcbInfo({ ...base(), [key]: value }), reason, message);
  });

  it('refuses levels with 15 components, an SVN above 255, or a non-string advisory', () => {
    const level = (tcb: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      ...base(),
      tcbLevels: [{ tcb, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate', ...extra }],
    });
    const svns = (n: number, v = 1): { svn: number }[] => new Array(n).fill(0).map(() => ({ svn: v }));
    expectRefusedSync(() => parseTcbInfo(level({ sgxtcbcomponents: svns(15), pcesvn: 1 })), 'malformed', /15 components, not 16/);
    expectRefusedSync(() => parseTcbInfo(level({ sgxtcbcomponents: svns(16, 256), pcesvn: 1 })), 'malformed', /svn is not an integer from 0 to 255/);
    expectRefusedSync(() => parseTcbInfo(level({ sgxtcbcomponents: svns(16), pcesvn: 1 }, { advisoryIDs: [1] })), 'malformed', /advisoryIDs\[0\]/);
  });

  it('a TDX TCB info needs tdxModule', () => {
    const tdx = JSON.parse(tcbInfoText({ id: 'TDX', levels: [] })) as Record<string, unknown>;
    delete tdx.tdxModule;
    expectRefusedSync(() => parseTcbInfo(tdx), 'malformed', /tdxModule is not a JSON object/);
  });
});

describe('QE identity', () => {
  const identity = (levels?: { isvsvn: number; status: string }[]) => parseQeIdentity(JSON.parse(qeIdentityText(levels ? { levels } : {})));
  const qeReport = (isvSvn: number) =>
    parseEnclaveReport(
      enclaveReport({ ...ENCLAVE, attributes: Uint8Array.from([0x11, ...new Array<number>(15).fill(0)]), mrSigner: new Uint8Array(Buffer.from(QE_MRSIGNER, 'hex')), isvProdId: 1, isvSvn }),
      'QE report',
    );

  it('the first level the QE reaches gives its status', () => {
    const levels = [
      { isvsvn: 8, status: 'UpToDate' },
      { isvsvn: 6, status: 'OutOfDate' },
      { isvsvn: 2, status: 'Revoked' },
    ];
    expect(checkQeIdentity(identity(levels), qeReport(9)).status).toBe('UpToDate');
    expect(checkQeIdentity(identity(levels), qeReport(7)).status).toBe('OutOfDate');
    expect(checkQeIdentity(identity(levels), qeReport(2)).status).toBe('Revoked');
    expect(checkQeIdentity(identity(levels), qeReport(1))).toEqual({ status: 'NotSupported' });
  });

  it('a status a QE identity may not state is unsupported', () => {
    expectRefusedSync(() => checkQeIdentity(identity([{ isvsvn: 1, status: 'SWHardeningNeeded' }]), qeReport(1)), 'unsupported', /"SWHardeningNeeded"/);
  });

  it('refuses version 1, and fields of the wrong size', () => {
    const doc = JSON.parse(qeIdentityText()) as Record<string, unknown>;
    expectRefusedSync(() => parseQeIdentity({ ...doc, version: 1 }), 'unsupported', /version 1/);
    expectRefusedSync(() => parseQeIdentity({ ...doc, mrsigner: 'AB' }), 'malformed', /mrsigner is not 32 bytes/);
    expectRefusedSync(() => parseQeIdentity({ ...doc, isvprodid: -1 }), 'malformed', /isvprodid/);
    expectRefusedSync(() => parseQeIdentity('QE'), 'malformed', /not a JSON object/);
  });
});
