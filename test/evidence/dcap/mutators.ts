import fc from 'fast-check';
import { readCollateral } from '../../../src/evidence/dcap/collateral.js';
import type { Quote } from '../../../src/evidence/dcap/quote.js';
import { certificatesFromPem } from '../../../src/evidence/x509/certificate.js';
import { extendBy, flipBits, keep, overwrite, truncate, type Mutation } from '../mutate.js';

/**
 * Mutations of real DCAP quotes and collateral for the fuzzers: bit flips and overwrites
 * anywhere, truncation and extension, declared-length fields set to edge values, and
 * collateral documents edited field by field or split into PCS-style items.
 */

const extend = extendBy(64);

const EDGE_U32 = [0, 1, 63, 64, 383, 384, 385, 0x7fff, 0xffff, 0x10000, 0x7fffffff, 0xffffffff];

/** Offsets of the header words and declared lengths of a quote, from its version (see quote.ts). */
function lengthFields(q: Uint8Array): { at: number; width: 2 | 4 }[] {
  if (q.length < 56) return [];
  const view = new DataView(q.buffer, q.byteOffset, q.byteLength);
  const version = view.getUint16(0, true);
  const tdx = view.getUint32(4, true) === 0x81;
  const body = version === 5 ? 54 : 48;
  const bodySize = version === 5 ? view.getUint32(50, true) : tdx ? 584 : 384;
  const sigSize = body + bodySize;
  const key = sigSize + 4 + 64;
  const fields: { at: number; width: 2 | 4 }[] = [
    { at: 0, width: 2 },
    { at: 2, width: 2 },
    { at: 4, width: 4 },
    { at: sigSize, width: 4 },
  ];
  if (version === 5) fields.push({ at: 48, width: 2 }, { at: 50, width: 4 });
  const qe = version === 3 ? key + 64 : key + 64 + 6;
  if (version !== 3) fields.push({ at: key + 64, width: 2 }, { at: key + 66, width: 4 });
  const auth = qe + 384 + 64;
  fields.push({ at: auth, width: 2 }, { at: auth + 2 + 32, width: 2 }, { at: auth + 2 + 32 + 2, width: 4 });
  return fields.filter((f) => f.at + f.width <= q.length);
}

/** Sets one header word or declared length of the quote to an edge or random value. */
const lengthField: fc.Arbitrary<Mutation> = fc.tuple(fc.nat(), fc.oneof(fc.constantFrom(...EDGE_U32), fc.nat())).map(([pick, value]) => (bytes: Uint8Array) => {
  const out = new Uint8Array(bytes);
  const fields = lengthFields(out);
  const field = fields[pick % Math.max(1, fields.length)];
  if (field === undefined) return out;
  const view = new DataView(out.buffer);
  if (field.width === 2) view.setUint16(field.at, value & 0xffff, true);
  else view.setUint32(field.at, value >>> 0, true);
  return out;
});

/** Mutations aimed at a DCAP quote. */
export function mutatedQuote(): fc.Arbitrary<Mutation> {
  return fc.oneof(flipBits, overwrite, truncate, extend, lengthField, lengthField, keep);
}

const V3_KEYS = ['pck_crl_issuer_chain', 'root_ca_crl', 'pck_crl', 'tcb_info_issuer_chain', 'tcb_info', 'tcb_info_signature', 'qe_identity_issuer_chain', 'qe_identity', 'qe_identity_signature'];

const encode = (s: string): Uint8Array => new TextEncoder().encode(s);
const decode = (b: Uint8Array): string => Buffer.from(b).toString('utf8');

/** A collateral mutation: the real QuoteCollateralV3 document in, the items to verify with out. */
export type CollateralMutation = (doc: Uint8Array) => Uint8Array[];

/** Edits one field of the V3 document: its text mutated, deleted, or replaced by another JSON value. */
const fieldEdit: fc.Arbitrary<CollateralMutation> = fc
  .tuple(
    fc.constantFrom(...V3_KEYS),
    fc.oneof(
      fc.record({ kind: fc.constant('bytes' as const), m: fc.oneof(flipBits, overwrite, truncate, extend) }),
      fc.record({ kind: fc.constant('delete' as const) }),
      fc.record({ kind: fc.constant('value' as const), v: fc.jsonValue({ maxDepth: 3 }) }),
    ),
  )
  .map(([key, edit]) => (bytes: Uint8Array) => {
    const doc = JSON.parse(decode(bytes)) as Record<string, unknown>;
    if (edit.kind === 'delete') delete doc[key];
    else if (edit.kind === 'value') doc[key] = edit.v;
    else doc[key] = decode(edit.m(encode(String(doc[key]))));
    return [encode(JSON.stringify(doc))];
  });

/** The document as Intel PCS would serve it, in separate items, one of them mutated. */
const pcsItems: fc.Arbitrary<CollateralMutation> = fc.tuple(fc.nat(), fc.oneof(flipBits, overwrite, truncate, extend)).map(([pick, m]) => (bytes: Uint8Array) => {
  const doc = JSON.parse(decode(bytes)) as Record<string, string>;
  const items = [
    encode(`{"tcbInfo":${doc.tcb_info},"signature":"${doc.tcb_info_signature}"}`),
    encode(`{"enclaveIdentity":${doc.qe_identity},"signature":"${doc.qe_identity_signature}"}`),
    encode(doc.tcb_info_issuer_chain ?? ''),
    encode(doc.pck_crl_issuer_chain ?? ''),
    new Uint8Array(Buffer.from(doc.pck_crl ?? '', 'hex')),
    encode(doc.root_ca_crl ?? ''),
  ];
  const at = pick % items.length;
  items[at] = m(items[at] ?? new Uint8Array());
  return items;
});

/** Mutations aimed at collateral: whole-document bytes, one field, or one PCS-style item. */
export function mutatedCollateral(): fc.Arbitrary<CollateralMutation> {
  const whole = fc.oneof(flipBits, overwrite, truncate).map((m) => (b: Uint8Array) => [m(b)]);
  return fc.oneof(whole, fieldEdit, fieldEdit, pcsItems, pcsItems);
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/**
 * The fuzzers' oracle for quotes: everything the signatures cover, and the PCK certificate
 * that vouches for the QE. A mutation that still verifies must leave these alone; the rest
 * of the quote's chain may change unnoticed (the CA also comes with the collateral, the
 * root is the trust anchor's), and so may PEM line breaks and bytes after the signature data.
 */
export function signedParts(q: Quote): string[] {
  const leaf = certificatesFromPem(Buffer.from(q.pckChain).toString('latin1'), 'chain')[0];
  return [q.signedBytes, q.signature, q.attestationKey, q.qeReportBytes, q.qeReportSignature, q.qeAuthData, leaf?.der ?? new Uint8Array()].map(hex);
}

/** The fuzzers' oracle for collateral: the signed TCB info and QE identity texts with their signatures. */
export function signedDocuments(items: Uint8Array[]): string[] {
  const c = readCollateral(items);
  return [...c.tcbInfos, ...c.qeIdentities].map((d) => hex(d.body) + hex(d.signature));
}
