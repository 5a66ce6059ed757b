import * as asn1js from 'asn1js';
import type { Certificate } from '../x509/certificate.js';

/**
 * The firmware identity (FWID) the GPU's leaf certificate was issued for. The GSP FMC leaf
 * is a DICE certificate: its key is derived from the measured FMC firmware, and its
 * tcg-dice-TcbInfo extension (TCG DICE Attestation Architecture, OID 2.23.133.5.4.1) names
 * that firmware by digest. The report repeats the digest in its opaque `fwid` field, so
 * comparing the two ties the signed report to the firmware the certificate vouches for.
 *
 * NVIDIA's encoding of the extension is not the tagged DiceTcbInfo of the TCG
 * specification (it holds an INTEGER, a key and an untagged FWID), so this reads every
 * `SEQUENCE { hashAlg OBJECT IDENTIFIER, digest OCTET STRING }` in it, at any depth:
 * that is the FWID structure in both encodings.
 */

export const TCG_DICE_TCB_INFO = '2.23.133.5.4.1';

const HASHES: Readonly<Record<string, string>> = {
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

export interface Fwid {
  /** sha256 / sha384 / sha512, or the OID when it is none of those. */
  readonly alg: string;
  readonly hex: string;
}

// The extension is small and signed by the GPU's ROM key; the bounds only keep a
// malicious certificate offered as collateral from costing more than a glance.
const MAX_DEPTH = 8;
const MAX_FWIDS = 8;

function collect(node: asn1js.AsnType, depth: number, out: Fwid[]): void {
  if (depth > MAX_DEPTH || out.length >= MAX_FWIDS) return;
  const children: unknown = (node as { valueBlock?: { value?: unknown } }).valueBlock?.value;
  if (!(node instanceof asn1js.Constructed) || !Array.isArray(children)) return;
  const [first, second] = children as asn1js.AsnType[];
  if (children.length === 2 && first instanceof asn1js.ObjectIdentifier && second instanceof asn1js.OctetString && !second.idBlock.isConstructed) {
    const oid = first.valueBlock.toString();
    out.push({ alg: HASHES[oid] ?? oid, hex: Buffer.from(second.valueBlock.valueHexView).toString('hex') });
    return;
  }
  for (const child of children as asn1js.AsnType[]) collect(child, depth + 1, out);
}

/** The FWIDs of the certificate's TcbInfo extension; empty when it has none or it does not parse. */
export function certificateFwids(certificate: Certificate): Fwid[] {
  const extension = certificate.structure.extensions?.find((e) => e.extnID === TCG_DICE_TCB_INFO);
  if (extension === undefined) return [];
  try {
    const der = extension.extnValue.valueBlock.valueHexView;
    const parsed = asn1js.fromBER(der);
    if (parsed.offset === -1 || parsed.offset !== der.length) return [];
    const out: Fwid[] = [];
    collect(parsed.result, 0, out);
    return out;
  } catch {
    // An extension we cannot read vouches for no firmware; the caller sees none.
    return [];
  }
}
