import { calculateJwkThumbprint } from 'jose';
import { expect, it } from 'vitest';
import type { SecretRefused, SecretReleased } from '../../src/keys/events.js';
import { KbsRefused } from '../../src/sdk/index.js';
import { describeEachBackend } from '../store/backends.js';
import { asyncRejection } from '../support/errors.js';
import { appended, endRollout, instanceOf, putSecret, setRule, setUpWorkload, startRollout, useBrokerServer, W, WORKLOAD, type BrokerServer } from './support.js';

const text = (bytes: Uint8Array): string => new TextDecoder().decode(bytes);

async function refusal(promise: Promise<unknown>, status: number, kbsType: string, reason: string): Promise<KbsRefused> {
  const error = await asyncRejection(promise, KbsRefused);
  expect({ status: error.httpStatus, kbsType: error.kbsType, reason: error.reason }, error.message).toEqual({ status, kbsType, reason });
  return error;
}

async function policyId(server: BrokerServer): Promise<string> {
  return (((await server.app.inject({ method: 'GET', url: `/v1/workloads/${W}/policy` })).json()) as { id: string }).id;
}

async function setUp(server: BrokerServer): Promise<void> {
  await setUpWorkload(server, [{ version: '1.0.0', svn: 1 }, { version: '1.1.0', svn: 2 }], ['1.0.0']);
  await putSecret(server, 'default/key/db', 'db-password-v1');
  await setRule(server, 'default/key/db', { name: 'ingest', workloads: [WORKLOAD] });
  const window = await server.signed('POST', `/v1/workloads/${W}/sealing`, { migrationWindow: '1h' });
  expect(window.statusCode, window.body).toBe(200);
}

describeEachBackend('key release phased with a rollout', (backend) => {
  const fixture = useBrokerServer(backend);

  it('serves A, then A and B with the legacy slot, refuses A at completion and closes the slot after the window', async () => {
    const server = fixture();
    await setUp(server);

    // Before the rollout: A reads the secret and its own sealing key; there is no legacy slot.
    const a = instanceOf(server, '1.0.0');
    const { result: value, entries } = await appended(server.app, () => a.getResource('default/key/db'));
    expect(text(value)).toBe('db-password-v1');
    expect(entries.map((e) => e.type)).toEqual(['attestation.verdict', 'secret.released']);
    const thumbprintA = await calculateJwkThumbprint(a.teePublicKey as { kty: string }, 'sha256');
    expect(entries[1]).toMatchObject({ actor: `instance:${thumbprintA}`, workload: WORKLOAD });
    expect(entries[1]!.payload as SecretReleased).toEqual({
      resource: 'default/key/db',
      version: 1,
      instance: thumbprintA,
      release: { version: '1.0.0', digest: expect.stringMatching(/^[0-9a-f]{64}$/) as unknown },
      policy: await policyId(server),
      rulesRevision: 1,
      rule: 'ingest',
    });
    const aKey = await a.sealingKey('current');
    expect(aKey.release).toBe('1.0.0');
    await refusal(a.sealingKey('legacy'), 403, 'PolicyDeny', 'no-legacy-slot');

    // Phase-in: A ∪ B. B reads the secret, A's key as legacy, and its own as current; A is untouched.
    await startRollout(server, '1.1.0');
    const b = instanceOf(server, '1.1.0', { svn: 2 });
    expect(text(await b.getResource('default/key/db'))).toBe('db-password-v1');
    const legacy = await b.sealingKey('legacy');
    expect({ kid: legacy.kid, release: legacy.release, key: Buffer.from(legacy.key).toString('hex') }).toEqual({ kid: aKey.kid, release: '1.0.0', key: Buffer.from(aKey.key).toString('hex') });
    const bKey = await b.sealingKey('current');
    expect(bKey.release).toBe('1.1.0');
    expect(bKey.kid).not.toBe(aKey.kid);
    expect(text(await a.getResource('default/key/db'))).toBe('db-password-v1');
    expect((await a.sealingKey('current')).kid).toBe(aKey.kid);

    // Completion: A's next request is refused at once, on the token it still holds (not expired).
    await endRollout(server, 'complete');
    const completedPolicy = await policyId(server);
    const { entries: refusals } = await appended(server.app, () => refusal(a.getResource('default/key/db'), 401, 'TokenVerifierError', 'token-not-standing'));
    expect(refusals).toHaveLength(1);
    expect(refusals[0]).toMatchObject({ type: 'secret.refused', actor: `instance:${thumbprintA}` });
    expect(refusals[0]!.payload as SecretRefused).toMatchObject({ resource: 'default/key/db', instance: thumbprintA, policy: completedPolicy, reason: 'token-not-standing', rule: null });
    expect((refusals[0]!.payload as SecretRefused).message).toMatch(/release 1\.0\.0 is no longer accepted/);
    // Re-attesting does not help A: its release is retired.
    await a.attest();
    await refusal(a.getResource('default/key/db'), 401, 'TokenVerifierError', 'token-not-standing');

    // B keeps the legacy slot through the migration window, then it closes.
    expect(text(await b.getResource('default/key/db'))).toBe('db-password-v1');
    expect((await b.sealingKey('legacy')).closesAt).toBe(new Date(server.clock().getTime() + 3600_000).toISOString());
    server.clock.advance(3599_000);
    await b.attest();
    expect((await b.sealingKey('legacy')).kid).toBe(aKey.kid);
    server.clock.advance(1_000);
    const { entries: closed } = await appended(server.app, () => refusal(b.sealingKey('legacy'), 403, 'PolicyDeny', 'slot-closed'));
    expect(closed.map((e) => e.type)).toEqual(['secret.refused']);
    expect(closed[0]!.payload as SecretRefused).toMatchObject({ resource: 'sealing/key/legacy', rule: 'sealing:legacy', reason: 'slot-closed' });
    expect((await b.sealingKey('current')).kid).toBe(bKey.kid);
    expect(text(await b.getResource('default/key/db'))).toBe('db-password-v1');
  });

  it('refuses B at once after a rollback, and A keeps its secret', async () => {
    const server = fixture();
    await setUp(server);
    const a = instanceOf(server, '1.0.0');
    await startRollout(server, '1.1.0');
    const b = instanceOf(server, '1.1.0', { svn: 2 });
    expect(text(await b.getResource('default/key/db'))).toBe('db-password-v1');
    expect((await b.sealingKey('legacy')).release).toBe('1.0.0');

    await endRollout(server, 'rollback');
    const { entries } = await appended(server.app, () => refusal(b.getResource('default/key/db'), 401, 'TokenVerifierError', 'token-not-standing'));
    expect(entries.map((e) => (e.payload as SecretRefused).reason)).toEqual(['token-not-standing']);
    await refusal(b.sealingKey('legacy'), 401, 'TokenVerifierError', 'token-not-standing');
    expect(text(await a.getResource('default/key/db'))).toBe('db-password-v1');
    expect((await a.sealingKey('current')).release).toBe('1.0.0');
  });

  it('grants by rollout phase: a secret only for the release being rolled out', async () => {
    const server = fixture();
    await setUp(server);
    await putSecret(server, 'default/key/new-feature', 'feature-flag-key');
    await setRule(server, 'default/key/new-feature', { name: 'incoming', workloads: [WORKLOAD], phases: ['rollout-to'] });
    await startRollout(server, '1.1.0');
    const a = instanceOf(server, '1.0.0');
    const b = instanceOf(server, '1.1.0', { svn: 2 });
    expect(text(await b.getResource('default/key/new-feature'))).toBe('feature-flag-key');
    await refusal(a.getResource('default/key/new-feature'), 403, 'PolicyDeny', 'phase-not-granted');
    await endRollout(server, 'complete');
    // Completed: B is stable now, and the rule grants only during the rollout.
    await refusal(b.getResource('default/key/new-feature'), 403, 'PolicyDeny', 'phase-not-granted');
  });

  it('shows each accepted release’s slots by key id, never a key', async () => {
    const server = fixture();
    await setUp(server);
    await startRollout(server, '1.1.0');
    const b = instanceOf(server, '1.1.0', { svn: 2 });
    const res = await server.app.inject({ method: 'GET', url: `/v1/workloads/${W}/sealing` });
    expect(res.statusCode, res.body).toBe(200);
    const view = res.json() as { migrationWindowSeconds: number; releases: { release: string; current: string; legacy?: { release: string; kid: string } }[] };
    expect(view.migrationWindowSeconds).toBe(3600);
    expect(view.releases.map((r) => r.release)).toEqual(['1.0.0', '1.1.0']);
    const legacy = await b.sealingKey('legacy');
    expect(view.releases[1]).toEqual({ release: '1.1.0', current: (await b.sealingKey('current')).kid, legacy: { release: '1.0.0', kid: legacy.kid } });
    expect(view.releases[0]!.current).toBe(legacy.kid);
    expect(res.body).not.toContain(Buffer.from(legacy.key).toString('base64url'));
  });
});
