import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { LightMyRequestResponse } from 'fastify';
import { calculateJwkThumbprint, flattenedDecrypt, type FlattenedJWE } from 'jose';
import { describe, expect, it } from 'vitest';
import type { SecretRefused } from '../../src/keys/events.js';
import { kbsReportData } from '../../src/keys/runtime-data.js';
import type { LedgerEntry } from '../../src/ledger/entry.js';
import { SimulatedTee } from '../../src/sim/tee.js';
import { refusalCount } from '../server/refusal-metrics.js';
import { describeEachBackend } from '../store/backends.js';
import { appended, expectKbsProblem, measurementOf, putSecret, setRule, setUpWorkload, useBrokerServer, WORKLOAD, type BrokerServer } from './support.js';

interface Attested {
  readonly token: string;
  readonly cookie: string;
  readonly privateKey: KeyObject;
  readonly jwk: Record<string, string>;
  readonly thumbprint: string;
}

function teeKey(): { privateKey: KeyObject; jwk: Record<string, string> } {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const { x, y } = pair.publicKey.export({ format: 'jwk' });
  return { privateKey: pair.privateKey, jwk: { kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x: x!, y: y! } };
}

const cookieOf = (res: LightMyRequestResponse): string => /kbs-session-id=([^;]+)/.exec(String(res.headers['set-cookie']))![1]!;

async function auth(server: BrokerServer, workload = WORKLOAD): Promise<{ nonce: string; cookie: string }> {
  const res = await server.app.inject({ method: 'POST', url: '/kbs/v0/auth', payload: { version: '0.1.1', tee: 'sim', 'extra-params': { workload } } });
  expect(res.statusCode, res.body).toBe(200);
  expect(Object.keys(res.json() as object).sort()).toEqual(['extra-params', 'nonce']);
  return { nonce: (res.json() as { nonce: string }).nonce, cookie: cookieOf(res) };
}

function attestation(server: BrokerServer, nonce: string, jwk: Record<string, string>, options: { measurement?: string; boundJwk?: Record<string, string> } = {}): string {
  const tee = new SimulatedTee(server.pki.platform, { measurement: options.measurement ?? measurementOf('1.0.0'), svn: 1, debug: false, configDigests: {} });
  const reportData = kbsReportData({ nonce, 'tee-pubkey': options.boundJwk ?? jwk });
  return JSON.stringify({ 'runtime-data': { nonce, 'tee-pubkey': jwk }, 'tee-evidence': { primary_evidence: JSON.parse(new TextDecoder().decode(tee.reportOver(reportData))) as unknown } });
}

const attest = (server: BrokerServer, cookie: string, body: string): Promise<LightMyRequestResponse> =>
  server.app.inject({ method: 'POST', url: '/kbs/v0/attest', headers: { cookie: `kbs-session-id=${cookie}`, 'content-type': 'application/json' }, payload: body });

async function rcar(server: BrokerServer, options: { workload?: string; measurement?: string } = {}): Promise<Attested> {
  const { nonce, cookie } = await auth(server, options.workload);
  const { privateKey, jwk } = teeKey();
  const res = await attest(server, cookie, attestation(server, nonce, jwk, options));
  expect(res.statusCode, res.body).toBe(200);
  const token = (res.json() as { token: string }).token;
  expect(cookieOf(res)).toBe(token);
  expect(String(res.headers['set-cookie'])).toMatch(/; Path=\/kbs\/v0; HttpOnly; SameSite=Strict; Max-Age=600$/);
  return { token, cookie: token, privateKey, jwk, thumbprint: await calculateJwkThumbprint(jwk as { kty: string }, 'sha256') };
}

function resource(server: BrokerServer, path: string, headers: Record<string, string>): Promise<LightMyRequestResponse> {
  return server.app.inject({ method: 'GET', url: `/kbs/v0/resource/${path}`, headers });
}

/** Replays of one spent credential: each would once have been a permanent ledger entry. */
const REPLAYS = 1_000;

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

/** Runs `action` and returns its response and the one `secret.refused` entry it appended. */
async function refusedWithEntry(server: BrokerServer, action: () => Promise<LightMyRequestResponse>): Promise<{ res: LightMyRequestResponse; entry: LedgerEntry<SecretRefused> }> {
  const { result, entries } = await appended(server.app, action);
  expect(entries.map((e) => e.type), result.body).toEqual(['secret.refused']);
  return { res: result, entry: entries[0] as LedgerEntry<SecretRefused> };
}

describeEachBackend('key release refusals', (backend) => {
  const fixture = useBrokerServer(backend);

  async function setUp(server: BrokerServer): Promise<void> {
    await setUpWorkload(server, [{ version: '1.0.0' }], ['1.0.0']);
    await putSecret(server, 'default/key/db', 'db-password');
    await setRule(server, 'default/key/db', { name: 'ingest', workloads: [WORKLOAD] });
  }

  it('releases to the attested key: cookie alone, bearer alone, or both naming the same key', async () => {
    const server = fixture();
    await setUp(server);
    const me = await rcar(server);
    for (const headers of [{ cookie: `kbs-session-id=${me.cookie}` }, bearer(me.token), { ...bearer(me.token), cookie: `kbs-session-id=${me.cookie}` }]) {
      const res = await resource(server, 'default/key/db', headers);
      expect(res.statusCode, res.body).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(new TextDecoder().decode((await flattenedDecrypt(res.json() as FlattenedJWE, me.privateKey)).plaintext)).toBe('db-password');
    }
  });

  it('wrong TEE key: a token whose cnf key is not the session’s is refused, counted and not ledgered (the presenter proved neither key)', async () => {
    const server = fixture();
    await setUp(server);
    const victim = await rcar(server);
    const thief = await rcar(server);
    const { result: res, entries } = await appended(server.app, () => resource(server, 'default/key/db', { ...bearer(victim.token), cookie: `kbs-session-id=${thief.cookie}` }));
    expectKbsProblem(res, 401, 'TokenVerifierError', 'tee-key-mismatch');
    expect(entries).toEqual([]);
    expect(await refusalCount(server.app, 'kbs', 'tee-key-mismatch')).toBe(1);

    // A stolen token alone gains nothing: the reply is encrypted to the victim's key.
    const stolen = await resource(server, 'default/key/db', bearer(victim.token));
    expect(stolen.statusCode).toBe(200);
    await expect(flattenedDecrypt(stolen.json() as FlattenedJWE, thief.privateKey)).rejects.toThrow();
  });

  it('wrong TEE key at attestation: runtime data naming a key the evidence does not bind is a recorded contraindicated verdict', async () => {
    const server = fixture();
    await setUp(server);
    const { nonce, cookie } = await auth(server);
    const { jwk } = teeKey();
    const { result: res, entries } = await appended(server.app, () => attest(server, cookie, attestation(server, nonce, jwk, { boundJwk: teeKey().jwk })));
    expectKbsProblem(res, 401, 'AttestationFailed', 'evidence-invalid:nonce');
    expect(entries.map((e) => [e.type, (e.payload as { status: string }).status])).toEqual([['attestation.verdict', 'contraindicated']]);
  });

  it('replayed nonce: attestations on a spent session are refused and counted, never ledgered (their key is the sender’s claim)', async () => {
    const server = fixture();
    await setUp(server);
    const { nonce, cookie } = await auth(server);
    const { jwk } = teeKey();
    const body = attestation(server, nonce, jwk);
    expect((await attest(server, cookie, body)).statusCode).toBe(200);
    const { result: replies, entries } = await appended(server.app, async () => {
      const all: LightMyRequestResponse[] = [];
      // Replays name keys of their choosing: none may become an actor.
      const bodies = [body, ...Array.from({ length: 9 }, () => attestation(server, nonce, teeKey().jwk))];
      for (let i = 0; i < REPLAYS; i++) all.push(await attest(server, cookie, bodies[i % bodies.length]!));
      return all;
    });
    for (const res of replies) expectKbsProblem(res, 401, 'AttestationFailed', 'replayed-nonce');
    expect(entries).toEqual([]);
    expect(await refusalCount(server.app, 'kbs', 'replayed-nonce')).toBe(REPLAYS);

    // Evidence made for an older challenge does not bind the new one.
    const fresh = await auth(server);
    expectKbsProblem(await attest(server, fresh.cookie, body), 401, 'AttestationFailed', 'evidence-invalid:nonce');
  });

  it('expired token: refused on its exp at the edge, counted and never ledgered, however often it is replayed', async () => {
    const server = fixture();
    await setUp(server);
    const me = await rcar(server);
    server.clock.advance(600_000);
    const { result: replies, entries } = await appended(server.app, async () => {
      const all: LightMyRequestResponse[] = [];
      for (let i = 0; i < REPLAYS; i++) all.push(await resource(server, 'default/key/db', bearer(me.token)));
      return all;
    });
    for (const res of replies) expectKbsProblem(res, 401, 'TokenVerifierError', 'token-expired');
    expect(entries).toEqual([]);
    expect(await refusalCount(server.app, 'kbs', 'token-expired')).toBe(REPLAYS);
  });

  it('token for another workload: refused by the rules, and recorded', async () => {
    const server = fixture();
    await setUp(server);
    const other = 'payments/other';
    expect((await server.signed('POST', '/v1/workloads', { name: other })).statusCode).toBe(201);
    expect((await server.signed('POST', `/v1/workloads/${encodeURIComponent(other)}/releases`, { version: '1.0.0', class: 'sim', measurements: [measurementOf('1.0.0')] })).statusCode).toBe(201);
    expect((await server.signed('POST', `/v1/workloads/${encodeURIComponent(other)}/policy`, { accept: ['1.0.0'], reason: 'r' })).statusCode).toBe(201);
    const stranger = await rcar(server, { workload: other });
    const { res, entry } = await refusedWithEntry(server, () => resource(server, 'default/key/db', bearer(stranger.token)));
    expectKbsProblem(res, 403, 'PolicyDeny', 'workload-not-granted');
    expect(entry).toMatchObject({ workload: other, payload: { reason: 'workload-not-granted', version: 1, rulesRevision: 1, rule: null } });
  });

  it('resource not granted: no rules means no release; a rule for other releases does not grant', async () => {
    const server = fixture();
    await setUp(server);
    await putSecret(server, 'default/key/unruled', 'x');
    const me = await rcar(server);
    const first = await refusedWithEntry(server, () => resource(server, 'default/key/unruled', bearer(me.token)));
    expectKbsProblem(first.res, 403, 'PolicyDeny', 'no-rules');
    expect(first.entry.payload).toMatchObject({ resource: 'default/key/unruled', rulesRevision: 0, rule: null });

    await setRule(server, 'default/key/unruled', { name: 'next', workloads: [WORKLOAD], releases: ['2.0.0'] });
    const second = await refusedWithEntry(server, () => resource(server, 'default/key/unruled', bearer(me.token)));
    expectKbsProblem(second.res, 403, 'PolicyDeny', 'release-not-granted');
    expect(second.entry.payload).toMatchObject({ rule: 'next', rulesRevision: 1 });

    await setRule(server, 'default/key/unruled', { name: 'next', workloads: [WORKLOAD], when: 'svn >= 2' });
    expectKbsProblem((await refusedWithEntry(server, () => resource(server, 'default/key/unruled', bearer(me.token)))).res, 403, 'PolicyDeny', 'condition-false');
  });

  it('unknown resource and unknown version: 404, recorded', async () => {
    const server = fixture();
    await setUp(server);
    const me = await rcar(server);
    const unknown = await refusedWithEntry(server, () => resource(server, 'default/key/nope', bearer(me.token)));
    expectKbsProblem(unknown.res, 404, 'ResourceNotFound', 'unknown-resource');
    expect(unknown.entry.payload).toMatchObject({ resource: 'default/key/nope', version: null, rule: null });
    expectKbsProblem((await refusedWithEntry(server, () => resource(server, 'default/key/db?version=2', bearer(me.token)))).res, 404, 'ResourceNotFound', 'unknown-version');
  });

  it('reads older versions only as far as the rules allow', async () => {
    const server = fixture();
    await setUp(server);
    const rotated = await server.signed('POST', '/v1/secrets/default/key/db/versions', { value: Buffer.from('db-password-2').toString('base64') });
    expect(rotated.statusCode, rotated.body).toBe(201);
    const me = await rcar(server);
    const latest = await resource(server, 'default/key/db', bearer(me.token));
    expect(new TextDecoder().decode((await flattenedDecrypt(latest.json() as FlattenedJWE, me.privateKey)).plaintext)).toBe('db-password-2');
    expectKbsProblem((await refusedWithEntry(server, () => resource(server, 'default/key/db?version=1', bearer(me.token)))).res, 403, 'PolicyDeny', 'version-not-granted');
    await setRule(server, 'default/key/db', { name: 'ingest', workloads: [WORKLOAD], versions: 2 });
    const older = await resource(server, 'default/key/db?version=1', bearer(me.token));
    expect(new TextDecoder().decode((await flattenedDecrypt(older.json() as FlattenedJWE, me.privateKey)).plaintext)).toBe('db-password');
  });

  it('a contraindicated verdict stands for nothing', async () => {
    const server = fixture();
    await setUp(server);
    const rogue = await rcar(server, { measurement: measurementOf('6.6.6') });
    const { res, entry } = await refusedWithEntry(server, () => resource(server, 'default/key/db', bearer(rogue.token)));
    expectKbsProblem(res, 401, 'TokenVerifierError', 'token-not-standing');
    expect(entry.payload).toMatchObject({ release: null, reason: 'token-not-standing' });
  });
});

describeEachBackend('KBS requests that prove nothing', (backend) => {
  const fixture = useBrokerServer(backend);

  it('are refused without a ledger entry: no token, a forged token, a session never attested', async () => {
    const server = fixture();
    await setUpWorkload(server, [{ version: '1.0.0' }], ['1.0.0']);
    const { cookie } = await auth(server);
    const me = await rcar(server);
    const [header, payload] = me.token.split('.');
    const cases: [Record<string, string>, number, string][] = [
      [{}, 401, 'TokenNotFound'],
      [{ cookie: `kbs-session-id=${cookie}` }, 401, 'TokenNotFound'],
      [{ authorization: 'Basic abc' }, 401, 'TokenNotFound'],
      [bearer(`${header}.${payload}.${'A'.repeat(86)}`), 401, 'TokenVerifierError'],
      [bearer('not-a-token'), 401, 'TokenVerifierError'],
    ];
    for (const [headers, status, name] of cases) {
      const { result, entries } = await appended(server.app, () => resource(server, 'default/key/db', headers));
      expectKbsProblem(result, status, name);
      expect(entries).toEqual([]);
    }
  });

  it('are refused in the protocol’s words at auth and attest', async () => {
    const server = fixture();
    await setUpWorkload(server, [{ version: '1.0.0' }], ['1.0.0']);
    const me = await rcar(server);
    const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
      server.app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload: typeof payload === 'string' ? payload : JSON.stringify(payload) });
    expectKbsProblem(await post('/kbs/v0/auth', { version: '1.0.0', tee: 'sim', 'extra-params': { workload: WORKLOAD } }), 400, 'InvalidRequest');
    expectKbsProblem(await post('/kbs/v0/auth', { version: '0.1.1', tee: 'tdx', 'extra-params': { workload: WORKLOAD } }), 400, 'InvalidRequest');
    expectKbsProblem(await post('/kbs/v0/auth', { version: '0.1.1', tee: 'sim', 'extra-params': {} }), 400, 'InvalidRequest');
    expectKbsProblem(await post('/kbs/v0/auth', { version: '0.1.1', tee: 'sim', 'extra-params': { workload: 'no/such' } }), 400, 'InvalidRequest');
    expectKbsProblem(await post('/kbs/v0/auth', '{'), 400, 'InvalidRequest');
    const { nonce, cookie } = await auth(server);
    const body = attestation(server, nonce, teeKey().jwk);
    expectKbsProblem(await post('/kbs/v0/attest', body), 401, 'MissingCookie');
    expectKbsProblem(await post('/kbs/v0/attest', body, { cookie: 'kbs-session-id=sim~forged.AAAA' }), 401, 'InvalidCookie');
    expectKbsProblem(await post('/kbs/v0/attest', body, { cookie: 'kbs-session-id=tdx~x' }), 401, 'InvalidCookie');
    expectKbsProblem(await post('/kbs/v0/attest', '{"runtime-data":1}', { cookie: `kbs-session-id=${cookie}` }), 400, 'InvalidRequest');
    server.clock.advance(60_000);
    expectKbsProblem(await post('/kbs/v0/attest', body, { cookie: `kbs-session-id=${cookie}` }), 401, 'ExpiredCookie');
    expectKbsProblem(await server.app.inject({ method: 'GET', url: '/kbs/v0/resource/a/b' }), 404, 'InvalidRequestPath');
    expectKbsProblem(await server.app.inject({ method: 'GET', url: '/kbs/v0/resource/a/b/c?version=0' }), 400, 'InvalidRequest');
    expectKbsProblem(await server.app.inject({ method: 'GET', url: '/kbs/v0/resource/a/b/c?x=1' }), 400, 'InvalidRequest');
    expectKbsProblem(await server.app.inject({ method: 'POST', url: '/kbs/v0/nothing', payload: {} }), 404, 'InvalidRequestPath');
    // A HEAD would be a recorded release that delivers nothing: there is none.
    const { result: head, entries } = await appended(server.app, () => server.app.inject({ method: 'HEAD', url: '/kbs/v0/resource/a/b/c', headers: bearer(me.token) }));
    expect([head.statusCode, entries]).toEqual([404, []]);
  });
});

describe('a KBS session', () => {
  it('made for one TEE class opens under no other', async () => {
    const { kbsSessionKey } = await import('../../src/keys/broker.js');
    const key = new Uint8Array(32).fill(7);
    expect(Buffer.from(kbsSessionKey(key, 'sim')).equals(Buffer.from(kbsSessionKey(key, 'sev-snp')))).toBe(false);
    expect(Buffer.from(kbsSessionKey(key, 'sim')).equals(Buffer.from(key))).toBe(false);
  });
});
