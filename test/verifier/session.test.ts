import fc from 'fast-check';
import { base64url } from 'jose';
import { describe, expect, it } from 'vitest';
import { CovenantError } from '../../src/core/errors.js';
import { newSessionKey, SessionCodec } from '../../src/verifier/session.js';
import { rejection } from '../support/errors.js';
import { codec, SESSION_IDS, SESSION_TIME, VALID_SESSION } from './attestation-inputs.js';

/** The same MAC bytes with the last character's two unused bits set differently. */
function spareBits(payload: string, mac: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const last = alphabet.indexOf(mac.at(-1)!);
  return `${payload}.${mac.slice(0, -1)}${alphabet[last ^ 1]}`;
}

describe('SessionCodec', () => {
  it('opens what it created, with the workload, nonce and expiry', () => {
    const nonce = new Uint8Array(16).fill(3);
    const { token, session } = codec.create('payments/ingest', SESSION_TIME, { nonce, lifetimeSeconds: 30 });
    const opened = codec.open(token, new Date(SESSION_TIME.getTime() + 29_999));
    expect(opened).toEqual(session);
    expect(opened).toMatchObject({ workload: 'payments/ingest', nonce, expiresAt: new Date('2026-11-22T12:00:30Z') });
    expect(opened.id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('makes a fresh random id and 32-byte nonce per session', () => {
    const a = codec.create('w/x', SESSION_TIME).session;
    const b = codec.create('w/x', SESSION_TIME).session;
    expect(a.nonce).toHaveLength(32);
    expect(a.id).not.toBe(b.id);
    expect(Buffer.from(a.nonce).equals(Buffer.from(b.nonce))).toBe(false);
  });

  it('is expired from its expiry on', () => {
    expect(rejection(() => codec.open(VALID_SESSION, new Date(SESSION_TIME.getTime() + 60_000))).type).toBe('session-expired');
  });

  it('refuses a session made with another key, or with an altered payload, as not found', () => {
    const other = new SessionCodec(newSessionKey());
    expect(rejection(() => other.open(VALID_SESSION, SESSION_TIME)).type).toBe('not-found');
    const [payload, mac] = VALID_SESSION.split('.') as [string, string];
    const claims = JSON.parse(Buffer.from(base64url.decode(payload)).toString()) as Record<string, unknown>;
    for (const change of [{ w: 'other/workload' }, { e: (claims.e as number) + 1 }, { n: base64url.encode(new Uint8Array(32)) }]) {
      const forged = `${base64url.encode(JSON.stringify({ ...claims, ...change }))}.${mac}`;
      expect(rejection(() => codec.open(forged, SESSION_TIME)).type).toBe('not-found');
    }
  });

  it('has one spelling: characters a lenient base64url decoder would skip make it unknown', () => {
    const [payload, mac] = VALID_SESSION.split('.') as [string, string];
    for (const variant of [`${payload}.\t${mac}`, `${payload}.${mac} `, `${payload}.${mac}=`, ` ${VALID_SESSION}`, `${payload}.${mac.slice(0, 20)}\n${mac.slice(20)}`, spareBits(payload, mac)]) {
      expect(rejection(() => codec.open(variant, SESSION_TIME)).type, JSON.stringify(variant)).toBe('not-found');
    }
  });

  it('refuses nonces outside 8..64 bytes and keys shorter than 32 bytes', () => {
    for (const size of [7, 65]) expect(rejection(() => codec.create('w/x', SESSION_TIME, { nonce: new Uint8Array(size) })).type).toBe('bad-request');
    expect(() => new SessionCodec(new Uint8Array(31))).toThrow(CovenantError);
  });

  it('opens no random or mutated id, and throws nothing but typed refusals', () => {
    fc.assert(
      fc.property(SESSION_IDS, (id) => {
        expect(['not-found', 'session-expired']).toContain(rejection(() => codec.open(id, SESSION_TIME)).type);
      }),
      { numRuns: 2_000 },
    );
  });
});
