import { describe, expect, it } from 'vitest';
import { KbsClient, KbsRefused, type KbsTransport, type RcarTee } from '../../src/sdk/index.js';
import { describeEachBackend } from '../store/backends.js';
import { asyncRejection } from '../support/errors.js';
import { instanceOf, putSecret, setRule, setUpWorkload, useBrokerServer, WORKLOAD } from '../keys/support.js';

describeEachBackend('the SDK’s KBS client', (backend) => {
  const fixture = useBrokerServer(backend);

  it('attests once and opens secrets encrypted to EC P-256, P-384 and RSA TEE keys', async () => {
    const server = fixture();
    await setUpWorkload(server, [{ version: '1.0.0' }], ['1.0.0']);
    await putSecret(server, 'default/key/db', 'sdk secret');
    await setRule(server, 'default/key/db', { name: 'ingest', workloads: [WORKLOAD] });
    for (const keyType of ['EC-P256', 'EC-P384', 'RSA'] as const) {
      const client = instanceOf(server, '1.0.0', { keyType });
      expect(client.token).toBeUndefined();
      expect(new TextDecoder().decode(await client.getResource('default/key/db'))).toBe('sdk secret');
      const token = client.token;
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect(new TextDecoder().decode(await client.getResource('default/key/db'))).toBe('sdk secret');
      expect(client.token).toBe(token);
      expect(client.teePublicKey['alg']).toBe(keyType === 'RSA' ? 'RSA-OAEP-256' : 'ECDH-ES+A256KW');
    }
  });

  it('raises a refusal with its KBS error name and the ledgered reason', async () => {
    const server = fixture();
    await setUpWorkload(server, [{ version: '1.0.0' }], ['1.0.0']);
    const error = await asyncRejection(instanceOf(server, '1.0.0').getResource('default/key/none'), KbsRefused);
    expect({ status: error.httpStatus, type: error.kbsType, reason: error.reason, problem: error.type }).toEqual({ status: 404, type: 'ResourceNotFound', reason: 'unknown-resource', problem: 'not-found' });
    const wrongWorkload = await asyncRejection(instanceOf(server, '1.0.0', { workload: 'no/such' }).attest(), KbsRefused);
    expect(wrongWorkload).toMatchObject({ httpStatus: 400, kbsType: 'InvalidRequest' });
  });
});

describe('the SDK’s KBS client transport', () => {
  const tee: RcarTee = { tee: 'sim', evidence: async () => ({}) };

  it('honours 429 Retry-After, up to its retry budget', async () => {
    const slept: number[] = [];
    const calls: string[] = [];
    const transport: KbsTransport = async ({ url }) => {
      calls.push(url);
      return { status: 429, headers: { 'retry-after': '3' }, body: '{"type":"https://covenant.dev/problems/rate-limited","detail":"slow down"}' };
    };
    const client = new KbsClient({ server: 'http://covenant.test', workload: WORKLOAD, tee, transport, maxRetries: 2, sleep: async (s) => void slept.push(s) });
    const error = await asyncRejection(client.attest(), KbsRefused);
    expect(error).toMatchObject({ httpStatus: 429, kbsType: 'rate-limited', message: 'slow down' });
    expect(slept).toEqual([3, 3]);
    expect(calls).toEqual(Array(3).fill('http://covenant.test/kbs/v0/auth'));
  });

  it('refuses a challenge without a session cookie, and a non-problem error body', async () => {
    const noCookie = new KbsClient({ server: 'http://covenant.test/', workload: WORKLOAD, tee, transport: async () => ({ status: 200, headers: {}, body: '{"nonce":"x","extra-params":{}}' }) });
    expect(await asyncRejection(noCookie.attest(), KbsRefused)).toMatchObject({ kbsType: 'InvalidCookie' });
    const html = new KbsClient({ server: 'http://covenant.test', workload: WORKLOAD, tee, transport: async () => ({ status: 502, headers: {}, body: '<html>bad gateway</html>' }) });
    expect(await asyncRejection(html.attest(), KbsRefused)).toMatchObject({ httpStatus: 502, kbsType: 'unknown', message: 'HTTP 502', type: 'internal' });
  });
});
