import { createPublicKey, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import { calculateJwkThumbprint, importJWK, jwtVerify, SignJWT } from 'jose';
import { expect, it } from 'vitest';
import { buildServer } from '../../src/server/app.js';
import { Metrics } from '../../src/server/metrics.js';
import { createTestPlane } from '../support/control-plane.js';
import { describeEachBackend, useFreshInstance } from '../store/backends.js';

describeEachBackend('/.well-known/jwks.json', (backend) => {
  const instance = useFreshInstance(backend);

  it('publishes the token keys, public halves only, with RFC 7638 kids that verify a token', async () => {
    const plane = await createTestPlane(instance().store);
    const tokenKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const app = await buildServer({ cp: plane.cp, tenant: plane.tenant, metrics: new Metrics(), version: 'test', tokenKeys: [tokenKey] });
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
