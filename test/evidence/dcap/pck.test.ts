import * as asn1js from 'asn1js';
import { beforeAll, describe, expect, it } from 'vitest';
import { hasSgxExtension, readPckExtensions, SGX_EXTENSION_OID } from '../../../src/evidence/dcap/pck.js';
import { parseQuote } from '../../../src/evidence/dcap/quote.js';
import { certificatesFromPem, parseCertificate, type Certificate } from '../../../src/evidence/x509/certificate.js';
import { expectRefusedSync } from '../refusal.js';
import { issueLeafWith, rootCa, type Issued } from '../x509/pki.js';
import { SGX_V3, TDX_V4, type Vector } from './fixtures.js';
import { DEFAULT_PCK_TCB, sgxExtensionDer, VALIDITY } from './synthetic.js';

/** Intel's SGX extension of PCK certificates, read with asn1js. */

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function chainOf(v: Vector): Certificate[] {
  return certificatesFromPem(Buffer.from(parseQuote(v.quote()).pckChain).toString('latin1'), 'chain');
}

describe('real PCK certificates', () => {
  it('sgx_quote (Processor CA): FMSPC 00a067110000, PCE-ID 0000, PCESVN 13, components 11,11,2,2,255,1,0…', () => {
    const [leaf] = chainOf(SGX_V3);
    const ext = readPckExtensions(leaf!);
    expect(hex(ext.fmspc)).toBe('00a067110000');
    expect(hex(ext.pceId)).toBe('0000');
    expect(ext.tcb.pceSvn).toBe(13);
    expect(ext.tcb.components).toEqual([11, 11, 2, 2, 255, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(hex(ext.tcb.cpuSvn)).toBe('0b0b0202ff0100000000000000000000');
    expect(ext.sgxType).toBe(0);
    expect(ext.ppid.length).toBe(16);
    expect(ext.platformInstanceId).toBeUndefined();
    expect(ext.configuration).toBeUndefined();
  });

  it('tdx_quote (Platform CA): FMSPC b0c06f000000, PCESVN 11, SGX type Scalable, platform instance and configuration', () => {
    const [leaf] = chainOf(TDX_V4);
    const ext = readPckExtensions(leaf!);
    expect(hex(ext.fmspc)).toBe('b0c06f000000');
    expect(ext.tcb.pceSvn).toBe(11);
    expect(ext.tcb.components).toEqual([3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(ext.sgxType).toBe(1);
    expect(ext.platformInstanceId?.length).toBe(16);
    expect(ext.configuration).toEqual({ dynamicPlatform: true, cachedKeys: true, smtEnabled: true });
  });

  it('the CA and root carry no SGX extension', () => {
    const [leaf, ca, root] = chainOf(SGX_V3);
    expect(hasSgxExtension(leaf!)).toBe(true);
    expect(hasSgxExtension(ca!)).toBe(false);
    expectRefusedSync(() => readPckExtensions(root!), 'malformed', /has no SGX extension \(1\.2\.840\.113741\.1\.13\.1\)/);
  });
});

describe('malformed extensions', () => {
  let root: Issued;
  beforeAll(async () => {
    root = await rootCa('CN=Test Root', VALIDITY);
  });

  const oid = (suffix: string): asn1js.ObjectIdentifier => new asn1js.ObjectIdentifier({ value: `${SGX_EXTENSION_OID}.${suffix}` });
  const entry = (suffix: string, value: asn1js.AsnType): asn1js.Sequence => new asn1js.Sequence({ value: [oid(suffix), value] });
  const octets = (n: number): asn1js.OctetString => new asn1js.OctetString({ valueHex: new Uint8Array(n) });
  const tcb = (components: asn1js.AsnType[]): asn1js.Sequence =>
    new asn1js.Sequence({ value: [...components.map((c, i) => entry(`2.${i + 1}`, c)), entry('2.17', new asn1js.Integer({ value: 13 })), entry('2.18', octets(16))] });
  const ints = (): asn1js.Integer[] => DEFAULT_PCK_TCB.components.map((c) => new asn1js.Integer({ value: c }));
  const extension = (parts: asn1js.AsnType[]): Uint8Array => new Uint8Array(new asn1js.Sequence({ value: parts }).toBER(false));
  const standard = (): asn1js.AsnType[] => [entry('1', octets(16)), entry('2', tcb(ints())), entry('3', octets(2)), entry('4', octets(6)), entry('5', new asn1js.Enumerated({ value: 0 }))];

  async function leafWith(der: Uint8Array): Promise<Certificate> {
    const leaf = await issueLeafWith(root, 'CN=Intel SGX PCK Certificate', VALIDITY, [{ oid: SGX_EXTENSION_OID, der }]);
    return parseCertificate(leaf.der, 'leaf');
  }

  it('the synthetic builder writes one the reader takes', async () => {
    const ext = readPckExtensions(await leafWith(sgxExtensionDer(DEFAULT_PCK_TCB)));
    expect(ext.tcb.components).toEqual(DEFAULT_PCK_TCB.components);
    expect(readPckExtensions(await leafWith(extension(standard()))).tcb.pceSvn).toBe(13);
  });

  it.each([
    ['a missing FMSPC', () => extension(standard().filter((_, i) => i !== 3)), /FMSPC \(1\.2\.840\.113741\.1\.13\.1\.4\) is missing/],
    ['a short FMSPC', () => extension([...standard().slice(0, 3), entry('4', octets(5)), standard()[4]!]), /FMSPC is 5 bytes, expected 6/],
    ['a duplicated PCE-ID', () => extension([...standard(), entry('3', octets(2))]), /names 1\.2\.840\.113741\.1\.13\.1\.3 twice/],
    ['a component above 255', () => extension([standard()[0]!, entry('2', tcb([new asn1js.Integer({ value: 256 }), ...ints().slice(1)])), ...standard().slice(2)]), /component 1 is 256/],
    ['a negative component', () => extension([standard()[0]!, entry('2', tcb([new asn1js.Integer({ value: -1 }), ...ints().slice(1)])), ...standard().slice(2)]), /component 1 is not a small non-negative/],
    ['15 components', () => extension([standard()[0]!, entry('2', tcb(ints().slice(0, 15))), ...standard().slice(2)]), /component/],
    ['an SGX type that is an INTEGER', () => extension([...standard().slice(0, 4), entry('5', new asn1js.Integer({ value: 0 }))]), /SGX Type is not an ENUMERATED/],
    ['a value that is not a SEQUENCE', () => new Uint8Array(new asn1js.OctetString({ valueHex: new Uint8Array(4) }).toBER(false)), /is not a SEQUENCE/],
    ['an entry that is not (OID, value)', () => extension([new asn1js.Sequence({ value: [new asn1js.Integer({ value: 1 })] })]), /not \(OID, value\)/],
    ['bytes after the structure', () => new Uint8Array([...extension(standard()), 0]), /not one DER structure/],
  ])('%s is malformed', async (_label, make, message) => {
    const certificate = await leafWith(make());
    expectRefusedSync(() => readPckExtensions(certificate), 'malformed', message);
  });
});
