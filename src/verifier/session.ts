import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { base64url } from 'jose';
import { z } from 'zod';
import { CovenantError } from '../core/errors.js';

/**
 * Attestation sessions (the challenge of challenge-response) without a write per
 * challenge: the session id is the session itself — workload, nonce, expiry and a
 * random id — MACed with the tenant's session key (HMAC-SHA-256). Opening one needs
 * only that key, so any replica holding it can take the evidence, and a busy fleet's
 * challenges cost no storage. Single use is enforced where the evidence is consumed:
 * the verdict records the random id in the same transaction as its ledger entry.
 */

export const DEFAULT_SESSION_SECONDS = 60;
export const DEFAULT_NONCE_BYTES = 32;
/** RFC 9711 `eat_nonce` bounds, which Veraison's API uses too. */
export const MIN_NONCE_BYTES = 8;
export const MAX_NONCE_BYTES = 64;
export const SESSION_KEY_BYTES = 32;

/** Domain separation: this key MACs nothing else, but the label keeps it so if it ever does. */
const MAC_LABEL = 'covenant attestation session v1\n';
/** Longer than any valid session id (128-character workload, 64-byte nonce): refused unread. */
const MAX_SESSION_ID_LENGTH = 600;

export interface AttestationSession {
  /** Random UUID: what the ledger and the spent-session table record. */
  readonly id: string;
  readonly workload: string;
  readonly nonce: Uint8Array;
  readonly expiresAt: Date;
}

const payloadSchema = z.strictObject({
  i: z.uuid(),
  w: z.string().min(1).max(128),
  n: z.string().regex(/^[A-Za-z0-9_-]+$/),
  e: z.int().positive(),
});

/** Payload, then the 32-byte HMAC in 43 base64url characters. */
const SESSION_ID = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/;

const notFound = (): CovenantError => new CovenantError('not-found', 'no such attestation session');

export function newSessionKey(): Uint8Array {
  return new Uint8Array(randomBytes(SESSION_KEY_BYTES));
}

/** Nonces an attester may propose must still be unpredictable to others; the size is bounded like EAT's. */
export function checkNonce(nonce: Uint8Array): Uint8Array {
  if (nonce.length < MIN_NONCE_BYTES || nonce.length > MAX_NONCE_BYTES) {
    throw new CovenantError('bad-request', `nonce must be ${MIN_NONCE_BYTES}..${MAX_NONCE_BYTES} bytes, got ${nonce.length}`);
  }
  return nonce;
}

export class SessionCodec {
  readonly #key: Uint8Array;

  constructor(key: Uint8Array) {
    if (key.length < SESSION_KEY_BYTES) throw new CovenantError('internal', `session key must be at least ${SESSION_KEY_BYTES} bytes`);
    this.#key = key;
  }

  /** A new session: `nonce` when the attester proposed one, else `nonceBytes` random bytes. */
  create(workload: string, now: Date, options: { nonce?: Uint8Array; nonceBytes?: number; lifetimeSeconds?: number } = {}): { token: string; session: AttestationSession } {
    const nonce = checkNonce(options.nonce ?? new Uint8Array(randomBytes(options.nonceBytes ?? DEFAULT_NONCE_BYTES)));
    const lifetime = options.lifetimeSeconds ?? DEFAULT_SESSION_SECONDS;
    const session: AttestationSession = {
      id: randomUUID(),
      workload,
      nonce,
      expiresAt: new Date((Math.floor(now.getTime() / 1000) + lifetime) * 1000),
    };
    const payload = base64url.encode(
      JSON.stringify({ i: session.id, w: workload, n: base64url.encode(nonce), e: session.expiresAt.getTime() / 1000 }),
    );
    return { token: `${payload}.${base64url.encode(this.#mac(payload))}`, session };
  }

  /**
   * The session a token names, if this key made it and it has not expired at `now`.
   * Anything else is "no such session": an attacker learns nothing from the reason.
   */
  open(token: string, now: Date): AttestationSession {
    // One spelling per session: base64url decoders skip stray characters, which would
    // let the same session travel under many ids.
    if (token.length > MAX_SESSION_ID_LENGTH || !SESSION_ID.test(token)) throw notFound();
    const dot = token.indexOf('.');
    const payload = token.slice(0, dot);
    // Compared as text: 43 base64url characters carry two spare bits, so comparing the
    // decoded bytes would accept four spellings of one MAC.
    const given = Buffer.from(token.slice(dot + 1), 'latin1');
    const expected = Buffer.from(base64url.encode(this.#mac(payload)), 'latin1');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw notFound();
    // Authentic from here on: a parse failure would be our own bug, still not the caller's business.
    let parsed: ReturnType<typeof payloadSchema.safeParse>;
    try {
      parsed = payloadSchema.safeParse(JSON.parse(Buffer.from(base64url.decode(payload)).toString('utf8')));
    } catch {
      throw notFound();
    }
    if (!parsed.success) throw notFound();
    const session: AttestationSession = {
      id: parsed.data.i,
      workload: parsed.data.w,
      nonce: base64url.decode(parsed.data.n),
      expiresAt: new Date(parsed.data.e * 1000),
    };
    if (now.getTime() >= session.expiresAt.getTime()) {
      throw new CovenantError('session-expired', `attestation session expired at ${session.expiresAt.toISOString()}; start a new one`);
    }
    return session;
  }

  #mac(payload: string): Uint8Array {
    return new Uint8Array(createHmac('sha256', this.#key).update(MAC_LABEL).update(payload).digest());
  }
}
