import * as asn1js from 'asn1js';
import { EvidenceError } from '../plugin.js';
import type { Certificate } from '../x509/certificate.js';

/**
 * Intel's SGX extension of PCK certificates (OID 1.2.840.113741.1.13.1; Intel SGX PCK
 * Certificate and CRL Profile): a SEQUENCE of (OID, value) pairs, of which the verifier
 * needs the platform's TCB (sixteen component SVNs, PCESVN, CPUSVN), PCE-ID and FMSPC.
 * Parsed with asn1js; any structure that is not exactly the profile's is 'malformed'.
 */

export const SGX_EXTENSION_OID = '1.2.840.113741.1.13.1';
const OID = {
  ppid: `${SGX_EXTENSION_OID}.1`,
  tcb: `${SGX_EXTENSION_OID}.2`,
  pceId: `${SGX_EXTENSION_OID}.3`,
  fmspc: `${SGX_EXTENSION_OID}.4`,
  sgxType: `${SGX_EXTENSION_OID}.5`,
  platformInstanceId: `${SGX_EXTENSION_OID}.6`,
  configuration: `${SGX_EXTENSION_OID}.7`,
} as const;
const TCB_PCESVN = `${OID.tcb}.17`;
const TCB_CPUSVN = `${OID.tcb}.18`;
const CONFIGURATION = { dynamicPlatform: `${OID.configuration}.1`, cachedKeys: `${OID.configuration}.2`, smtEnabled: `${OID.configuration}.3` } as const;

export interface PckTcb {
  /** SGX TCB component SVNs 1..16, in order. */
  readonly components: readonly number[];
  readonly pceSvn: number;
  readonly cpuSvn: Uint8Array;
}

export interface PckExtensions {
  readonly ppid: Uint8Array;
  readonly tcb: PckTcb;
  readonly pceId: Uint8Array;
  readonly fmspc: Uint8Array;
  /** 0 Standard, 1 Scalable, 2 Scalable with integrity. */
  readonly sgxType: number;
  /** Platform CA certificates only. */
  readonly platformInstanceId?: Uint8Array;
  readonly configuration?: Readonly<{ dynamicPlatform?: boolean; cachedKeys?: boolean; smtEnabled?: boolean }>;
}

const bad = (message: string): EvidenceError => new EvidenceError('malformed', `PCK certificate SGX extension: ${message}`);

/** The (OID, value) pairs of a SEQUENCE OF SEQUENCE { OID, ANY }; each OID at most once. */
function pairs(node: asn1js.AsnType, where: string): Map<string, asn1js.AsnType> {
  if (!(node instanceof asn1js.Sequence)) throw bad(`${where} is not a SEQUENCE`);
  const out = new Map<string, asn1js.AsnType>();
  for (const item of node.valueBlock.value) {
    if (!(item instanceof asn1js.Sequence) || item.valueBlock.value.length !== 2) throw bad(`${where} holds an entry that is not (OID, value)`);
    const [oid, value] = item.valueBlock.value as [asn1js.AsnType, asn1js.AsnType];
    if (!(oid instanceof asn1js.ObjectIdentifier)) throw bad(`${where} holds an entry without an OID`);
    const id = oid.getValue();
    if (out.has(id)) throw bad(`${where} names ${id} twice`);
    out.set(id, value);
  }
  return out;
}

function required(map: Map<string, asn1js.AsnType>, oid: string, name: string): asn1js.AsnType {
  const value = map.get(oid);
  if (value === undefined) throw bad(`${name} (${oid}) is missing`);
  return value;
}

function octets(node: asn1js.AsnType, name: string, length: number): Uint8Array {
  if (!(node instanceof asn1js.OctetString) || node.idBlock.isConstructed) throw bad(`${name} is not a primitive OCTET STRING`);
  const bytes = new Uint8Array(node.valueBlock.valueHexView);
  if (bytes.length !== length) throw bad(`${name} is ${bytes.length} bytes, expected ${length}`);
  return bytes;
}

/** A non-negative INTEGER (or ENUMERATED) up to `max`, read from its DER bytes. */
function unsigned(node: asn1js.AsnType, name: string, max: number): number {
  if (!(node instanceof asn1js.Integer)) throw bad(`${name} is not an INTEGER`);
  const bytes = node.valueBlock.valueHexView;
  if (bytes.length === 0 || bytes.length > 4 || ((bytes[0] ?? 0) & 0x80) !== 0) throw bad(`${name} is not a small non-negative integer`);
  let value = 0;
  for (const b of bytes) value = value * 256 + b;
  if (value > max) throw bad(`${name} is ${value}, above ${max}`);
  return value;
}

function boolean(node: asn1js.AsnType | undefined, name: string): boolean | undefined {
  if (node === undefined) return undefined;
  if (!(node instanceof asn1js.Boolean)) throw bad(`${name} is not a BOOLEAN`);
  return node.getValue();
}

function readTcb(node: asn1js.AsnType): PckTcb {
  const map = pairs(node, 'TCB');
  const components: number[] = [];
  for (let i = 1; i <= 16; i++) components.push(unsigned(required(map, `${OID.tcb}.${i}`, `SGX TCB component ${i}`), `SGX TCB component ${i}`, 255));
  return {
    components,
    pceSvn: unsigned(required(map, TCB_PCESVN, 'PCESVN'), 'PCESVN', 0xffff),
    cpuSvn: octets(required(map, TCB_CPUSVN, 'CPUSVN'), 'CPUSVN', 16),
  };
}

/** The certificate's SGX extension, or undefined when it has none. */
function sgxExtension(certificate: Certificate): asn1js.OctetString | undefined {
  const found = (certificate.structure.extensions ?? []).filter((e) => e.extnID === SGX_EXTENSION_OID);
  if (found.length > 1) throw bad('the certificate carries it twice');
  return found[0]?.extnValue;
}

export function hasSgxExtension(certificate: Certificate): boolean {
  return (certificate.structure.extensions ?? []).some((e) => e.extnID === SGX_EXTENSION_OID);
}

export function readPckExtensions(certificate: Certificate): PckExtensions {
  const value = sgxExtension(certificate);
  if (value === undefined) throw new EvidenceError('malformed', `the PCK certificate (${certificate.subject}) has no SGX extension (${SGX_EXTENSION_OID})`);
  const der = value.valueBlock.valueHexView;
  const asn = asn1js.fromBER(der);
  if (asn.offset === -1 || asn.offset !== der.byteLength) throw bad('its value is not one DER structure');
  const map = pairs(asn.result, 'the extension');
  const platformInstanceId = map.get(OID.platformInstanceId);
  const configurationNode = map.get(OID.configuration);
  let configuration: PckExtensions['configuration'];
  if (configurationNode !== undefined) {
    const c = pairs(configurationNode, 'Configuration');
    const entries = {
      dynamicPlatform: boolean(c.get(CONFIGURATION.dynamicPlatform), 'dynamicPlatform'),
      cachedKeys: boolean(c.get(CONFIGURATION.cachedKeys), 'cachedKeys'),
      smtEnabled: boolean(c.get(CONFIGURATION.smtEnabled), 'smtEnabled'),
    };
    configuration = Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined));
  }
  const sgxTypeNode = required(map, OID.sgxType, 'SGX Type');
  if (!(sgxTypeNode instanceof asn1js.Enumerated)) throw bad('SGX Type is not an ENUMERATED');
  return {
    ppid: octets(required(map, OID.ppid, 'PPID'), 'PPID', 16),
    tcb: readTcb(required(map, OID.tcb, 'TCB')),
    pceId: octets(required(map, OID.pceId, 'PCE-ID'), 'PCE-ID', 2),
    fmspc: octets(required(map, OID.fmspc, 'FMSPC'), 'FMSPC', 6),
    sgxType: unsigned(sgxTypeNode, 'SGX Type', 255),
    ...(platformInstanceId === undefined ? {} : { platformInstanceId: octets(platformInstanceId, 'PlatformInstanceID', 16) }),
    ...(configuration === undefined ? {} : { configuration }),
  };
}
