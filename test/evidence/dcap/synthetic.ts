import { createHash, generateKeyPairSync, KeyObject, sign, type webcrypto } from 'node:crypto';
import * as asn1js from 'asn1js';
import { SGX_EXTENSION_OID } from '../../../src/evidence/dcap/pck.js';
import { INTEL_QE_VENDOR_ID } from '../../../src/evidence/dcap/quote.js';
import { toPem } from '../../../src/evidence/x509/pem.js';
import { crl, issue, issueLeafWith, rootCa, type Issued, type Validity } from '../x509/pki.js';

/**
 * A throwaway DCAP world for what real vectors cannot show: revoked PCKs and TCB levels,
 * every TCB status, QE and TDX module mismatches, other quote versions and body types.
 * Its own root, PCK CA, TCB signing certificate and PCK (with Intel's SGX extension);
 * quotes signed by its own attestation key and QE report signed by its PCK; TCB info and
 * QE identity signed by its TCB signing key. Names copy Intel's so that messages read alike.
 */

type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const NOW = new Date('2025-06-01T00:00:00Z');
export const VALIDITY: Validity = { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2030-01-01T00:00:00Z') };
export const CRL_WINDOW = { thisUpdate: new Date('2025-05-01T00:00:00Z'), nextUpdate: new Date('2025-07-01T00:00:00Z') };
export const ISSUE_DATE = '2025-05-15T00:00:00Z';
export const NEXT_UPDATE = '2025-06-15T00:00:00Z';

const NAME = (cn: string): string => `CN=${cn}, O=Intel Corporation, L=Santa Clara, ST=CA, C=US`;
export const FMSPC = '00906ed50000';
export const PCE_ID = '0000';
export const QE_MRSIGNER = '8c4f5775d796503e96137f77c68a829a0056ac8ded70140b081b094490c57bff';
export const TD_QE_MRSIGNER = 'dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5';

export interface PckTcbSpec {
  readonly components: readonly number[];
  readonly pceSvn: number;
  readonly fmspc?: string;
  readonly pceId?: string;
}

export const DEFAULT_PCK_TCB: PckTcbSpec = { components: [4, 4, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0], pceSvn: 13 };

/** DER of Intel's SGX extension value. */
export function sgxExtensionDer(tcb: PckTcbSpec): Uint8Array {
  const oid = (suffix: string): asn1js.ObjectIdentifier => new asn1js.ObjectIdentifier({ value: `${SGX_EXTENSION_OID}.${suffix}` });
  const entry = (suffix: string, value: asn1js.AsnType): asn1js.Sequence => new asn1js.Sequence({ value: [oid(suffix), value] });
  const octets = (hex: string): asn1js.OctetString => new asn1js.OctetString({ valueHex: Buffer.from(hex, 'hex') });
  const cpuSvn = Buffer.from(tcb.components).toString('hex');
  const tcbSeq = new asn1js.Sequence({
    value: [
      ...tcb.components.map((svn, i) => entry(`2.${i + 1}`, new asn1js.Integer({ value: svn }))),
      entry('2.17', new asn1js.Integer({ value: tcb.pceSvn })),
      entry('2.18', octets(cpuSvn)),
    ],
  });
  const ext = new asn1js.Sequence({
    value: [
      entry('1', octets('11'.repeat(16))),
      entry('2', tcbSeq),
      entry('3', octets(tcb.pceId ?? PCE_ID)),
      entry('4', octets(tcb.fmspc ?? FMSPC)),
      entry('5', new asn1js.Enumerated({ value: 0 })),
    ],
  });
  return new Uint8Array(ext.toBER(false));
}

export interface Pki {
  readonly root: Issued;
  readonly pckCa: Issued & { serial: string };
  readonly tcbSigning: Issued & { serial: string };
  readonly pck: Issued & { serial: string };
  readonly rootCrl: Uint8Array;
  readonly pckCrl: Uint8Array;
}

export interface PkiOptions {
  readonly tcb?: PckTcbSpec;
  readonly revokePck?: boolean;
  readonly revokePckCa?: boolean;
  readonly pckValidity?: Validity;
  readonly crlWindow?: typeof CRL_WINDOW;
}

export async function makePki(options: PkiOptions = {}): Promise<Pki> {
  const root = await rootCa(NAME('Intel SGX Root CA'), VALIDITY);
  const pckCa = await issue(root, NAME('Intel SGX PCK Platform CA'), VALIDITY, { ca: true });
  const tcbSigning = await issue(root, NAME('Intel SGX TCB Signing'), VALIDITY);
  const pck = await issueLeafWith(pckCa, NAME('Intel SGX PCK Certificate'), options.pckValidity ?? VALIDITY, [
    { oid: SGX_EXTENSION_OID, der: sgxExtensionDer(options.tcb ?? DEFAULT_PCK_TCB) },
  ]);
  const window = options.crlWindow ?? CRL_WINDOW;
  return {
    root,
    pckCa,
    tcbSigning,
    pck,
    rootCrl: await crl(root, options.revokePckCa ? [pckCa.serial] : [], window),
    pckCrl: await crl(pckCa, options.revokePck ? [pck.serial] : [], window),
  };
}

const signRaw = (keys: CryptoKeyPair, data: Uint8Array): Uint8Array =>
  new Uint8Array(sign('sha256', data, { key: KeyObject.from(keys.privateKey), dsaEncoding: 'ieee-p1363' }));

// One attestation key for the whole world: the QE's, certified by each QE report below.
const attestation = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = attestation.publicKey.export({ format: 'jwk' });
export const ATTESTATION_KEY = new Uint8Array(Buffer.concat([Buffer.from(jwk.x ?? '', 'base64url'), Buffer.from(jwk.y ?? '', 'base64url')]));

export interface EnclaveFields {
  readonly cpuSvn: Uint8Array;
  readonly miscSelect: Uint8Array;
  readonly attributes: Uint8Array;
  readonly mrEnclave: Uint8Array;
  readonly mrSigner: Uint8Array;
  readonly configId: Uint8Array;
  readonly isvProdId: number;
  readonly isvSvn: number;
  readonly configSvn: number;
  readonly reportData: Uint8Array;
}

const filled = (n: number, b: number): Uint8Array => new Uint8Array(n).fill(b);

export const ENCLAVE: EnclaveFields = {
  cpuSvn: filled(16, 3),
  miscSelect: filled(4, 0),
  attributes: Uint8Array.from([0x05, 0, 0, 0, 0, 0, 0, 0, 0xe7, 0, 0, 0, 0, 0, 0, 0]),
  mrEnclave: filled(32, 0xaa),
  mrSigner: filled(32, 0xbb),
  configId: filled(64, 0),
  isvProdId: 7,
  isvSvn: 3,
  configSvn: 0,
  reportData: filled(64, 0x42),
};

export function enclaveReport(f: EnclaveFields): Uint8Array {
  const out = new Uint8Array(384);
  const view = new DataView(out.buffer);
  out.set(f.cpuSvn, 0);
  out.set(f.miscSelect, 16);
  out.set(f.attributes, 48);
  out.set(f.mrEnclave, 64);
  out.set(f.mrSigner, 128);
  out.set(f.configId, 192);
  view.setUint16(256, f.isvProdId, true);
  view.setUint16(258, f.isvSvn, true);
  view.setUint16(260, f.configSvn, true);
  out.set(f.reportData, 320);
  return out;
}

export interface TdFields {
  readonly teeTcbSvn: Uint8Array;
  readonly mrSeam: Uint8Array;
  readonly mrSignerSeam: Uint8Array;
  readonly seamAttributes: Uint8Array;
  readonly tdAttributes: Uint8Array;
  readonly xfam: Uint8Array;
  readonly mrTd: Uint8Array;
  readonly mrConfigId: Uint8Array;
  readonly mrOwner: Uint8Array;
  readonly mrOwnerConfig: Uint8Array;
  readonly rtmrs: readonly Uint8Array[];
  readonly reportData: Uint8Array;
  readonly teeTcbSvn2: Uint8Array;
  readonly mrServiceTd: Uint8Array;
}

export const TD: TdFields = {
  teeTcbSvn: Uint8Array.from([6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
  mrSeam: filled(48, 0x5b),
  mrSignerSeam: filled(48, 0),
  seamAttributes: filled(8, 0),
  tdAttributes: Uint8Array.from([0, 0, 0, 0x10, 0, 0, 0, 0]),
  xfam: Uint8Array.from([0xe7, 0x02, 0x06, 0, 0, 0, 0, 0]),
  mrTd: filled(48, 0x91),
  mrConfigId: filled(48, 0),
  mrOwner: filled(48, 0),
  mrOwnerConfig: filled(48, 0),
  rtmrs: [filled(48, 1), filled(48, 2), filled(48, 3), filled(48, 0)],
  reportData: filled(64, 0x9a),
  teeTcbSvn2: Uint8Array.from([6, 1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
  mrServiceTd: filled(48, 0),
};

export function tdReport(f: TdFields, td15: boolean): Uint8Array {
  const out = new Uint8Array(td15 ? 648 : 584);
  const parts = [f.teeTcbSvn, f.mrSeam, f.mrSignerSeam, f.seamAttributes, f.tdAttributes, f.xfam, f.mrTd, f.mrConfigId, f.mrOwner, f.mrOwnerConfig, ...f.rtmrs, f.reportData];
  if (td15) parts.push(f.teeTcbSvn2, f.mrServiceTd);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface QuoteSpec {
  readonly version?: 3 | 4 | 5;
  readonly tee?: 'sgx' | 'tdx';
  /** v5 only: 1 SGX, 2 TD 1.0, 3 TD 1.5 (default from tee: 1 or 3). */
  readonly bodyType?: 1 | 2 | 3;
  readonly enclave?: Partial<EnclaveFields>;
  readonly td?: Partial<TdFields>;
  /** The QE report; mrSigner and isvProdId default to Intel's QE (QE or TD_QE). */
  readonly qe?: Partial<EnclaveFields>;
  readonly authData?: Uint8Array;
  readonly trailing?: number;
}

const u16 = (n: number): Uint8Array => {
  const b = new Uint8Array(2);
  new DataView(b.buffer).setUint16(0, n, true);
  return b;
};
const u32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
};
const cat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts));

export function pckChainPem(pki: Pki): Uint8Array {
  return new TextEncoder().encode(`${toPem(pki.pck.der)}${toPem(pki.pckCa.der)}${toPem(pki.root.der)}\0`);
}

export function buildQuote(pki: Pki, spec: QuoteSpec = {}): Uint8Array {
  const tee = spec.tee ?? 'sgx';
  const version = spec.version ?? (tee === 'sgx' ? 3 : 4);
  const header = cat(
    u16(version),
    u16(2),
    u32(tee === 'tdx' ? 0x81 : 0),
    u16(version === 3 ? 10 : 0),
    u16(version === 3 ? 13 : 0),
    Buffer.from(INTEL_QE_VENDOR_ID, 'hex'),
    filled(20, 0),
  );
  const bodyType = spec.bodyType ?? (tee === 'sgx' ? 1 : 3);
  let body: Uint8Array;
  if (tee === 'sgx') body = enclaveReport({ ...ENCLAVE, ...spec.enclave });
  else body = tdReport({ ...TD, ...spec.td }, version === 5 && bodyType === 3);
  const signed = version === 5 ? cat(header, u16(bodyType), u32(body.length), body) : cat(header, body);

  const authData = spec.authData ?? filled(32, 0x0a);
  const binding = createHash('sha256').update(ATTESTATION_KEY).update(authData).digest();
  const qeFields: EnclaveFields = {
    ...ENCLAVE,
    attributes: Uint8Array.from([0x11, ...filled(15, 0)]),
    mrSigner: new Uint8Array(Buffer.from(tee === 'sgx' ? QE_MRSIGNER : TD_QE_MRSIGNER, 'hex')),
    isvProdId: tee === 'sgx' ? 1 : 2,
    isvSvn: 8,
    reportData: cat(binding, filled(32, 0)),
    ...spec.qe,
  };
  const qeReport = enclaveReport(qeFields);
  const qeSignature = signRaw(pki.pck.keys, qeReport);
  const chain = pckChainPem(pki);
  const qeCertification = cat(qeReport, qeSignature, u16(authData.length), authData, u16(5), u32(chain.length), chain);
  const signature = new Uint8Array(sign('sha256', signed, { key: attestation.privateKey, dsaEncoding: 'ieee-p1363' }));
  const signatureData = version === 3 ? cat(signature, ATTESTATION_KEY, qeCertification) : cat(signature, ATTESTATION_KEY, u16(6), u32(qeCertification.length), qeCertification);
  return cat(signed, u32(signatureData.length), signatureData, filled(spec.trailing ?? 0, 0));
}

// ---------------------------------------------------------------------------------------
// Collateral

export interface LevelSpec {
  readonly sgx: readonly number[];
  readonly pcesvn: number;
  readonly tdx?: readonly number[];
  readonly status: string;
  readonly date?: string;
  readonly advisoryIDs?: readonly string[];
}

export interface IsvLevelSpec {
  readonly isvsvn: number;
  readonly status: string;
  readonly date?: string;
  readonly advisoryIDs?: readonly string[];
}

const svns = (list: readonly number[]): { svn: number }[] => list.map((svn) => ({ svn }));

function level(l: LevelSpec): Record<string, unknown> {
  return {
    tcb: { sgxtcbcomponents: svns(l.sgx), pcesvn: l.pcesvn, ...(l.tdx ? { tdxtcbcomponents: svns(l.tdx) } : {}) },
    tcbDate: l.date ?? '2024-03-13T00:00:00Z',
    tcbStatus: l.status,
    ...(l.advisoryIDs ? { advisoryIDs: l.advisoryIDs } : {}),
  };
}

function isvLevel(l: IsvLevelSpec): Record<string, unknown> {
  return { tcb: { isvsvn: l.isvsvn }, tcbDate: l.date ?? '2024-03-13T00:00:00Z', tcbStatus: l.status, ...(l.advisoryIDs ? { advisoryIDs: l.advisoryIDs } : {}) };
}

export interface ModuleIdentitySpec {
  readonly id: string;
  readonly mrsigner?: string;
  readonly levels: readonly IsvLevelSpec[];
}

export interface TcbInfoSpec {
  readonly id?: 'SGX' | 'TDX';
  readonly version?: number;
  readonly fmspc?: string;
  readonly pceId?: string;
  readonly issueDate?: string;
  readonly nextUpdate?: string;
  readonly levels: readonly LevelSpec[];
  readonly tdxModuleMrSigner?: string;
  readonly moduleIdentities?: readonly ModuleIdentitySpec[];
}

export const ZERO48 = '00'.repeat(48);

export function tcbInfoText(spec: TcbInfoSpec): string {
  const tdx = (spec.id ?? 'SGX') === 'TDX';
  return JSON.stringify({
    id: spec.id ?? 'SGX',
    version: spec.version ?? 3,
    issueDate: spec.issueDate ?? ISSUE_DATE,
    nextUpdate: spec.nextUpdate ?? NEXT_UPDATE,
    fmspc: (spec.fmspc ?? FMSPC).toUpperCase(),
    pceId: spec.pceId ?? PCE_ID,
    tcbType: 0,
    tcbEvaluationDataNumber: 17,
    ...(tdx
      ? {
          tdxModule: { mrsigner: spec.tdxModuleMrSigner ?? ZERO48, attributes: '0000000000000000', attributesMask: 'FFFFFFFFFFFFFFFF' },
          tdxModuleIdentities: (spec.moduleIdentities ?? [{ id: 'TDX_01', levels: [{ isvsvn: 4, status: 'UpToDate' }] }]).map((m) => ({
            id: m.id,
            mrsigner: m.mrsigner ?? ZERO48,
            attributes: '0000000000000000',
            attributesMask: 'FFFFFFFFFFFFFFFF',
            tcbLevels: m.levels.map(isvLevel),
          })),
        }
      : {}),
    tcbLevels: spec.levels.map(level),
  });
}

export interface QeIdentitySpec {
  readonly id?: 'QE' | 'TD_QE';
  readonly levels?: readonly IsvLevelSpec[];
  readonly issueDate?: string;
  readonly nextUpdate?: string;
}

export function qeIdentityText(spec: QeIdentitySpec = {}): string {
  const id = spec.id ?? 'QE';
  return JSON.stringify({
    id,
    version: 2,
    issueDate: spec.issueDate ?? ISSUE_DATE,
    nextUpdate: spec.nextUpdate ?? NEXT_UPDATE,
    tcbEvaluationDataNumber: 17,
    miscselect: '00000000',
    miscselectMask: 'FFFFFFFF',
    attributes: '11000000000000000000000000000000',
    attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
    mrsigner: (id === 'QE' ? QE_MRSIGNER : TD_QE_MRSIGNER).toUpperCase(),
    isvprodid: id === 'QE' ? 1 : 2,
    tcbLevels: (spec.levels ?? [{ isvsvn: 8, status: 'UpToDate' }]).map(isvLevel),
  });
}

export function signText(pki: Pki, text: string): string {
  return Buffer.from(signRaw(pki.tcbSigning.keys, new TextEncoder().encode(text))).toString('hex');
}

export interface CollateralParts {
  readonly tcbInfo: string;
  readonly qeIdentity: string;
  readonly pckCrl?: Uint8Array;
  readonly rootCrl?: Uint8Array;
}

/** A dcap-qvl QuoteCollateralV3 document. */
export function collateralV3(pki: Pki, parts: CollateralParts): Uint8Array {
  const tcbChain = toPem(pki.tcbSigning.der) + toPem(pki.root.der);
  return new TextEncoder().encode(
    JSON.stringify({
      pck_crl_issuer_chain: toPem(pki.pckCa.der) + toPem(pki.root.der),
      root_ca_crl: Buffer.from(parts.rootCrl ?? pki.rootCrl).toString('hex'),
      pck_crl: Buffer.from(parts.pckCrl ?? pki.pckCrl).toString('hex'),
      tcb_info_issuer_chain: tcbChain,
      tcb_info: parts.tcbInfo,
      tcb_info_signature: signText(pki, parts.tcbInfo),
      qe_identity_issuer_chain: tcbChain,
      qe_identity: parts.qeIdentity,
      qe_identity_signature: signText(pki, parts.qeIdentity),
    }),
  );
}

/** A TCB level list whose first level the default PCK TCB reaches. */
export function sgxLevels(status = 'UpToDate', advisoryIDs?: readonly string[]): LevelSpec[] {
  return [{ sgx: DEFAULT_PCK_TCB.components, pcesvn: DEFAULT_PCK_TCB.pceSvn, status, ...(advisoryIDs ? { advisoryIDs } : {}) }];
}

export function tdxLevels(status = 'UpToDate', advisoryIDs?: readonly string[]): LevelSpec[] {
  return [{ sgx: DEFAULT_PCK_TCB.components, pcesvn: DEFAULT_PCK_TCB.pceSvn, tdx: [5, 0, 2, ...new Array<number>(13).fill(0)], status, ...(advisoryIDs ? { advisoryIDs } : {}) }];
}

/** A ready world: PKI, a quote and matching collateral for `tee`. */
export async function world(tee: 'sgx' | 'tdx', options: PkiOptions = {}): Promise<{ pki: Pki; quote: (spec?: QuoteSpec) => Uint8Array; collateral: (parts?: Partial<CollateralParts>) => Uint8Array }> {
  const pki = await makePki(options);
  const tcbInfo = tee === 'sgx' ? tcbInfoText({ levels: sgxLevels() }) : tcbInfoText({ id: 'TDX', levels: tdxLevels() });
  const qeIdentity = qeIdentityText({ id: tee === 'sgx' ? 'QE' : 'TD_QE' });
  return {
    pki,
    quote: (spec = {}) => buildQuote(pki, { tee, ...spec }),
    collateral: (parts = {}) => collateralV3(pki, { tcbInfo, qeIdentity, ...parts }),
  };
}
