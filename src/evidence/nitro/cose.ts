import { verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { EvidenceError } from '../plugin.js';
import { decodeStrict, isBytes, isTag, plainBytes } from './cbor.js';

/**
 * The slice of COSE_Sign1 (RFC 9052 §4.2) that Nitro attestation documents use:
 * `[protected: bstr .cbor {1: -35}, unprotected: {}, payload: bstr, signature: bstr]`,
 * untagged as the NSM returns it, or under tag 18. The protected header must be exactly
 * alg ES384: any other algorithm, and any further protected parameter (`crit` among them),
 * is refused rather than half-understood.
 */

export const COSE_SIGN1_TAG = 18;
export const COSE_ALG_ES384 = -35;
const HEADER_ALG = 1;

/** A P-384 signature as COSE writes it: r ‖ s, 48 bytes each. */
export const ES384_SIGNATURE_BYTES = 96;
/** AWS bounds the attestation document (the payload) at 16 KiB. */
export const MAX_PAYLOAD_BYTES = 16 * 1024;
/** The payload plus the envelope, with room to spare: larger input is refused unread. */
export const MAX_DOCUMENT_BYTES = MAX_PAYLOAD_BYTES + 1024;

export interface CoseSign1 {
  /** The protected header exactly as received: the signature covers these bytes. */
  readonly protectedHeader: Uint8Array;
  readonly payload: Uint8Array;
  readonly signature: Uint8Array;
}

function checkProtectedHeader(bytes: Uint8Array): void {
  const header = decodeStrict(bytes, 'the COSE protected header');
  if (!(header instanceof Map)) throw new EvidenceError('malformed', 'the COSE protected header is not a map');
  const alg: unknown = header.get(HEADER_ALG);
  if (alg === undefined) throw new EvidenceError('unsupported', 'the COSE protected header names no algorithm');
  if (alg !== COSE_ALG_ES384) throw new EvidenceError('unsupported', `COSE algorithm ${String(alg)} is not ES384 (${COSE_ALG_ES384})`);
  if (header.size !== 1) {
    const others = [...header.keys()].filter((k) => k !== HEADER_ALG).map(String).join(', ');
    throw new EvidenceError('unsupported', `the COSE protected header carries parameters besides alg: ${others}`);
  }
}

/** Parses the envelope and checks its header; the signature is checked by `verifySign1`. */
export function parseSign1(bytes: Uint8Array): CoseSign1 {
  if (bytes.length === 0) throw new EvidenceError('malformed', 'the attestation document is empty');
  if (bytes.length > MAX_DOCUMENT_BYTES) {
    throw new EvidenceError('malformed', `the attestation document is ${bytes.length} bytes, more than ${MAX_DOCUMENT_BYTES}`);
  }
  let top = decodeStrict(bytes, 'the attestation document');
  if (isTag(top)) {
    if (Number(top.tag) !== COSE_SIGN1_TAG) throw new EvidenceError('malformed', `the attestation document has CBOR tag ${String(top.tag)}, not COSE_Sign1 (18)`);
    top = top.contents;
  }
  if (!Array.isArray(top) || top.length !== 4) throw new EvidenceError('malformed', 'the attestation document is not a COSE_Sign1 array of four items');
  const [protectedHeader, unprotected, payload, signature] = top as unknown[];
  if (!isBytes(protectedHeader)) throw new EvidenceError('malformed', 'the COSE protected header is not a byte string');
  if (!(unprotected instanceof Map)) throw new EvidenceError('malformed', 'the COSE unprotected header is not a map');
  // NSM leaves it empty; anything there would be unauthenticated, so it has no place.
  if (unprotected.size !== 0) throw new EvidenceError('malformed', 'the COSE unprotected header is not empty');
  if (!isBytes(payload)) throw new EvidenceError('malformed', 'the COSE payload is not a byte string (detached payloads are not used by Nitro)');
  if (payload.length === 0 || payload.length > MAX_PAYLOAD_BYTES) {
    throw new EvidenceError('malformed', `the COSE payload is ${payload.length} bytes, not 1..${MAX_PAYLOAD_BYTES}`);
  }
  if (!isBytes(signature)) throw new EvidenceError('malformed', 'the COSE signature is not a byte string');
  checkProtectedHeader(protectedHeader);
  if (signature.length !== ES384_SIGNATURE_BYTES) {
    throw new EvidenceError('signature', `the ES384 signature is ${signature.length} bytes, not ${ES384_SIGNATURE_BYTES}`);
  }
  return { protectedHeader: plainBytes(protectedHeader), payload: plainBytes(payload), signature: plainBytes(signature) };
}

/** The CBOR head of a byte string of `length` bytes (major type 2, shortest form). */
function bstrHead(length: number): Uint8Array {
  if (length < 24) return Uint8Array.of(0x40 | length);
  if (length < 0x100) return Uint8Array.of(0x58, length);
  if (length < 0x10000) return Uint8Array.of(0x59, length >> 8, length & 0xff);
  const head = new Uint8Array(5);
  head[0] = 0x5a;
  new DataView(head.buffer).setUint32(1, length);
  return head;
}

/** `["Signature1", protected, h'', payload]`, the bytes a COSE_Sign1 signature covers. */
export function sigStructure(sign1: Pick<CoseSign1, 'protectedHeader' | 'payload'>): Uint8Array {
  const context = new TextEncoder().encode('Signature1');
  return Buffer.concat([
    Uint8Array.of(0x84, 0x60 | context.length),
    context,
    bstrHead(sign1.protectedHeader.length),
    sign1.protectedHeader,
    Uint8Array.of(0x40),
    bstrHead(sign1.payload.length),
    sign1.payload,
  ]);
}

/** Checks the ES384 signature with `key` (the leaf certificate's P-384 key), or refuses 'signature'. */
export function verifySign1(sign1: CoseSign1, key: KeyObject): void {
  let ok: boolean;
  try {
    ok = cryptoVerify('sha384', sigStructure(sign1), { key, dsaEncoding: 'ieee-p1363' }, sign1.signature);
  } catch (cause) {
    throw new EvidenceError('signature', 'the attestation document signature could not be checked', { cause });
  }
  if (!ok) throw new EvidenceError('signature', 'the attestation document signature does not verify with the signing certificate key');
}
