import { EvidenceError } from '../plugin.js';

/**
 * Typed reads from parsed collateral JSON. Collateral is signed, but it is read before the
 * signature is known to be good and a verifier may be handed anything, so every field is
 * checked for type and range and a wrong one is 'malformed', naming the document and field.
 */

export type JsonObject = Readonly<Record<string, unknown>>;

export function object(value: unknown, what: string): JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new EvidenceError('malformed', `${what} is not a JSON object`);
  return value as JsonObject;
}

export function string(o: JsonObject, key: string, what: string): string {
  const value = o[key];
  if (typeof value !== 'string') throw new EvidenceError('malformed', `${what}.${key} is not a string`);
  return value;
}

export function integer(o: JsonObject, key: string, what: string, max: number): number {
  const value = o[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new EvidenceError('malformed', `${what}.${key} is not an integer from 0 to ${max}`);
  }
  return value;
}

export function array(o: JsonObject, key: string, what: string, max: number): readonly unknown[] {
  const value = o[key];
  if (!Array.isArray(value)) throw new EvidenceError('malformed', `${what}.${key} is not an array`);
  if (value.length > max) throw new EvidenceError('malformed', `${what}.${key} has ${value.length} entries, more than ${max}`);
  return value;
}

/** Hex of exactly `bytes` bytes, either case (Intel writes upper case). */
export function hex(o: JsonObject, key: string, what: string, bytes: number): Uint8Array {
  const value = string(o, key, what);
  if (value.length !== bytes * 2 || !/^[0-9a-fA-F]*$/.test(value)) throw new EvidenceError('malformed', `${what}.${key} is not ${bytes} bytes of hex`);
  return new Uint8Array(Buffer.from(value, 'hex'));
}

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?Z$/;

/** An RFC 3339 UTC time, as PCS writes them (`2025-06-19T10:56:11Z`). */
export function date(o: JsonObject, key: string, what: string): Date {
  const value = string(o, key, what);
  const time = ISO_UTC.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(time)) throw new EvidenceError('malformed', `${what}.${key} is not a UTC date-time`);
  return new Date(time);
}

/** Optional list of advisory ids (strings). */
export function advisoryIds(o: JsonObject, what: string): readonly string[] {
  if (o['advisoryIDs'] === undefined) return [];
  return array(o, 'advisoryIDs', what, 1_024).map((id, i) => {
    if (typeof id !== 'string' || id.length > 64) throw new EvidenceError('malformed', `${what}.advisoryIDs[${i}] is not an advisory id`);
    return id;
  });
}
