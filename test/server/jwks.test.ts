import { createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint, importJWK, jwtVerify, SignJWT } from 'jose';
import { expect, it } from 'vitest';
import { buildServer } from '../../src/server/app.js';
import { Metrics } from '../../src/server/metrics.js';
import { createTestPlane, manualClock } from '../support/control-plane.js';
import { describeEachBackend, useFreshInstance } from '../store/backends.js';

describeEachBackend('/.well-known/jwks.json', (backend) => {
  const instance = useFreshInstance(backend);

  it('publishes the token keys, public halves only, with RFC 7638 kids that verify a token', async () => {
    const plane = await createTestPlane(instance().store);
    const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const app = await buildServer({ cp: plane.cp, tenant: plane.tenant, metrics: new Metrics(), version: 'test', tokenKeys: [{ key: tokenKey }] });
    const response = await app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('application/jwk-set+json');
    const { keys } = response.json() as { keys: (JsonWebKey & { kid: string; alg: string; use: string })[] };
    expect(keys).toHaveLength(1);
    const [jwk] = keys;
    expect(jwk).not.toHaveProperty('d');
    expect(jwk).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    const expected = createPublicKey(tokenKey).export({ format: 'jwk' });
    expect(jwk!.kid).toBe(await calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: expected.x!, y: expected.y! }));

    const token = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'ES256', kid: jwk!.kid }).sign(tokenKey);
    await expect(jwtVerify(token, await importJWK(jwk!, 'ES256'))).resolves.toBeDefined();
    await app.close();
  });
});

describeEachBackend('/.well-known/jwks.json after a rotation', (backend) => {
  const instance = useFreshInstance(backend);

  it('lists a retired key until every token it signed has expired, then drops it without a restart', async () => {
    const clock = manualClock(new Date('2026-11-22T12:00:00Z'));
    const plane = await createTestPlane(instance().store, clock);
    const retired = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const current = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const retiredAt = new Date('2026-11-22T11:55:00Z');
    const app = await buildServer({ cp: plane.cp, tenant: plane.tenant, metrics: new Metrics(), version: 'test', tokenKeys: [{ key: retired, retiredAt }, { key: current }], tokenLifetimeSeconds: 600 });
    const kids = async () => ((await app.inject({ method: 'GET', url: '/.well-known/jwks.json' })).json() as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const kidOf = async (key: typeof current) => {
      const jwk = createPublicKey(key).export({ format: 'jwk' });
      return calculateJwkThumbprint({ kty: 'EC', crv: 'P-256', x: jwk.x!, y: jwk.y! });
    };
    // 600 s ± 20 %: the longest token lives 720 s.
    clock.set(new Date(retiredAt.getTime() + 719_999));
    expect(await kids()).toEqual([await kidOf(retired), await kidOf(current)]);
    clock.set(new Date(retiredAt.getTime() + 720_000));
    expect(await kids()).toEqual([await kidOf(current)]);
    await app.close();
  });
});
