import { KeyObject, sign } from 'node:crypto';
import { encode, Tag } from 'cbor2';
import { issue, rootCa, type Issued, type Validity } from '../x509/pki.js';

/**
 * Synthetic Nitro attestation documents under a throwaway P-384 PKI, for what the real
 * document cannot show: debug-mode PCRs, a nonce and user data, tag 18, schema breaks.
 * The COSE envelope is written here with cbor2 and node:crypto, independently of the
 * plugin's own code, so a shared mistake cannot make both agree.
 */

export const SYNTH_VALIDITY: Validity = { notBefore: new Date('2025-01-01T00:00:00Z'), notAfter: new Date('2025-12-31T23:59:59Z') };
/** Inside SYNTH_VALIDITY. */
export const SYNTH_NOW = new Date('2025-06-01T12:00:00Z');

export interface Pki {
  readonly root: Issued;
  readonly intermediate: Issued;
  readonly leaf: Issued;
}

/** root (P-384) → intermediate CA (pathlen 0) → signing certificate, as AWS's instance CA does. */
export async function makePki(validity: Validity = SYNTH_VALIDITY, rootName = 'CN=test.nitro-enclaves, O=Covenant tests'): Promise<Pki> {
  const root = await rootCa(rootName, validity, { curve: 'P-384' });
  const intermediate = await issue(root, 'CN=i-0123456789abcdef0.test.nitro-enclaves', validity, { ca: true, curve: 'P-384', pathLength: 0 });
  const leaf = await issue(intermediate, 'CN=i-0123456789abcdef0-enc0123456789abcdef.test', validity, { curve: 'P-384' });
  return { root, intermediate, leaf };
}

const filled = (byte: number, length = 48): Uint8Array => new Uint8Array(length).fill(byte);

/** PCR0..15: 0–4 and 8 set to recognisable bytes, the rest zero, as a production enclave's. */
export function productionPcrs(): Map<number, Uint8Array> {
  const pcrs = new Map<number, Uint8Array>();
  for (let i = 0; i < 16; i++) pcrs.set(i, [0, 1, 2, 3, 4, 8].includes(i) ? filled(0x10 + i) : filled(0));
  return pcrs;
}

/** PCR0–2 zero: what a debug-mode enclave reports. */
export function debugPcrs(): Map<number, Uint8Array> {
  const pcrs = productionPcrs();
  for (const i of [0, 1, 2]) pcrs.set(i, filled(0));
  return pcrs;
}

/** The payload map, in NSM's field order; `changes` replace or add fields, `undefined` removes one. */
export function payload(pki: Pki, changes: Record<string, unknown> = {}): Map<string, unknown> {
  const map = new Map<string, unknown>([
    ['module_id', 'i-0123456789abcdef0-enc0123456789abcdef'],
    ['digest', 'SHA384'],
    ['timestamp', SYNTH_NOW.getTime()],
    ['pcrs', productionPcrs()],
    ['certificate', pki.leaf.der],
    ['cabundle', [pki.root.der, pki.intermediate.der]],
    ['public_key', null],
    ['user_data', null],
    ['nonce', null],
  ]);
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) map.delete(key);
    else map.set(key, value);
  }
  return map;
}

export interface EnvelopeOptions {
  /** Wrap in CBOR tag 18 (tagged COSE_Sign1). */
  readonly tagged?: boolean;
  /** Protected header bytes; default `{1: -35}`. */
  readonly protectedHeader?: Uint8Array;
  readonly unprotected?: Map<unknown, unknown>;
  /** The key that signs; default the PKI's signing certificate key. */
  readonly signer?: Issued;
}

export const ES384_HEADER = encode(new Map([[1, -35]]));

/** A COSE_Sign1 over `content` (a payload map, or raw payload bytes), signed ES384. */
export function envelope(pki: Pki, content: Map<string, unknown> | Uint8Array, options: EnvelopeOptions = {}): Uint8Array {
  const body = content instanceof Uint8Array ? content : encode(content);
  const protectedHeader = options.protectedHeader ?? ES384_HEADER;
  const toBeSigned = encode(['Signature1', protectedHeader, new Uint8Array(0), body]);
  const key = KeyObject.from((options.signer ?? pki.leaf).keys.privateKey);
  const signature = new Uint8Array(sign('sha384', toBeSigned, { key, dsaEncoding: 'ieee-p1363' }));
  const sign1 = [protectedHeader, options.unprotected ?? new Map(), body, signature];
  return encode(options.tagged ? new Tag(18, sign1) : sign1);
}

/** A signed synthetic document with `changes` applied to the default payload. */
export function document(pki: Pki, changes: Record<string, unknown> = {}, options: EnvelopeOptions = {}): Uint8Array {
  return envelope(pki, payload(pki, changes), options);
}
