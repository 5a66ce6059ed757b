import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { EvidenceError } from '../plugin.js';

/**
 * The HCL runtime data: the JSON the paravisor hashes into the SNP REPORT_DATA. It names
 * the vTPM's keys as JWKs (`HCLAkPub`, the attestation key; `HCLEkPub`, the endorsement
 * key) and the VM's configuration (`vm-configuration`: secure-boot, tpm-enabled,
 * console-enabled, vmUniqueId…). Once its hash matches the signed REPORT_DATA, every
 * member is as trustworthy as the SNP report itself; this module only reads it.
 */

export const AK_KEY_ID = 'HCLAkPub';
const EK_KEY_ID = 'HCLEkPub';
const MAX_KEYS = 16;
const MAX_CONFIG_MEMBERS = 64;
const MAX_TEXT = 1024;
const MIN_RSA_BITS = 2048;
const MAX_RSA_BITS = 4096;
// Node's JWK import skips characters outside the alphabet instead of refusing them.
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export interface RuntimeData {
  /** The vTPM attestation key, RSA. */
  readonly ak: KeyObject;
  /** RFC 7638 thumbprint (SHA-256, base64url) of the AK. */
  readonly akThumbprint: string;
  readonly ekThumbprint?: string;
  /** The primitive members of `vm-configuration`, as given. */
  readonly vmConfiguration: Readonly<Record<string, string | number | boolean>>;
  readonly userData?: string;
}

function malformed(message: string, cause?: unknown): never {
  throw new EvidenceError('malformed', `HCL runtime data: ${message}`, cause === undefined ? {} : { cause });
}

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** RFC 7638: SHA-256 over the required members, in lexicographic order, no whitespace. */
export function rsaThumbprint(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  return createHash('sha256').update(JSON.stringify({ e: jwk.e, kty: 'RSA', n: jwk.n })).digest('base64url');
}

function rsaKey(jwk: Record<string, unknown>, kid: string): KeyObject {
  if (jwk['kty'] !== 'RSA') throw new EvidenceError('unsupported', `HCL runtime data: ${kid} is a ${JSON.stringify(jwk['kty'])} key (only RSA)`);
  const { n, e } = jwk;
  if (typeof n !== 'string' || typeof e !== 'string' || n.length > MAX_TEXT || e.length > 16 || !BASE64URL.test(n) || !BASE64URL.test(e)) {
    malformed(`${kid} has no usable n and e`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: { kty: 'RSA', n, e }, format: 'jwk' });
  } catch (cause) {
    malformed(`${kid} is not a valid RSA public key`, cause);
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    throw new EvidenceError('unsupported', `HCL runtime data: ${kid} is ${bits}-bit RSA (only ${MIN_RSA_BITS} to ${MAX_RSA_BITS})`);
  }
  return key;
}

function keyById(keys: readonly unknown[], kid: string): Record<string, unknown> | undefined {
  const found = keys.filter((k): k is Record<string, unknown> => isObject(k) && k['kid'] === kid);
  // Two keys under one id would let the sender choose which one we believe.
  if (found.length > 1) malformed(`${found.length} keys named ${kid}`);
  return found[0];
}

function vmConfiguration(value: unknown): Record<string, string | number | boolean> {
  if (value === undefined) return {};
  if (!isObject(value)) malformed('vm-configuration is not an object');
  const entries = Object.entries(value).filter(
    (entry): entry is [string, string | number | boolean] =>
      (typeof entry[1] === 'string' && entry[1].length <= MAX_TEXT) || typeof entry[1] === 'number' || typeof entry[1] === 'boolean',
  );
  if (entries.length > MAX_CONFIG_MEMBERS) malformed(`vm-configuration has more than ${MAX_CONFIG_MEMBERS} members`);
  // fromEntries defines own properties, so even a member named __proto__ stays plain data.
  return Object.fromEntries(entries);
}

/** The EK is only reported, never used: one we cannot read is left out rather than refused. */
function optionalThumbprint(jwk: Record<string, unknown> | undefined): string | undefined {
  if (jwk === undefined) return undefined;
  try {
    return rsaThumbprint(rsaKey(jwk, EK_KEY_ID));
  } catch {
    return undefined;
  }
}

export function parseRuntimeData(bytes: Uint8Array): RuntimeData {
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    malformed('not UTF-8 JSON', cause);
  }
  if (!isObject(document)) malformed('not a JSON object');
  const keys = document['keys'];
  if (!Array.isArray(keys)) throw new EvidenceError('missing-collateral', 'HCL runtime data carries no keys, so no vTPM attestation key');
  if (keys.length > MAX_KEYS) malformed(`more than ${MAX_KEYS} keys`);
  const akJwk = keyById(keys, AK_KEY_ID);
  if (akJwk === undefined) throw new EvidenceError('missing-collateral', `HCL runtime data has no ${AK_KEY_ID} key, so no vTPM attestation key`);
  const ak = rsaKey(akJwk, AK_KEY_ID);
  const ekThumbprint = optionalThumbprint(keyById(keys, EK_KEY_ID));
  const userData = document['user-data'];
  return {
    ak,
    akThumbprint: rsaThumbprint(ak),
    ...(ekThumbprint === undefined ? {} : { ekThumbprint }),
    vmConfiguration: vmConfiguration(document['vm-configuration']),
    ...(typeof userData === 'string' && userData.length <= MAX_TEXT ? { userData } : {}),
  };
}
