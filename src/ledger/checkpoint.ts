/**
 * C2SP tlog-checkpoint bodies (https://c2sp.org/tlog-checkpoint): the note text a
 * log signs to commit to its tree size and root.
 */
import type { KeyObject } from 'node:crypto';
import { CovenantError } from '../core/errors.js';
import { HASH_SIZE } from './merkle.js';
import { checkNoteText, decodeStrictBase64, isValidKeyName, signNote, verifyNote, type VerifierKey } from './note.js';

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Uint8Array;
}

export interface ParsedCheckpoint extends Checkpoint {
  readonly root: Buffer;
  /** Optional lines after the root; a log may add them, we never write any. */
  readonly extensions: string[];
}

function bad(message: string): CovenantError {
  return new CovenantError('bad-request', message);
}

export function formatCheckpoint(cp: Checkpoint): string {
  if (!isValidKeyName(cp.origin)) throw bad('checkpoint origin must be non-empty with no spaces, "+" or control characters');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw bad(`checkpoint size must be a non-negative safe integer, got ${String(cp.size)}`);
  if (cp.root.length !== HASH_SIZE) throw bad(`checkpoint root must be ${HASH_SIZE} bytes, got ${cp.root.length}`);
  return `${cp.origin}\n${cp.size}\n${Buffer.from(cp.root).toString('base64')}\n`;
}

export function parseCheckpoint(text: string): ParsedCheckpoint {
  if (typeof text !== 'string') throw bad('checkpoint must be a string');
  checkNoteText(text);
  const lines = text.slice(0, -1).split('\n');
  if (lines.length < 3) throw bad('checkpoint needs an origin, a size and a root line');
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (!isValidKeyName(origin)) throw bad('checkpoint origin must be non-empty with no spaces, "+" or control characters');
  if (!/^(0|[1-9][0-9]*)$/.test(sizeText)) throw bad('checkpoint size must be a decimal number without leading zeros');
  const size = sizeText.length > 16 ? Number.NaN : Number(sizeText);
  if (!Number.isSafeInteger(size)) throw bad('checkpoint size exceeds 2^53 - 1');
  const root = decodeStrictBase64(rootText, 'checkpoint root');
  if (root.length !== HASH_SIZE) throw bad(`checkpoint root must be ${HASH_SIZE} bytes, got ${root.length}`);
  if (extensions.some((line) => line.length === 0)) throw bad('checkpoint extension lines must not be empty');
  return { origin, size, root, extensions };
}

/** The log key name SHOULD equal the origin, but the caller decides. */
export function signCheckpoint(cp: Checkpoint, keyName: string, privateKey: KeyObject): string {
  return signNote(formatCheckpoint(cp), keyName, privateKey);
}

/**
 * Verifies the note with the log's key and parses its body. With `origin`, a
 * checkpoint for another log is rejected even if the same key signed it.
 */
export function openCheckpoint(note: string | Uint8Array, verifierKey: VerifierKey, options: { origin?: string } = {}): ParsedCheckpoint {
  const { text } = verifyNote(note, [verifierKey]);
  const cp = parseCheckpoint(text);
  if (options.origin !== undefined && cp.origin !== options.origin) {
    throw bad(`checkpoint origin does not match the expected ${JSON.stringify(options.origin)}`);
  }
  return cp;
}
