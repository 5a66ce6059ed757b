import { EvidenceError } from '../plugin.js';
import { decodeStrict, isBytes, plainBytes } from './cbor.js';

/**
 * The attestation document inside the COSE payload, read strictly by AWS's schema
 * (aws-nitro-enclaves-nsm-api, docs/attestation_process.md §2.2 and §3.2.2): exactly the
 * nine known fields, the mandatory ones present and non-null, every value of its type
 * and within its size. Anything else is 'malformed'; a digest other than SHA384 is
 * 'unsupported'.
 */

export interface AttestationDocument {
  readonly moduleId: string;
  /** Milliseconds since the Unix epoch, as the Nitro hypervisor wrote it. */
  readonly timestamp: number;
  readonly digest: 'SHA384';
  /** PCR index → value; at least PCR0, PCR1 and PCR2. */
  readonly pcrs: ReadonlyMap<number, Uint8Array>;
  /** The signing (leaf) certificate, DER. */
  readonly certificate: Uint8Array;
  /** The issuing chain, DER, root first: `[ROOT, INTERM_1, …, INTERM_N]`. */
  readonly cabundle: readonly Uint8Array[];
  readonly publicKey?: Uint8Array;
  readonly userData?: Uint8Array;
  readonly nonce?: Uint8Array;
}

/** AWS's size bounds (bytes). */
export const LIMITS = {
  certificate: 1024,
  cabundle: 16,
  pcrs: 32,
  publicKey: 1024,
  userData: 512,
  nonce: 512,
} as const;

const PCR_SIZES: readonly number[] = [32, 48, 64];
/** The largest time a JavaScript Date holds: a later timestamp cannot be a real one. */
const MAX_TIMESTAMP_MS = 8.64e15;

const FIELDS = new Set(['module_id', 'digest', 'timestamp', 'pcrs', 'certificate', 'cabundle', 'public_key', 'user_data', 'nonce']);

const bad = (message: string): EvidenceError => new EvidenceError('malformed', `attestation document: ${message}`);

function readPcrs(value: unknown): Map<number, Uint8Array> {
  if (!(value instanceof Map)) throw bad('pcrs is not a map');
  if (value.size === 0 || value.size > LIMITS.pcrs) throw bad(`pcrs holds ${value.size} entries, not 1..${LIMITS.pcrs}`);
  const pcrs = new Map<number, Uint8Array>();
  for (const [index, pcr] of value as Map<unknown, unknown>) {
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= LIMITS.pcrs) {
      throw bad(`PCR index ${String(index)} is not an integer 0..${LIMITS.pcrs - 1}`);
    }
    if (!isBytes(pcr) || !PCR_SIZES.includes(pcr.length)) throw bad(`PCR${index} is not a byte string of ${PCR_SIZES.join('/')} bytes`);
    pcrs.set(index, plainBytes(pcr));
  }
  for (const required of [0, 1, 2]) {
    if (!pcrs.has(required)) throw bad(`PCR${required} is missing`);
  }
  return pcrs;
}

function readDer(value: unknown, what: string): Uint8Array {
  if (!isBytes(value) || value.length === 0 || value.length > LIMITS.certificate) {
    throw bad(`${what} is not a byte string of 1..${LIMITS.certificate} bytes`);
  }
  return plainBytes(value);
}

function readCabundle(value: unknown): Uint8Array[] {
  if (!Array.isArray(value)) throw bad('cabundle is not an array');
  if (value.length === 0 || value.length > LIMITS.cabundle) throw bad(`cabundle holds ${value.length} certificates, not 1..${LIMITS.cabundle}`);
  return value.map((item: unknown, i) => readDer(item, `cabundle[${i}]`));
}

/** An optional byte string: absent and null both mean "not given", as NSM writes null. */
function readOptional(value: unknown, what: string, min: number, max: number): Uint8Array | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isBytes(value) || value.length < min || value.length > max) throw bad(`${what} is not a byte string of ${min}..${max} bytes`);
  return plainBytes(value);
}

export function parseDocument(payload: Uint8Array): AttestationDocument {
  const map = decodeStrict(payload, 'the attestation document payload');
  if (!(map instanceof Map)) throw bad('the payload is not a map');
  for (const key of (map as Map<unknown, unknown>).keys()) {
    if (typeof key !== 'string' || !FIELDS.has(key)) throw bad(`unknown field ${JSON.stringify(String(key)).slice(0, 80)}`);
  }
  const get = (key: string): unknown => (map as Map<string, unknown>).get(key);
  const required = (key: string): unknown => {
    const value = get(key);
    if (value === undefined || value === null) throw bad(`${key} is missing`);
    return value;
  };

  const moduleId = required('module_id');
  if (typeof moduleId !== 'string' || moduleId.length === 0) throw bad('module_id is not a non-empty text string');
  const digest = required('digest');
  if (typeof digest !== 'string') throw bad('digest is not a text string');
  if (digest !== 'SHA384') throw new EvidenceError('unsupported', `attestation document digest ${JSON.stringify(digest.slice(0, 40))} is not SHA384`);
  const timestamp = required('timestamp');
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp <= 0 || timestamp > MAX_TIMESTAMP_MS) {
    throw bad('timestamp is not a positive integer of milliseconds');
  }
  const pcrs = readPcrs(required('pcrs'));
  const certificate = readDer(required('certificate'), 'certificate');
  const cabundle = readCabundle(required('cabundle'));
  const publicKey = readOptional(get('public_key'), 'public_key', 1, LIMITS.publicKey);
  const userData = readOptional(get('user_data'), 'user_data', 0, LIMITS.userData);
  const nonce = readOptional(get('nonce'), 'nonce', 0, LIMITS.nonce);

  return {
    moduleId,
    timestamp,
    digest,
    pcrs,
    certificate,
    cabundle,
    ...(publicKey === undefined ? {} : { publicKey }),
    ...(userData === undefined ? {} : { userData }),
    ...(nonce === undefined ? {} : { nonce }),
  };
}
