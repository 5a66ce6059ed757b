import { createHash } from 'node:crypto';
import { LruCache } from '../../core/lru.js';
import { EvidenceError } from '../plugin.js';
import { certificatesFromPem, readCertificates, type Certificate } from '../x509/certificate.js';
import { readCrl, type Crl } from '../x509/crl.js';
import { topLevelMembers } from './json-member.js';
import { object, type JsonObject } from './json.js';

/**
 * DCAP collateral, recognised by content in `VerifyContext.collateral`:
 *
 * - a dcap-qvl `QuoteCollateralV3` JSON document (`pck_crl_issuer_chain`, `root_ca_crl`,
 *   `pck_crl`, `tcb_info_issuer_chain`, `tcb_info`, `tcb_info_signature`,
 *   `qe_identity_issuer_chain`, `qe_identity`, `qe_identity_signature`): `tcb_info` and
 *   `qe_identity` are the exact signed JSON texts, signatures and CRLs hex;
 * - Intel PCS response bodies as served: TCB info `{"tcbInfo":…,"signature":…}` and QE
 *   identity `{"enclaveIdentity":…,"signature":…}`, signed over the exact text of the
 *   inner value;
 * - certificates (DER or PEM, one or a chain: the PCS issuer-chain headers, decoded) and
 *   CRLs (DER, PEM or hex of DER, as PCS serves them).
 *
 * Anything else is not DCAP collateral and is left alone.
 */

// What an instance may post (16, the attestation document's bound) and as many items again imported.
export const MAX_COLLATERAL_ITEMS = 32;
export const MAX_COLLATERAL_ITEM_BYTES = 16 * 1024 * 1024;

export interface SignedDocument {
  /** The exact bytes the signature covers. */
  readonly body: Uint8Array;
  /** Parsed from `body`. */
  readonly value: unknown;
  /** ECDSA P-256 r‖s. */
  readonly signature: Uint8Array;
  /** Where it came from, for messages. */
  readonly source: string;
}

export interface DcapCollateral {
  readonly tcbInfos: readonly SignedDocument[];
  readonly qeIdentities: readonly SignedDocument[];
  readonly certificates: readonly Certificate[];
  readonly crls: readonly Crl[];
}

const V3_KEYS = [
  'pck_crl_issuer_chain',
  'root_ca_crl',
  'pck_crl',
  'tcb_info_issuer_chain',
  'tcb_info',
  'tcb_info_signature',
  'qe_identity_issuer_chain',
  'qe_identity',
  'qe_identity_signature',
] as const;

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const encoder = new TextEncoder();

/** Bytes given as hex text, or as a JSON array of byte values (serde's default for Vec<u8>). */
function byteField(o: JsonObject, key: string, what: string): Uint8Array {
  const value = o[key];
  if (typeof value === 'string' && value.length % 2 === 0 && /^[0-9a-fA-F]*$/.test(value)) return new Uint8Array(Buffer.from(value, 'hex'));
  if (Array.isArray(value) && value.length <= MAX_COLLATERAL_ITEM_BYTES && value.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    return Uint8Array.from(value as number[]);
  }
  throw new EvidenceError('malformed', `${what}.${key} is neither hex nor a byte array`);
}

function signature(o: JsonObject, key: string, what: string): Uint8Array {
  const bytes = byteField(o, key, what);
  if (bytes.length !== 64) throw new EvidenceError('malformed', `${what}.${key} is ${bytes.length} bytes, not a 64-byte r‖s signature`);
  return bytes;
}

function textField(o: JsonObject, key: string, what: string): string {
  const value = o[key];
  if (typeof value !== 'string') throw new EvidenceError('malformed', `${what}.${key} is not a string`);
  return value;
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new EvidenceError('malformed', `${what} is not valid JSON`, { cause });
  }
}

function crlField(o: JsonObject, key: string, what: string): Crl {
  const crl = readCrl(byteField(o, key, what), `${what}.${key}`);
  if (crl === undefined) throw new EvidenceError('malformed', `${what}.${key} is not a CRL`);
  return crl;
}

interface Sink {
  tcbInfos: SignedDocument[];
  qeIdentities: SignedDocument[];
  certificates: Certificate[];
  crls: Crl[];
}

function readV3(doc: JsonObject, what: string, into: Sink): void {
  const signed = (body: string, sig: string): SignedDocument => {
    const text = textField(doc, body, what);
    return { body: encoder.encode(text), value: parseJson(text, `${what}.${body}`), signature: signature(doc, sig, what), source: `${what}.${body}` };
  };
  // Each part is optional on its own: what is missing is reported where it is needed.
  if (doc['tcb_info'] !== undefined) into.tcbInfos.push(signed('tcb_info', 'tcb_info_signature'));
  if (doc['qe_identity'] !== undefined) into.qeIdentities.push(signed('qe_identity', 'qe_identity_signature'));
  for (const chain of ['pck_crl_issuer_chain', 'tcb_info_issuer_chain', 'qe_identity_issuer_chain'] as const) {
    if (doc[chain] !== undefined) into.certificates.push(...certificatesFromPem(textField(doc, chain, what), `${what}.${chain}`));
  }
  for (const crl of ['root_ca_crl', 'pck_crl'] as const) {
    if (doc[crl] !== undefined) into.crls.push(crlField(doc, crl, what));
  }
}

/** A PCS body `{"<member>": {...}, "signature": "<hex>"}`, signed over the member's exact text. */
function readPcs(text: string, doc: JsonObject, member: string, what: string): SignedDocument {
  const raw = topLevelMembers(text).get(member);
  if (raw === undefined) throw new EvidenceError('malformed', `${what} names "${member}" more than once`);
  return { body: encoder.encode(raw), value: doc[member], signature: signature(doc, 'signature', what), source: `${what}.${member}` };
}

function readJson(item: Uint8Array, what: string, into: Sink): void {
  let text: string;
  try {
    text = utf8.decode(item);
  } catch (cause) {
    throw new EvidenceError('malformed', `${what} looks like JSON but is not UTF-8`, { cause });
  }
  const value = parseJson(text, what);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  const doc = object(value, what);
  if (V3_KEYS.some((key) => key in doc)) readV3(doc, what, into);
  else if ('tcbInfo' in doc) into.tcbInfos.push(readPcs(text, doc, 'tcbInfo', what));
  else if ('enclaveIdentity' in doc) into.qeIdentities.push(readPcs(text, doc, 'enclaveIdentity', what));
}

const firstNonSpace = (item: Uint8Array): number | undefined => item.find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d);

function readItem(item: Uint8Array, what: string): Sink {
  const into: Sink = { tcbInfos: [], qeIdentities: [], certificates: [], crls: [] };
  if (item.length > MAX_COLLATERAL_ITEM_BYTES) throw new EvidenceError('malformed', `${what} is ${item.length} bytes, more than ${MAX_COLLATERAL_ITEM_BYTES}`);
  if (firstNonSpace(item) === 0x7b) {
    readJson(item, what, into);
    return into;
  }
  const certificates = readCertificates(item, what);
  if (certificates !== undefined) {
    into.certificates.push(...certificates);
    return into;
  }
  const crl = readCrl(item, what);
  if (crl !== undefined) into.crls.push(crl);
  return into;
}

/**
 * Parsed items by content (and position, which messages name). Parsing is a pure function
 * of the bytes, and DER parsing of PCS CRLs and certificates costs far more than the
 * signature checks: a platform seen for the first time then pays for its own PCK chain,
 * not for CRLs every platform shares. Only successful parses of items up to 1 MiB are kept.
 */
const parsedItems = new LruCache<string, Sink>(64);
const MAX_CACHED_ITEM_BYTES = 1024 * 1024;

/** Sorts the collateral items into documents, certificates and CRLs; throws 'malformed' on a broken one. */
export function readCollateral(items: readonly Uint8Array[]): DcapCollateral {
  if (items.length > MAX_COLLATERAL_ITEMS) throw new EvidenceError('malformed', `${items.length} collateral items, more than ${MAX_COLLATERAL_ITEMS}`);
  const into: Sink = { tcbInfos: [], qeIdentities: [], certificates: [], crls: [] };
  items.forEach((item, index) => {
    const what = `collateral item ${index}`;
    let parsed: Sink;
    if (item.length <= MAX_CACHED_ITEM_BYTES) {
      const key = createHash('sha256').update(what).update('\0').update(item).digest('base64');
      parsed = parsedItems.getOrSet(key, () => readItem(item, what));
    } else {
      parsed = readItem(item, what);
    }
    into.tcbInfos.push(...parsed.tcbInfos);
    into.qeIdentities.push(...parsed.qeIdentities);
    into.certificates.push(...parsed.certificates);
    into.crls.push(...parsed.crls);
  });
  const seen = new Set<string>();
  const unique = <T extends { der: Uint8Array }>(list: T[]): T[] =>
    list.filter((x) => {
      const id = Buffer.from(x.der).toString('base64');
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  return { tcbInfos: into.tcbInfos, qeIdentities: into.qeIdentities, certificates: unique(into.certificates), crls: unique(into.crls) };
}
