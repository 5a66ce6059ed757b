/**
 * C2SP signed notes (https://c2sp.org/signed-note), Ed25519 keys only.
 *
 * Notes arrive from untrusted parties (witnesses, auditors' files), so parsing is
 * strict and bounded, and every failure is a CovenantError 'bad-request'.
 */
import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { CovenantError } from '../core/errors.js';

const ED25519 = 0x01;
const ED25519_KEY_SIZE = 32;
const ED25519_SIG_SIZE = 64;
const SIG_PREFIX = '\u2014 ';
export const MAX_NOTE_BYTES = 1024 * 1024;
/** The spec requires accepting at least 16; the bound keeps verification cost fixed. */
export const MAX_SIGNATURES = 100;

export interface VerifierKey {
  readonly name: string;
  /** Big-endian uint32 of the 4-byte key ID. */
  readonly keyId: number;
  readonly publicKey: KeyObject;
  /** The canonical `<name>+<hex id>+<base64>` text. */
  readonly text: string;
}

export interface VerifiedNote {
  readonly text: string;
  /** Names of the keys whose signatures verified, without repeats, in note order. */
  readonly verifiedBy: string[];
}

function bad(message: string): CovenantError {
  return new CovenantError('bad-request', message);
}

// Names come from untrusted input; keep error messages short.
function quote(value: string): string {
  return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
}

/** Standard padded base64 that must re-encode to the same text; rejects non-canonical padding bits. */
export function decodeStrictBase64(text: string, what: string): Buffer {
  const bytes = Buffer.from(text, 'base64');
  if (text.length === 0 || bytes.toString('base64') !== text) throw bad(`${what} is not canonical base64`);
  return bytes;
}

/** Key names (and checkpoint origins) are non-empty, with no Unicode space or '+'. */
export function isValidKeyName(name: string): boolean {
  return name.length > 0 && !/[\s\u0085+]/u.test(name) && !hasForbiddenChars(name, false) && isWellFormed(name);
}

/** C0 controls and DEL are the "ASCII control characters"; newline is allowed only in text. */
export function hasForbiddenChars(text: string, allowNewline: boolean): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && !(allowNewline && c === 0x0a)) || c === 0x7f) return true;
  }
  return false;
}

// A JS string is valid UTF-8 exactly when it has no unpaired surrogate.
function isWellFormed(text: string): boolean {
  return !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}

function keyIdOf(name: string, publicKey: Uint8Array): number {
  const digest = createHash('sha256').update(name, 'utf8').update(Buffer.of(0x0a, ED25519)).update(publicKey).digest();
  return digest.readUInt32BE(0);
}

function rawEd25519(key: KeyObject): Buffer {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw bad(`signed notes need an Ed25519 key, got ${key.asymmetricKeyType ?? key.type}`);
  }
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  return Buffer.from(String(jwk.x), 'base64url');
}

function ed25519FromRaw(raw: Uint8Array): KeyObject {
  try {
    return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' });
  } catch (cause) {
    throw new CovenantError('bad-request', 'Ed25519 public key is not valid', { cause });
  }
}

function hex8(id: number): string {
  return id.toString(16).padStart(8, '0');
}

export function formatVerifierKey(name: string, publicKey: KeyObject | Uint8Array): string {
  if (!isValidKeyName(name)) throw bad(`invalid key name ${quote(name)}`);
  const raw = publicKey instanceof Uint8Array ? Buffer.from(publicKey) : rawEd25519(publicKey);
  if (raw.length !== ED25519_KEY_SIZE) throw bad(`Ed25519 public key must be ${ED25519_KEY_SIZE} bytes, got ${raw.length}`);
  return `${name}+${hex8(keyIdOf(name, raw))}+${Buffer.concat([Buffer.of(ED25519), raw]).toString('base64')}`;
}

export function parseVerifierKey(text: string): VerifierKey {
  if (typeof text !== 'string') throw bad('verifier key must be a string');
  // Base64 may itself contain '+', so only the first two separate fields.
  const first = text.indexOf('+');
  const second = first < 0 ? -1 : text.indexOf('+', first + 1);
  if (second < 0) throw bad('verifier key must have the form <name>+<hex key id>+<base64 key>');
  const name = text.slice(0, first);
  const id = text.slice(first + 1, second);
  const b64 = text.slice(second + 1);
  if (!isValidKeyName(name)) throw bad(`invalid key name ${quote(name)} in verifier key`);
  if (!/^[0-9a-f]{8}$/.test(id)) throw bad('verifier key id must be 8 lowercase hex digits');
  const key = decodeStrictBase64(b64, 'verifier key');
  if (key[0] !== ED25519) throw bad(`unsupported verifier key type 0x${(key[0] ?? 0).toString(16).padStart(2, '0')}; only Ed25519 (0x01) is supported`);
  const raw = key.subarray(1);
  if (raw.length !== ED25519_KEY_SIZE) throw bad(`Ed25519 verifier key must be ${ED25519_KEY_SIZE} bytes, got ${raw.length}`);
  const keyId = parseInt(id, 16);
  if (keyId !== keyIdOf(name, raw)) throw bad(`verifier key id ${id} does not match the key and name`);
  return { name, keyId, publicKey: ed25519FromRaw(raw), text };
}

/** Note text rules: valid UTF-8, no control character but newline, final newline. */
export function checkNoteText(text: string): void {
  if (!isWellFormed(text)) throw bad('note text is not valid UTF-8');
  if (hasForbiddenChars(text, true)) throw bad('note text contains a control character other than newline');
  if (!text.endsWith('\n')) throw bad('note text must end with a newline');
}

export function signNote(text: string, name: string, privateKey: KeyObject): string {
  checkNoteText(text);
  if (!isValidKeyName(name)) throw bad(`invalid key name ${quote(name)}`);
  if (privateKey.type !== 'private') throw bad('signing a note needs a private key');
  const keyId = keyIdOf(name, rawEd25519(privateKey));
  const signature = sign(null, Buffer.from(text, 'utf8'), privateKey);
  const payload = Buffer.alloc(4 + signature.length);
  payload.writeUInt32BE(keyId, 0);
  signature.copy(payload, 4);
  return `${text}\n${SIG_PREFIX}${name} ${payload.toString('base64')}\n`;
}

function toText(note: string | Uint8Array): string {
  if (typeof note === 'string') {
    if (note.length > MAX_NOTE_BYTES || Buffer.byteLength(note, 'utf8') > MAX_NOTE_BYTES) throw bad(`note exceeds ${MAX_NOTE_BYTES} bytes`);
    return note;
  }
  if (!(note instanceof Uint8Array)) throw bad('note must be a string or bytes');
  if (note.length > MAX_NOTE_BYTES) throw bad(`note exceeds ${MAX_NOTE_BYTES} bytes`);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(note);
  } catch (cause) {
    throw new CovenantError('bad-request', 'note is not valid UTF-8', { cause });
  }
}

interface SignatureLine {
  readonly name: string;
  readonly keyId: number;
  readonly signature: Buffer;
}

function parseSignatureLine(line: string): SignatureLine {
  if (!line.startsWith(SIG_PREFIX)) throw bad('note signature line must start with an em dash and a space');
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(' ');
  if (space < 0) throw bad('note signature line must be "— <name> <base64>"');
  const name = rest.slice(0, space);
  if (!isValidKeyName(name)) throw bad(`invalid key name ${quote(name)} in note signature`);
  const payload = decodeStrictBase64(rest.slice(space + 1), 'note signature');
  if (payload.length < 5) throw bad('note signature is too short');
  return { name, keyId: payload.readUInt32BE(0), signature: payload.subarray(4) };
}

/**
 * Verifies a signed note against known keys. Signatures by unknown (name, key id)
 * pairs are ignored; a known key's bad signature, or no good signature at all,
 * rejects the note.
 */
export function verifyNote(note: string | Uint8Array, verifiers: readonly VerifierKey[]): VerifiedNote {
  const message = toText(note);
  if (!isWellFormed(message)) throw bad('note is not valid UTF-8');
  if (hasForbiddenChars(message, true)) throw bad('note contains a control character other than newline');
  // Signature lines are never empty, so the last blank line is the separator.
  const split = message.lastIndexOf('\n\n');
  if (split < 0) throw bad('note has no blank line before its signatures');
  const text = message.slice(0, split + 1);
  const block = message.slice(split + 2);
  if (block.length === 0 || !block.endsWith('\n')) throw bad('note signature block must be non-empty and end with a newline');
  const lines = block.slice(0, -1).split('\n');
  if (lines.length > MAX_SIGNATURES) throw bad(`note has more than ${MAX_SIGNATURES} signatures`);

  const signed = Buffer.from(text, 'utf8');
  const verifiedBy: string[] = [];
  for (const line of lines) {
    const sig = parseSignatureLine(line);
    const key = verifiers.find((v) => v.name === sig.name && v.keyId === sig.keyId);
    if (key === undefined) continue;
    const ok = sig.signature.length === ED25519_SIG_SIZE && verify(null, signed, key.publicKey, sig.signature);
    if (!ok) throw bad(`note signature by ${quote(sig.name)} does not verify`);
    if (!verifiedBy.includes(sig.name)) verifiedBy.push(sig.name);
  }
  if (verifiedBy.length === 0) throw bad('note has no signature from a known key');
  return { text, verifiedBy };
}
