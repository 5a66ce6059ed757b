import { generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto';
import fc from 'fast-check';
import { base64url, calculateJwkThumbprint, createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it } from 'vitest';
import { CovenantError } from '../../src/core/errors.js';
import {
  EAR_PROFILE,
  issueEar,
  jitteredLifetimeSeconds,
  longestLifetimeSeconds,
  verifyEar,
  type EarInput,
} from '../../src/verifier/ear.js';
import { instancePublicJwk, jwkFromSpki, jwksFromKeys, keysToPublish, thumbprintOf } from '../../src/verifier/token-keys.js';
import { asyncRejection } from '../support/errors.js';

const NOW = new Date('2026-03-01T12:00:00.000Z');
const NOW_S = NOW.getTime() / 1000;
const at = (seconds: number): Date => new Date((NOW_S + seconds) * 1000);

const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const instance = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const instancePublic = instance.publicKey.export({ format: 'jwk' });
const nonce = new Uint8Array(32).map((_, i) => i + 1);

const input = (overrides: Partial<EarInput> = {}): EarInput => ({
  nonce,
  verifierId: { developer: 'https://covenant.dev', build: 'covenant 0.1.0' },
  workload: 'payments-api',
  status: 'affirming',
  trustVector: { 'instance-identity': 2, configuration: 2, executables: 3, hardware: 2 },
  policyId: 'policy:covenant/payments-api/7',
  matchedRelease: { version: '1.4.2', digest: 'sha256:' + 'ab'.repeat(32) },
  instanceKey: instancePublic,
  jitter: { fraction: 0.2, random: () => 0.5 },
  ...overrides,
});

async function jwks(...keys: KeyObject[]): Promise<{ keys: JsonWebKey[] }> {
  return (await jwksFromKeys(keys)) as unknown as { keys: JsonWebKey[] };
}

const rejection = (promise: Promise<unknown>): Promise<CovenantError> => asyncRejection(promise);

describe('issueEar / verifyEar', () => {
  it('round-trips the claim set', async () => {
    const token = await issueEar(input(), signer.privateKey, NOW);
    const claims = await verifyEar(token, await jwks(signer.publicKey), NOW, { expectedNonce: nonce, workload: 'payments-api' });
    expect(claims.submods['payments-api']?.['ear.status']).toBe('affirming');
    expect(claims.submods['payments-api']?.['covenant.release']).toEqual({ version: '1.4.2', digest: 'sha256:' + 'ab'.repeat(32) });
    expect(claims.iat).toBe(NOW_S);
    expect(claims.exp).toBe(NOW_S + 600);
  });

  it('uses the EAR claim names and values exactly', async () => {
    const token = await issueEar(input(), signer.privateKey, NOW);
    const header = decodeProtectedHeader(token);
    expect(header).toEqual({ alg: 'ES256', typ: 'JWT', kid: await calculateJwkThumbprint(signer.publicKey.export({ format: 'jwk' }) as never, 'sha256') });
    expect(decodeJwt(token)).toEqual({
      eat_profile: 'tag:github.com,2023:veraison/ear',
      iat: NOW_S,
      exp: NOW_S + 600,
      eat_nonce: Buffer.from(nonce).toString('base64url'),
      'ear.verifier-id': { developer: 'https://covenant.dev', build: 'covenant 0.1.0' },
      submods: {
        'payments-api': {
          'ear.status': 'affirming',
          'ear.trustworthiness-vector': { 'instance-identity': 2, configuration: 2, executables: 3, hardware: 2 },
          'ear.appraisal-policy-id': 'policy:covenant/payments-api/7',
          'covenant.release': { version: '1.4.2', digest: 'sha256:' + 'ab'.repeat(32) },
        },
      },
      cnf: { jwk: { kty: 'EC', crv: 'P-256', x: instancePublic.x, y: instancePublic.y } },
    });
    expect(EAR_PROFILE).toBe('tag:github.com,2023:veraison/ear');
  });

  it('omits covenant.release when no release matched', async () => {
    const { matchedRelease: _omit, ...rest } = input();
    const claims = decodeJwt(await issueEar(rest, signer.privateKey, NOW)) as { submods: Record<string, Record<string, unknown>> };
    expect(claims.submods['payments-api']).not.toHaveProperty('covenant.release');
  });

  it('verifies independently with jose against the published JWKS', async () => {
    const token = await issueEar(input(), signer.privateKey, NOW);
    const set = createLocalJWKSet((await jwksFromKeys([signer.publicKey])) as never);
    const { payload, protectedHeader } = await jwtVerify(token, set, { algorithms: ['ES256'], currentDate: NOW });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload['eat_profile']).toBe(EAR_PROFILE);
  });

  it('expires at now + jittered lifetime and is refused from then on', async () => {
    const cases: [number, number][] = [
      [0, 480],
      [0.5, 600],
      [1, 720],
    ];
    const keys = await jwks(signer.publicKey);
    for (const [r, lifetime] of cases) {
      const token = await issueEar(input({ jitter: { fraction: 0.2, random: () => r } }), signer.privateKey, NOW);
      expect(decodeJwt(token).exp).toBe(NOW_S + lifetime);
      await expect(verifyEar(token, keys, at(lifetime - 1))).resolves.toBeDefined();
      const expired = await rejection(verifyEar(token, keys, at(lifetime)));
      expect(expired.type).toBe('unauthenticated');
      expect(expired.message).toMatch(/expired/);
    }
  });

  it('honours lifetimeSeconds and fraction 0', async () => {
    const token = await issueEar(input({ lifetimeSeconds: 60, jitter: { fraction: 0, random: () => 1 } }), signer.privateKey, NOW);
    expect(decodeJwt(token).exp).toBe(NOW_S + 60);
  });

  it('jitters by default within ±20 %', async () => {
    const { jitter: _omit, ...rest } = input();
    const exp = decodeJwt(await issueEar(rest, signer.privateKey, NOW)).exp ?? 0;
    expect(exp - NOW_S).toBeGreaterThanOrEqual(480);
    expect(exp - NOW_S).toBeLessThanOrEqual(720);
  });

  it('refuses a token issued in the future', async () => {
    const token = await issueEar(input(), signer.privateKey, at(120));
    const error = await rejection(verifyEar(token, await jwks(signer.publicKey), NOW));
    expect(error.type).toBe('unauthenticated');
    expect(error.message).toMatch(/future/);
    await expect(verifyEar(token, await jwks(signer.publicKey), NOW, { clockToleranceSeconds: 120 })).resolves.toBeDefined();
  });

  it('refuses a wrong nonce', async () => {
    const token = await issueEar(input(), signer.privateKey, NOW);
    const error = await rejection(verifyEar(token, await jwks(signer.publicKey), NOW, { expectedNonce: new Uint8Array(32) }));
    expect(error.type).toBe('unauthenticated');
    expect(error.message).toMatch(/nonce/);
  });

  it('refuses a token without an appraisal for the workload', async () => {
    const token = await issueEar(input(), signer.privateKey, NOW);
    const error = await rejection(verifyEar(token, await jwks(signer.publicKey), NOW, { workload: 'other' }));
    expect(error.type).toBe('unauthenticated');
    expect(error.message).toMatch(/workload other/);
  });

  it('refuses a token signed by a key not in the set', async () => {
    const token = await issueEar(input(), other.privateKey, NOW);
    const error = await rejection(verifyEar(token, await jwks(signer.publicKey), NOW));
    expect(error.type).toBe('unauthenticated');
    expect(error.message).toMatch(/unknown key/);
  });

  it('refuses a token whose kid names a different key than the one that signed', async () => {
    const token = await issueEar(input(), other.privateKey, NOW);
    const published = await jwks(signer.publicKey);
    const [theKey] = published.keys;
    const lying = { keys: [{ ...theKey, kid: decodeProtectedHeader(token).kid }] };
    const error = await rejection(verifyEar(token, lying, NOW));
    expect(error.type).toBe('unauthenticated');
    expect(error.message).toMatch(/signature/);
  });

  it('refuses garbage, alg none and a wrong typ', async () => {
    const keys = await jwks(signer.publicKey);
    expect((await rejection(verifyEar('not-a-token', keys, NOW))).type).toBe('bad-request');
    expect((await rejection(verifyEar('a.b.c', keys, NOW))).type).toBe('bad-request');
    const token = await issueEar(input(), signer.privateKey, NOW);
    const [, payload, signature] = token.split('.');
    const withHeader = (header: object): string => `${base64url.encode(JSON.stringify(header))}.${payload}.${signature}`;
    const kid = decodeProtectedHeader(token).kid;
    expect((await rejection(verifyEar(withHeader({ alg: 'none', typ: 'JWT', kid }), keys, NOW))).type).toBe('unauthenticated');
    expect((await rejection(verifyEar(withHeader({ alg: 'ES256', typ: 'JWT' }), keys, NOW))).message).toMatch(/no kid/);
    expect((await rejection(verifyEar(withHeader({ alg: 'ES256', typ: 'at+jwt', kid }), keys, NOW))).type).toBe('bad-request');
  });

  it('fails verification when any payload byte is tampered with', async () => {
    const token = await issueEar(input(), signer.privateKey, NOW);
    const keys = await jwks(signer.publicKey);
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const bytes = base64url.decode(payload);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (index, delta) => {
        const tampered = Uint8Array.from(bytes);
        tampered[index] = ((tampered[index] ?? 0) ^ delta) & 0xff;
        const forged = `${header}.${base64url.encode(tampered)}.${signature}`;
        const error = await rejection(verifyEar(forged, keys, NOW));
        expect(['unauthenticated', 'bad-request']).toContain(error.type);
      }),
      { numRuns: 200 },
    );
  });

  it('binds exactly the public instance key in cnf and refuses a private one', async () => {
    const privateJwk = instance.privateKey.export({ format: 'jwk' });
    const error = await rejection(issueEar(input({ instanceKey: privateJwk }), signer.privateKey, NOW));
    expect(error.type).toBe('bad-request');
    expect(error.message).toMatch(/"d"/);
    const claims = decodeJwt(await issueEar(input({ instanceKey: { ...instancePublic, kid: 'x', alg: 'ES256' } }), signer.privateKey, NOW));
    expect(claims['cnf']).toEqual({ jwk: { kty: 'EC', crv: 'P-256', x: instancePublic.x, y: instancePublic.y } });
  });

  it('accepts P-384, Ed25519 and RSA instance keys and refuses small RSA and other curves', () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    expect(instancePublicJwk(p384)).toMatchObject({ kty: 'EC', crv: 'P-384' });
    const ed = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    expect(instancePublicJwk(ed)).toEqual({ kty: 'OKP', crv: 'Ed25519', x: ed.x });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    expect(instancePublicJwk(rsa)).toEqual({ kty: 'RSA', n: rsa.n, e: rsa.e });
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    expect(() => instancePublicJwk(small)).toThrow(/2048/);
    const k1 = generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'jwk' });
    expect(() => instancePublicJwk(k1)).toThrow(CovenantError);
    expect(() => instancePublicJwk({ kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA' })).toThrow(CovenantError);
  });

  it('refuses bad inputs before signing', async () => {
    expect((await rejection(issueEar(input({ nonce: new Uint8Array(4) }), signer.privateKey, NOW))).message).toMatch(/nonce/);
    const badVector = await rejection(issueEar(input({ trustVector: { hardware: 200 } }), signer.privateKey, NOW));
    expect(badVector.issues.map((issue) => issue.field)).toContain('submods.payments-api.ear.trustworthiness-vector.hardware');
    expect((await rejection(issueEar(input({ policyId: '' }), signer.privateKey, NOW))).type).toBe('bad-request');
    const ed = generateKeyPairSync('ed25519').privateKey;
    expect((await rejection(issueEar(input(), ed, NOW))).message).toMatch(/P-256/);
  });
});

describe('lifetime jitter', () => {
  it('always stays within ±fraction of the lifetime', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 86_400 }),
        fc.double({ min: 0, max: 0.99, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (lifetime, fraction, r) => {
          const seconds = jitteredLifetimeSeconds(lifetime, fraction, r);
          expect(Number.isInteger(seconds)).toBe(true);
          expect(seconds).toBeGreaterThanOrEqual(lifetime * (1 - fraction));
          expect(seconds).toBeLessThanOrEqual(lifetime * (1 + fraction));
          expect(seconds).toBeLessThanOrEqual(longestLifetimeSeconds(lifetime, fraction));
        },
      ),
    );
  });

  it('refuses nonsense parameters', () => {
    expect(() => jitteredLifetimeSeconds(0, 0.2, 0.5)).toThrow(CovenantError);
    expect(() => jitteredLifetimeSeconds(600, 1, 0.5)).toThrow(CovenantError);
    expect(() => jitteredLifetimeSeconds(600, 0.2, 1.5)).toThrow(CovenantError);
    expect(longestLifetimeSeconds()).toBe(720);
  });
});

describe('token keys', () => {
  it('publishes kid, alg and use, and never a private member', async () => {
    const doc = await jwksFromKeys([signer.privateKey]);
    const jwk = signer.publicKey.export({ format: 'jwk' });
    expect(doc.keys).toEqual([{ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: await thumbprintOf(jwk), alg: 'ES256', use: 'sig' }]);
    expect(JSON.stringify(doc)).not.toContain('"d"');
  });

  it('computes RFC 7638 thumbprints (RFC 7638 section 3.1 example)', async () => {
    const rfc = {
      kty: 'RSA',
      n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      e: 'AQAB',
      alg: 'RS256',
      kid: '2011-04-29',
    };
    expect(await thumbprintOf(rfc)).toBe('NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  it('turns an SPKI instance key into the JWK bound in cnf', async () => {
    const spki = instance.publicKey.export({ format: 'der', type: 'spki' });
    const jwk = jwkFromSpki(spki);
    expect(jwk).toEqual({ kty: 'EC', crv: 'P-256', x: instancePublic.x, y: instancePublic.y });
    expect(await thumbprintOf(jwk)).toBe(await thumbprintOf(instancePublic));
    expect(() => jwkFromSpki(new Uint8Array([1, 2, 3]))).toThrow(CovenantError);
  });

  it('keeps a retired key listed until retiredAt + max lifetime, then drops it', async () => {
    const max = longestLifetimeSeconds();
    const retiredAt = NOW;
    const rotations = [{ key: signer.publicKey, retiredAt }, { key: other.publicKey }];
    // Issued by the old key just before it was retired: lives the longest possible.
    const oldToken = await issueEar(input({ jitter: { fraction: 0.2, random: () => 1 } }), signer.privateKey, at(-1));
    const newToken = await issueEar(input(), other.privateKey, NOW);

    // Its last valid second, and the key is still listed then.
    const lastValid = at(max - 2);
    expect(decodeJwt(oldToken).exp).toBe(NOW_S + max - 1);
    const listed = await jwks(...keysToPublish(rotations, lastValid, max));
    expect(listed.keys).toHaveLength(2);
    await expect(verifyEar(oldToken, listed, lastValid)).resolves.toBeDefined();
    await expect(verifyEar(newToken, listed, at(1))).resolves.toBeDefined();

    const dropped = await jwks(...keysToPublish(rotations, at(max), max));
    expect(dropped.keys.map((key) => key.kid)).toEqual([await thumbprintOf(other.publicKey.export({ format: 'jwk' }))]);
    expect((await rejection(verifyEar(oldToken, dropped, lastValid))).message).toMatch(/unknown key/);
  });

  it('keysToPublish is pure and keeps unretired keys forever', () => {
    const rotations = [{ key: 'a', retiredAt: new Date(0) }, { key: 'b' }];
    const copy = structuredClone(rotations);
    expect(keysToPublish(rotations, new Date(8.64e15), 600)).toEqual(['b']);
    expect(keysToPublish(rotations, new Date(599_999), 600)).toEqual(['a', 'b']);
    expect(keysToPublish(rotations, new Date(600_000), 600)).toEqual(['b']);
    expect(rotations).toEqual(copy);
  });
});
