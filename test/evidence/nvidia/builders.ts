import { webcrypto } from 'node:crypto';
import { issue, rootCa, type Curve, type Issued, type Validity } from '../x509/pki.js';
import * as asn1js from 'asn1js';
import * as x509 from '@peculiar/x509';

/**
 * Synthetic NVIDIA GPU evidence for what the two real reports cannot show: other field
 * values, other layouts, a leaf certificate for another firmware, revocation. Reports are
 * built field by field from a spec (every default is the shape of a real Hopper report) and
 * signed by a throwaway DICE-like chain: root ← ICA ← leaf, P-384 like NVIDIA's.
 */

export interface BlockSpec {
  readonly index: number;
  readonly digest?: Uint8Array;
  readonly valueType?: number;
  readonly specification?: number;
  /** Added to the declared MeasurementSize, to lie about it. */
  readonly sizeDelta?: number;
}

export interface ReportSpec {
  readonly version?: number;
  readonly requestCode?: number;
  readonly param1?: number;
  readonly operation?: number;
  readonly nonce?: Uint8Array;
  readonly slotId?: number;
  readonly responseVersion?: number;
  readonly responseCode?: number;
  readonly responseParam2?: number;
  readonly blocks?: readonly BlockSpec[];
  /** Overrides NumberOfBlocks. */
  readonly numberOfBlocks?: number;
  /** Added to the declared MeasurementRecordLength. */
  readonly recordLengthDelta?: number;
  readonly responderNonce?: Uint8Array;
  /** Opaque fields as [id, data]; the default is a driver and VBIOS version. */
  readonly opaque?: readonly (readonly [number, Uint8Array])[];
  /** Overrides the declared OpaqueLength. */
  readonly opaqueLength?: number;
}

export const SYNTHETIC_NONCE = new Uint8Array(32).map((_, i) => i + 1);

const u16 = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff];
const ascii = (text: string): Uint8Array => new TextEncoder().encode(text);

export const field = (id: number, data: Uint8Array): readonly [number, Uint8Array] => [id, data];
export const DEFAULT_OPAQUE = [field(3, ascii('550.90.07\0')), field(6, new Uint8Array([0x00, 0x9f, 0x00, 0x96, 0x01, 0, 0, 0]))];

export function opaqueBytes(fields: readonly (readonly [number, Uint8Array])[]): Uint8Array {
  return new Uint8Array(fields.flatMap(([id, data]) => [...u16(id), ...u16(data.length), ...data]));
}

function blockBytes(block: BlockSpec): number[] {
  const digest = block.digest ?? new Uint8Array(48).fill(block.index);
  const measurement = [block.valueType ?? 0x01, ...u16(digest.length), ...digest];
  return [block.index, block.specification ?? 0x01, ...u16(measurement.length + (block.sizeDelta ?? 0)), ...measurement];
}

/** request ‖ response without the signature: exactly the bytes the GPU signs. */
export function unsignedReport(spec: ReportSpec = {}): Uint8Array {
  const blocks = spec.blocks ?? [1, 2, 3].map((index) => ({ index }));
  const record = blocks.flatMap(blockBytes);
  const recordLength = record.length + (spec.recordLengthDelta ?? 0);
  const opaque = opaqueBytes(spec.opaque ?? DEFAULT_OPAQUE);
  return new Uint8Array([
    spec.version ?? 0x11,
    spec.requestCode ?? 0xe0,
    spec.param1 ?? 0x01,
    spec.operation ?? 0xff,
    ...(spec.nonce ?? SYNTHETIC_NONCE),
    spec.slotId ?? 0,
    spec.responseVersion ?? spec.version ?? 0x11,
    spec.responseCode ?? 0x60,
    0x00,
    spec.responseParam2 ?? spec.slotId ?? 0,
    spec.numberOfBlocks ?? blocks.length,
    recordLength & 0xff,
    (recordLength >> 8) & 0xff,
    (recordLength >> 16) & 0xff,
    ...record,
    ...(spec.responderNonce ?? new Uint8Array(32).fill(0xee)),
    ...u16(spec.opaqueLength ?? opaque.length),
    ...opaque,
  ]);
}

/** Appends the raw r ‖ s ECDSA signature (SHA-384) by `key`, and any trailing bytes. */
export async function signed(unsigned: Uint8Array, key: webcrypto.CryptoKey, trailing: Uint8Array = new Uint8Array()): Promise<Uint8Array> {
  const signature = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-384' }, key, unsigned));
  return new Uint8Array([...unsigned, ...signature, ...trailing]);
}

/** NVIDIA's tcg-dice-TcbInfo shape: SEQUENCE { INTEGER 1, SEQUENCE { sha384 OID, OCTET STRING fwid } }. */
function tcbInfo(fwid: Uint8Array): x509.Extension {
  const value = new asn1js.Sequence({
    value: [
      new asn1js.Integer({ value: 1 }),
      new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: '2.16.840.1.101.3.4.2.2' }), new asn1js.OctetString({ valueHex: fwid })] }),
    ],
  });
  return new x509.Extension('2.23.133.5.4.1', false, value.toBER(false));
}

export interface GpuPki {
  readonly root: Issued;
  readonly ica: Issued;
  readonly leaf: Issued;
  /** Leaf, ICA, root as PEM. */
  readonly chainPem: string;
}

export const PKI_VALIDITY: Validity = { notBefore: new Date('2024-01-01T00:00:00Z'), notAfter: new Date('2034-01-01T00:00:00Z') };
export const PKI_NOW = new Date('2025-06-01T00:00:00Z');

function pem(der: Uint8Array): string {
  const lines = Buffer.from(der).toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export interface PkiOptions {
  /** The leaf's TcbInfo FWID; null: no TcbInfo extension. */
  readonly fwid?: Uint8Array | null;
  readonly leafCurve?: Curve;
  readonly leafValidity?: Validity;
  readonly leafSerial?: string;
}

export async function gpuPki(options: PkiOptions = {}): Promise<GpuPki> {
  const root = await rootCa('CN=Test GPU Identity CA,O=Covenant Tests', PKI_VALIDITY, { curve: 'P-384' });
  const ica = await issue(root, 'CN=Test GPU Provisioner ICA,O=Covenant Tests', PKI_VALIDITY, { ca: true, curve: 'P-384' });
  const algorithm = { name: 'ECDSA', namedCurve: options.leafCurve ?? 'P-384', hash: 'SHA-384' };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const fwid = options.fwid === undefined ? new Uint8Array(48).fill(0xf1) : options.fwid;
  const name = 'CN=Test GPU FMC LF,O=Covenant Tests';
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: options.leafSerial ?? '7a01',
    subject: name,
    issuer: ica.name,
    ...(options.leafValidity ?? PKI_VALIDITY),
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-384' },
    publicKey: keys.publicKey,
    signingKey: ica.keys.privateKey,
    extensions: [new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true), ...(fwid === null ? [] : [tcbInfo(fwid)])],
  });
  const leaf: Issued = { der: new Uint8Array(cert.rawData), name, keys };
  return { root, ica, leaf, chainPem: [leaf.der, ica.der, root.der].map(pem).join('') };
}

/** The Covenant evidence document for a synthetic report and chain. */
export function document(report: Uint8Array, chainPem: string): Uint8Array {
  return ascii(JSON.stringify({ report: Buffer.from(report).toString('hex'), certChain: chainPem, arch: 'HOPPER' }));
}
