/**
 * A token stands only while the claims it was issued on still pass the policy in
 * force: tightening debug, rules or the floor past them refuses it at once — on
 * `POST /v1/tokens/check` and at the key broker's resource, which ask the same
 * question — and a tightening the claims still pass leaves it standing.
 */
import { expect, it } from 'vitest';
import { KbsClient, KbsRefused, simRcarTee } from '../../src/sdk/index.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { describeEachBackend } from '../store/backends.js';
import { asyncRejection } from '../support/errors.js';
import { kbsInject, measurementOf, putSecret, setRule, useBrokerServer, W, WORKLOAD, type BrokerServer } from './support.js';

const RESOURCE = 'default/key/db';
const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

async function expectOk(server: BrokerServer, method: string, url: string, body: unknown, status = 201): Promise<void> {
  const res = await server.signed(method, url, body);
  expect(res.statusCode, res.body).toBe(status);
}

/** Release 1.0.0 (svn 5) accepted with debug allowed, and a secret the workload may read. */
async function setUp(server: BrokerServer): Promise<void> {
  await expectOk(server, 'POST', '/v1/workloads', { name: WORKLOAD });
  await expectOk(server, 'POST', `/v1/workloads/${W}/releases`, { version: '1.0.0', class: 'sim', measurements: [measurementOf('1.0.0')], securityVersion: 5 });
  await expectOk(server, 'POST', `/v1/workloads/${W}/policy`, { accept: ['1.0.0'], debug: 'allow', reason: 'first release, debug allowed' });
  await putSecret(server, RESOURCE, 'db-password');
  await setRule(server, RESOURCE, { name: 'ingest', workloads: [WORKLOAD] });
}

/** A sim TEE on 1.0.0 whose evidence reports its own svn 1 (the release's is 5). */
function instance(server: BrokerServer, debug: boolean): KbsClient {
  const tee = new SimulatedTee(server.pki.platform, { measurement: measurementOf('1.0.0'), svn: 1, debug, configDigests: {} });
  return new KbsClient({ server: 'http://covenant.test', workload: WORKLOAD, tee: simRcarTee(tee), transport: kbsInject(server.app) });
}

async function check(server: BrokerServer, token: string): Promise<{ valid: boolean; reasons: string[] }> {
  const res = await server.app.inject({ method: 'POST', url: '/v1/tokens/check', payload: { token } });
  expect(res.statusCode, res.body).toBe(200);
  return res.json() as { valid: boolean; reasons: string[] };
}

async function expectNotStanding(server: BrokerServer, client: KbsClient, token: string, reason: RegExp): Promise<void> {
  const answer = await check(server, token);
  expect(answer.valid).toBe(false);
  expect(answer.reasons).toEqual([expect.stringMatching(reason)]);
  // The key broker refuses the same token (the client still holds it: it has not expired).
  const refused = await asyncRejection(client.getResource(RESOURCE), KbsRefused);
  expect({ status: refused.httpStatus, kbsType: refused.kbsType, reason: refused.reason }).toEqual({ status: 401, kbsType: 'TokenVerifierError', reason: 'token-not-standing' });
  // With the same reason, and recorded (`secret.refused`, as the phased tests check).
  expect(refused.message).toContain(answer.reasons[0]);
}

describeEachBackend('a token stands only while its claims pass the policy in force', (backend) => {
  const fixture = useBrokerServer(backend);

  /** A debug instance attested while the policy allowed it: its token stands and opens the resource. */
  async function standingDebugInstance(server: BrokerServer): Promise<{ client: KbsClient; token: string }> {
    await setUp(server);
    const client = instance(server, true);
    expect(text(await client.getResource(RESOURCE))).toBe('db-password');
    const token = client.token!;
    expect(await check(server, token)).toEqual({ valid: true, reasons: [] });
    return { client, token };
  }

  it('forbidding debug refuses a debug instance\'s token at once', async () => {
    const server = fixture();
    const { client, token } = await standingDebugInstance(server);
    await expectOk(server, 'POST', `/v1/workloads/${W}/policy`, { debug: 'forbid', reason: 'no debug TEEs' });
    await expectNotStanding(server, client, token, /^payments\/ingest: under policy version 2, debug-forbidden: the TEE runs in debug mode/);
  });

  it('a CEL rule the claims fail refuses the token at once', async () => {
    const server = fixture();
    const { client, token } = await standingDebugInstance(server);
    await expectOk(server, 'POST', `/v1/workloads/${W}/policy`, { rules: { no_sim: "tee != 'sim'" }, reason: 'real TEEs only' });
    await expectNotStanding(server, client, token, /^payments\/ingest: under policy version 2, rule-failed:no_sim: rule no_sim is false/);
  });

  it('a floor raised above the evidence\'s own security version refuses the token at once', async () => {
    const server = fixture();
    const { client, token } = await standingDebugInstance(server);
    // The release's svn (5) clears the floor; the evidence's (1) does not.
    await expectOk(server, 'POST', `/v1/workloads/${W}/policy`, { floor: 3, reason: 'raise the floor' });
    await expectNotStanding(server, client, token, /^payments\/ingest: under policy version 2, below-floor: the evidence reports security version 1, below the policy's floor 3$/);
  });

  it('a tightening the claims still pass leaves the token standing', async () => {
    const server = fixture();
    await setUp(server);
    const client = instance(server, false);
    expect(text(await client.getResource(RESOURCE))).toBe('db-password');
    const token = client.token!;
    await expectOk(server, 'POST', `/v1/workloads/${W}/policy`, { debug: 'forbid', floor: 1, rules: { known_release: "release == '1.0.0'" }, reason: 'tighten' });
    expect(await check(server, token)).toEqual({ valid: true, reasons: [] });
    expect(client.token).toBe(token);
    expect(text(await client.getResource(RESOURCE))).toBe('db-password');
    // The same token, not a new one: nothing re-attested.
    expect(client.token).toBe(token);
  });
});
