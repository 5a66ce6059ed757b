import { Writable } from 'node:stream';
import { expect, it } from 'vitest';
import type { SecretRulesSet, SecretWritten } from '../../src/keys/events.js';
import { REDACTED_PATHS } from '../../src/server/app.js';
import { describeEachBackend, useFreshInstance } from '../store/backends.js';
import { signDecision } from '../../src/ceremony/decision-signature.js';
import { pruneAttestationState } from '../../src/app/retention.js';
import { newMember, type TestMember } from '../support/control-plane.js';
import { expectProblem } from '../server/support.js';
import { appended, createBrokerServer, instanceOf, ledger, putSecret, setRule, setUpWorkload, useBrokerServer, WORKLOAD } from './support.js';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

describeEachBackend('the secrets API', (backend) => {
  const fixture = useBrokerServer(backend);

  it('creates a resource at version 1 and rotates it into new versions, each ledgered by digest and size', async () => {
    const server = fixture();
    const { result: created, entries } = await appended(server.app, () => putSecret(server, 'default/key/db', 'first value'));
    expect(created.json()).toMatchObject({ resource: 'default/key/db', version: 1, size: 11, digest: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) as unknown, kek: expect.stringMatching(/^file:/) as unknown });
    expect(entries.map((e) => e.type)).toEqual(['change.authorized', 'secret.written']);
    expect(entries[1]!.payload as SecretWritten).toEqual({ resource: 'default/key/db', version: 1, digest: (created.json() as { digest: string }).digest, size: 11, kek: (created.json() as { kek: string }).kek });

    expectProblem(await server.signed('POST', '/v1/secrets/default/key/db', { value: b64('again') }), 409, 'conflict');
    const given = await server.signed('POST', '/v1/secrets/default/key/db/versions', { value: b64('second') });
    expect(given.statusCode, given.body).toBe(201);
    expect(given.json()).toMatchObject({ version: 2, size: 6 });
    const generated = await server.signed('POST', '/v1/secrets/default/key/db/versions', { generate: 32 });
    expect(generated.json()).toMatchObject({ version: 3, size: 32 });
    expectProblem(await server.signed('POST', '/v1/secrets/default/key/none/versions', { generate: 32 }), 404, 'not-found');
    expectProblem(await server.signed('POST', '/v1/secrets/default/key/db/versions', { generate: 32, value: b64('x') }), 400, 'validation-failed');

    const meta = await server.app.inject({ method: 'GET', url: '/v1/secrets/default/key/db' });
    expect(meta.statusCode).toBe(200);
    expect(meta.json()).toMatchObject({ resource: 'default/key/db', latestVersion: 3, rulesRevision: 0, rules: [], createdBy: 'member:admin' });
    // Sizes are in the ledger and the writer's answer, not in the listing.
    expect((meta.json() as { versions: { version: number }[] }).versions.map((v) => v.version)).toEqual([1, 2, 3]);
    const list = await server.app.inject({ method: 'GET', url: '/v1/secrets' });
    expect((list.json() as { secrets: { resource: string }[] }).secrets.map((s) => s.resource)).toEqual(['default/key/db']);
    expectProblem(await server.app.inject({ method: 'GET', url: '/v1/secrets/default/key/none' }), 404, 'not-found');
  });

  it('refuses names outside repository/type/tag and the sealing repository', async () => {
    const server = fixture();
    expectProblem(await server.signed('POST', '/v1/secrets/sealing/key/current', { value: b64('x') }), 400, 'validation-failed');
    expectProblem(await server.signed('POST', '/v1/secrets/.hidden/key/x', { value: b64('x') }), 400, 'validation-failed');
    expectProblem(await server.signed('POST', '/v1/secrets/a/b/c', { value: 'not base64!' }), 400, 'validation-failed');
  });

  it('sets and drops rules by name; each change is a revision; a bad condition is refused', async () => {
    const server = fixture();
    await setUpWorkload(server, [{ version: '1.0.0' }], ['1.0.0']);
    await putSecret(server, 'default/key/db', 'v');
    expectProblem(await server.signed('POST', '/v1/secrets/default/key/none/rules', { name: 'r', workloads: [WORKLOAD] }), 404, 'not-found');
    const { entries } = await appended(server.app, () => setRule(server, 'default/key/db', { name: 'b', workloads: [WORKLOAD], releases: ['1.0.0'], when: 'tee == "sim"' }));
    expect(entries[1]!.payload as SecretRulesSet).toEqual({ resource: 'default/key/db', revision: 1, rules: [{ name: 'b', workloads: [WORKLOAD], releases: ['1.0.0'], when: 'tee == "sim"', versions: 1 }] });
    await setRule(server, 'default/key/db', { name: 'a', workloads: [WORKLOAD], versions: 'all' });
    expectProblem(await server.signed('POST', '/v1/secrets/default/key/db/rules', { name: 'a', workloads: [WORKLOAD], versions: 'all' }), 400, 'bad-request');
    expectProblem(await server.signed('POST', '/v1/secrets/default/key/db/rules', { name: 'c', workloads: [WORKLOAD], when: 'claims' }), 422, 'invalid-rule');
    expectProblem(await server.signed('POST', '/v1/secrets/default/key/db/rules', { name: 'c', workloads: ['Not A Workload'] }), 400, 'validation-failed');
    const dropped = await server.signed('DELETE', '/v1/secrets/default/key/db/rules/b');
    expect(dropped.statusCode, dropped.body).toBe(200);
    expect(dropped.json()).toMatchObject({ revision: 3, rules: [{ name: 'a' }] });
    expectProblem(await server.signed('DELETE', '/v1/secrets/default/key/db/rules/b'), 404, 'not-found');
  });

  it('lets only members whose role the rule names write values and rules; a refusal is ledgered', async () => {
    const server = fixture();
    await putSecret(server, 'default/key/db', 'v');
    const auditor = newMember('auditor');
    expect((await server.signed('POST', '/v1/members', { name: auditor.name, publicKey: auditor.publicKey, roles: ['auditor'] })).statusCode).toBe(201);
    for (const [url, body] of [
      ['/v1/secrets/default/key/db/versions', { value: b64('x') }],
      ['/v1/secrets/default/key/db/rules', { name: 'r', workloads: [WORKLOAD] }],
    ] as const) {
      const { result, entries } = await appended(server.app, () => server.signed('POST', url, body, auditor));
      expectProblem(result, 403, 'forbidden');
      expect(entries.map((e) => [e.type, (e.payload as { action: string }).action])).toEqual([['authorization.denied', url.endsWith('rules') ? 'secret-rules' : 'secret-write']]);
    }
    const unsigned = await server.app.inject({ method: 'POST', url: '/v1/secrets/default/key/x', payload: { value: b64('x') } });
    expectProblem(unsigned, 401);
  });

  it('under a two-signature rule, holds a value in a proposal by digest only and stores it once approved', async () => {
    const server = fixture();
    await setUpWorkload(server, [{ version: '1.0.0' }], ['1.0.0']);
    const approvers = [newMember('bob'), newMember('carol', 'ecdsa-p256-sha256')];
    for (const member of approvers) {
      expect((await server.signed('POST', '/v1/members', { name: member.name, publicKey: member.publicKey, roles: ['admin'] })).statusCode).toBe(201);
    }
    expect((await server.signed('POST', '/v1/constitution/secret-write', { threshold: 2, role: 'admin' })).statusCode).toBe(200);

    const { result: pending, entries } = await appended(server.app, () => server.signed('POST', '/v1/secrets/default/key/db', { value: b64('two-person value') }));
    expect(pending.statusCode, pending.body).toBe(202);
    const { id } = (pending.json() as { proposal: { id: string } }).proposal;
    expect(entries.map((e) => e.type)).toEqual(['proposal.created']);
    const args = (entries[0]!.payload as { document: { args: Record<string, unknown> } }).document.args;
    expect(Object.keys(args).sort()).toEqual(['resource', 'sealedDigest']);
    expectProblem(await server.app.inject({ method: 'GET', url: '/v1/secrets/default/key/db' }), 404, 'not-found');

    const message = new Uint8Array((await server.app.inject({ method: 'GET', url: `/v1/proposals/${id}/message?decision=approve` })).rawPayload);
    const approve = (member: TestMember) =>
      server.app.inject({ method: 'POST', url: `/v1/proposals/${id}/votes`, payload: { member: member.name, decision: 'approve', signature: Buffer.from(signDecision({ alg: member.alg, key: member.privateKey }, message)).toString('base64') } });
    expect((await approve(approvers[0]!)).json()).toMatchObject({ status: 'open' });
    const approved = await approve(approvers[1]!);
    expect(approved.statusCode, approved.body).toBe(200);
    expect(approved.json()).toMatchObject({ status: 'executed', result: { resource: 'default/key/db', version: 1, digest: args.sealedDigest, size: 16 } });
    const meta = await server.app.inject({ method: 'GET', url: '/v1/secrets/default/key/db' });
    expect(meta.json()).toMatchObject({ latestVersion: 1, createdBy: 'member:admin' });
    await setRule(server, 'default/key/db', { name: 'all', workloads: [WORKLOAD] });
    expect(Buffer.from(await instanceOf(server, '1.0.0').getResource('default/key/db')).toString()).toBe('two-person value');
  });

  it("keeps a proposal's sealed value only while the proposal may execute, and an executed one for good", async () => {
    const server = fixture();
    const store = server.instance.store;
    const approvers = [newMember('bob'), newMember('carol')];
    for (const member of approvers) {
      expect((await server.signed('POST', '/v1/members', { name: member.name, publicKey: member.publicKey, roles: ['admin'] })).statusCode).toBe(201);
    }
    expect((await server.signed('POST', '/v1/constitution/secret-write', { threshold: 2, role: 'admin' })).statusCode).toBe(200);
    const propose = async (resource: string, value: string) => {
      const { entries } = await appended(server.app, () => server.signed('POST', `/v1/secrets/${resource}`, { value: b64(value) }));
      const { id, document } = entries[0]!.payload as { id: string; document: { expiresAt: string; args: { sealedDigest: string } } };
      return { id, expiresAt: document.expiresAt, digest: document.args.sealedDigest };
    };
    const keptUntil = async (digest: string) => (await store.db.selectFrom('attachments').select('expires_at').where('digest', '=', digest).executeTakeFirst())?.expires_at;
    const approve = async (id: string) => {
      const message = new Uint8Array((await server.app.inject({ method: 'GET', url: `/v1/proposals/${id}/message?decision=approve` })).rawPayload);
      const results = [];
      for (const member of approvers) {
        const signature = Buffer.from(signDecision({ alg: member.alg, key: member.privateKey }, message)).toString('base64');
        results.push((await server.app.inject({ method: 'POST', url: `/v1/proposals/${id}/votes`, payload: { member: member.name, decision: 'approve', signature } })).json());
      }
      return results.at(-1);
    };

    const executed = await propose('default/key/kept', 'approved value');
    const lapsed = await propose('default/key/dropped', 'never approved');
    expect(await keptUntil(executed.digest)).toBe(executed.expiresAt);
    expect(await keptUntil(lapsed.digest)).toBe(lapsed.expiresAt);
    expect(await approve(executed.id)).toMatchObject({ status: 'executed' });
    expect(await keptUntil(executed.digest)).toBe('9999-12-31T23:59:59.999Z');

    await pruneAttestationState(store, new Date(Date.parse(lapsed.expiresAt) - 1000));
    expect(await keptUntil(lapsed.digest)).toBe(lapsed.expiresAt);
    await pruneAttestationState(store, new Date(Date.parse(lapsed.expiresAt) + 1000));
    expect(await keptUntil(lapsed.digest)).toBeUndefined();
    expect(await keptUntil(executed.digest)).toBe('9999-12-31T23:59:59.999Z');
  });

  it('are described in the OpenAPI document, with the KBS routes', async () => {
    const res = await fixture().app.inject({ method: 'GET', url: '/openapi.json' });
    expect(res.statusCode).toBe(200);
    const paths = Object.keys((res.json() as { paths: Record<string, unknown> }).paths);
    for (const path of ['/v1/secrets', '/v1/secrets/{repository}/{type}/{tag}/rules', '/v1/workloads/{workload}/sealing', '/kbs/v0/auth', '/kbs/v0/attest', '/kbs/v0/resource/{*}']) expect(paths).toContain(path);
  });

  it('sets the migration window of a workload through the spine', async () => {
    const server = fixture();
    await setUpWorkload(server, [{ version: '1.0.0' }], ['1.0.0']);
    const path = `/v1/workloads/${encodeURIComponent(WORKLOAD)}/sealing`;
    expect((await server.app.inject({ method: 'GET', url: path })).json()).toMatchObject({ migrationWindowSeconds: 86_400 });
    const { result, entries } = await appended(server.app, () => server.signed('POST', path, { migrationWindow: '2d' }));
    expect(result.json()).toEqual({ workload: WORKLOAD, seconds: 172_800 });
    expect(entries.map((e) => [e.type, e.workload])).toEqual([['change.authorized', WORKLOAD], ['sealing.window-set', WORKLOAD]]);
    expect((await server.app.inject({ method: 'GET', url: path })).json()).toMatchObject({ migrationWindowSeconds: 172_800, windowSetBy: 'member:admin' });
    expectProblem(await server.signed('POST', path, { migrationWindow: 'forever' }), 400, 'validation-failed');
    expectProblem(await server.signed('POST', '/v1/workloads/no%2Fsuch/sealing', { migrationWindow: '1h' }), 404, 'not-found');
    expectProblem(await server.app.inject({ method: 'GET', url: '/v1/workloads/no%2Fsuch/sealing' }), 404, 'not-found');
  });
});

describeEachBackend('a secret value', (backend) => {
  const instance = useFreshInstance(backend);

  it('appears nowhere in the ledger, the logs or the stored bytes, only in the JWE its instance opens', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    // Whole requests logged, headers included, at the most verbose level.
    const server = await createBrokerServer(instance().store, undefined, {
      logger: { level: 'trace', stream: sink, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, serializers: { req: (req: { headers: unknown; url: string }) => ({ url: req.url, headers: req.headers }) } },
    });
    try {
      const secrets = ['S3CRET-first-version-4e1f9a', 'S3CRET-rotated-value-77b2c0'];
      await setUpWorkload(server, [{ version: '1.0.0' }], ['1.0.0']);
      await putSecret(server, 'default/key/db', secrets[0]!);
      expect((await server.signed('POST', '/v1/secrets/default/key/db/versions', { value: b64(secrets[1]!) })).statusCode).toBe(201);
      await setRule(server, 'default/key/db', { name: 'ingest', workloads: [WORKLOAD], versions: 'all' });
      const a = instanceOf(server, '1.0.0');
      expect(new TextDecoder().decode(await a.getResource('default/key/db', { version: 1 }))).toBe(secrets[0]);
      expect(new TextDecoder().decode(await a.getResource('default/key/db'))).toBe(secrets[1]);
      await a.getResource('default/key/none').catch(() => undefined);

      const forms = secrets.flatMap((secret) => [secret, b64(secret), Buffer.from(secret).toString('base64url'), Buffer.from(secret).toString('hex')]);
      const raw = await server.app.inject({ method: 'GET', url: '/v1/audit/raw?from=0&limit=1000' });
      const bodies = (raw.json() as { entries: { body: string }[] }).entries.map((e) => Buffer.from(e.body, 'base64').toString('utf8'));
      expect(bodies.length).toBe((await ledger(server.app)).length);
      const stored = await instance().store.db.selectFrom('attachments').select('body').execute();
      const haystacks = { ledger: bodies.join('\n'), logs: lines.join(''), attachments: stored.map((row) => Buffer.from(row.body).toString('utf8')).join('\n') };
      expect(haystacks.logs.length).toBeGreaterThan(0);
      for (const [where, text] of Object.entries(haystacks)) {
        for (const form of forms) expect(text.includes(form), `${form} found in the ${where}`).toBe(false);
      }
    } finally {
      await server.app.close();
    }
  });
});
