/**
 * The governance flow through HTTP, on both backends: workloads, releases, policy
 * versions, members and the audit API, each mutation checked against the ledger entry
 * it must have produced, and every proof the API serves verified the way an auditor
 * would (against a checkpoint signed by the published log key).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { contentDigest } from '../../src/core/canonical.js';
import { openCheckpoint } from '../../src/ledger/checkpoint.js';
import type { LedgerEntry } from '../../src/ledger/entry.js';
import { leafHash, merkleTreeHash, verifyConsistency, verifyInclusion } from '../../src/ledger/merkle.js';
import { parseVerifierKey, type VerifierKey } from '../../src/ledger/note.js';
import { describeEachBackend, sqliteBackend } from '../store/backends.js';
import { newLogKey, newMember } from '../support/control-plane.js';
import {
  WORKLOAD,
  WORKLOAD_PATH,
  enc,
  entries,
  expectNo5xx,
  expectNoEntry,
  expectChange,
  expectProblem,
  get,
  listRoutes,
  seedWorkload,
  sha256,
  useTestServer,
  type ServerFixture,
} from './support.js';

const ORIGIN = 'covenant/default';
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const unhex = (text: string): Buffer => Buffer.from(text, 'hex');

interface PolicyBody {
  id: string;
  number: number;
  predecessor: string | null;
  actor: string;
  reason: string;
  createdAt: string;
  accepted: { version: string; digest: string }[];
  securityVersionFloor: number;
  rules: Record<string, string>;
  [key: string]: unknown;
}

interface RawEntry {
  seq: number;
  type: string;
  actor: string;
  workload: string | null;
  time: string;
  body: string;
  leafHash: string | null;
}

async function logKey(fx: ServerFixture): Promise<VerifierKey> {
  const res = await get(fx.server.app, '/v1/audit/log-key');
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toMatch(/^text\/plain/);
  expect(res.body).toBe(`${fx.server.logKey.vkey}\n`);
  return parseVerifierKey(res.body.trim());
}

async function rawEntries(fx: ServerFixture, query = ''): Promise<RawEntry[]> {
  const res = await get(fx.server.app, `/v1/audit/raw${query}`);
  expect(res.statusCode, res.body).toBe(200);
  return (res.json() as { entries: RawEntry[] }).entries;
}

async function head(fx: ServerFixture): Promise<{ treeSize: number; root: string }> {
  const res = await get(fx.server.app, '/v1/audit/head');
  expect(res.statusCode).toBe(200);
  return res.json();
}

/** Leaf hashes recomputed from the raw entry bytes, independently of the server's tree. */
async function recomputedLeaves(fx: ServerFixture): Promise<Buffer[]> {
  return (await rawEntries(fx, '?limit=10000')).map((row) => leafHash(Buffer.from(row.body, 'base64')));
}

describeEachBackend('HTTP API: workloads', (backend) => {
  const fx = useTestServer(backend);

  it('creates a workload whose name holds a slash and serves it under the percent-encoded name', async () => {
    const { server, clock } = fx();
    const { res, entry } = await expectChange(server.app, { type: 'workload.created', workload: WORKLOAD }, () =>
      server.signed('POST', '/v1/workloads', { name: WORKLOAD }),
    );
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ tenant: 'default', name: WORKLOAD, createdAt: clock().toISOString(), createdBy: 'member:admin' });
    expect(entry.payload).toEqual({ name: WORKLOAD });
    expect(entry.time).toBe(clock().toISOString());

    expect((await server.signed('POST', '/v1/workloads', { name: 'analytics' })).statusCode).toBe(201);
    const list = await get(server.app, '/v1/workloads');
    expect(list.statusCode).toBe(200);
    expect((list.json() as { workloads: { name: string }[] }).workloads.map((w) => w.name)).toEqual(['analytics', WORKLOAD]);

    const shown = await get(server.app, WORKLOAD_PATH);
    expect(shown.statusCode).toBe(200);
    expect(shown.json()).toEqual({ tenant: 'default', name: WORKLOAD, createdAt: clock().toISOString(), createdBy: 'member:admin', policy: null, releases: [] });
    // Lower-case percent-encoding is the same name.
    expect((await get(server.app, '/v1/workloads/payments%2fingest')).statusCode).toBe(200);

    // Unencoded, the slash is a path separator: that is another (unknown) route.
    expectProblem(await get(server.app, '/v1/workloads/payments/ingest'), 404, 'not-found');
    const missing = expectProblem(await get(server.app, `/v1/workloads/${enc('payments/other')}`), 404, 'not-found');
    expect(missing.detail).toContain('payments/other');
  });

  it('serves a workload whose name has the maximum length of 128 characters', async () => {
    const { server } = fx();
    const name = `${'a'.repeat(63)}/${'b'.repeat(64)}`;
    expect(name).toHaveLength(128);
    expect((await server.signed('POST', '/v1/workloads', { name })).statusCode).toBe(201);
    const shown = await get(server.app, `/v1/workloads/${enc(name)}`);
    expect(shown.statusCode, shown.body).toBe(200);
    expect((shown.json() as { name: string }).name).toBe(name);
    const registered = await server.signed('POST', `/v1/workloads/${enc(name)}/releases`, { version: '1', class: 'sim', measurements: [sha256('e')] });
    expect(registered.statusCode, registered.body).toBe(201);
  });
});

describeEachBackend('HTTP API: releases', (backend) => {
  const fx = useTestServer(backend);

  it('registers a release in measurement form and one in signer form, each with its ledger entry', async () => {
    const { server, clock } = fx();
    expect((await server.signed('POST', '/v1/workloads', { name: WORKLOAD })).statusCode).toBe(201);

    const measured = await expectChange(server.app, { type: 'release.registered', workload: WORKLOAD }, () =>
      server.signed('POST', `${WORKLOAD_PATH}/releases`, {
        version: '1.0.0',
        class: 'sim',
        // Upper/lower-case spellings of one digest are one measurement; the set is sorted.
        measurements: [sha256('b'), sha256('a'), sha256('B')],
        config: { 'root-store': sha256('c') },
        sbom: sha256('d'),
      }),
    );
    expect(measured.res.statusCode).toBe(201);
    const m = measured.res.json() as Record<string, unknown>;
    expect(m).toEqual({
      workload: WORKLOAD,
      version: '1.0.0',
      digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      status: 'registered',
      createdAt: clock().toISOString(),
      securityVersion: 0,
      references: {
        sim: {
          kind: 'measurements',
          measurements: [
            { alg: 'sha256', hex: 'a'.repeat(64) },
            { alg: 'sha256', hex: 'b'.repeat(64) },
          ],
        },
      },
      config: { 'root-store': { alg: 'sha256', hex: 'c'.repeat(64) } },
      sbom: { alg: 'sha256', hex: 'd'.repeat(64) },
    });
    const payload = measured.entry.payload as { digest: string; document: unknown };
    expect(payload.digest).toBe(m['digest']);
    // The digest is the content address of the document the ledger carries.
    expect(contentDigest(payload.document)).toBe(m['digest']);

    const signer = await expectChange(server.app, { type: 'release.registered', workload: WORKLOAD }, () =>
      server.signed('POST', `${WORKLOAD_PATH}/releases`, { version: '2.0.0', class: 'sgx', signer: 'AB'.repeat(32), product: 'ingest', minSvn: 5 }),
    );
    expect(signer.res.statusCode).toBe(201);
    const s = signer.res.json() as Record<string, unknown>;
    expect(s).toMatchObject({
      version: '2.0.0',
      securityVersion: 5,
      references: { sgx: { kind: 'signer', signer: 'ab'.repeat(32), product: 'ingest', minSvn: 5 } },
      config: {},
    });
    expect(s['digest']).not.toBe(m['digest']);

    const list = await get(server.app, `${WORKLOAD_PATH}/releases`);
    expect(list.statusCode).toBe(200);
    expect((list.json() as { releases: unknown[] }).releases).toEqual([m, s]);
    const one = await get(server.app, `${WORKLOAD_PATH}/releases/2.0.0`);
    expect(one.statusCode).toBe(200);
    expect(one.json()).toEqual(s);
    expect((await get(server.app, WORKLOAD_PATH)).json()).toMatchObject({
      policy: null,
      releases: [
        { version: '1.0.0', status: 'registered' },
        { version: '2.0.0', status: 'registered' },
      ],
    });

    expectProblem(await get(server.app, `${WORKLOAD_PATH}/releases/9.9.9`), 404, 'not-found');
    expectProblem(await get(server.app, `/v1/workloads/${enc('no/such')}/releases`), 404, 'not-found');
    // Releases are immutable: the same version again is a conflict, and nothing is ledgered.
    const again = await expectNoEntry(server.app, () =>
      server.signed('POST', `${WORKLOAD_PATH}/releases`, { version: '1.0.0', class: 'sim', measurements: [sha256('f')] }),
    );
    expectProblem(again, 409, 'conflict');
    const orphan = await expectNoEntry(server.app, () =>
      server.signed('POST', `/v1/workloads/${enc('no/such')}/releases`, { version: '1', class: 'sim', measurements: [sha256('f')] }),
    );
    expectProblem(orphan, 404, 'not-found');
  });
});

describeEachBackend('HTTP API: policy', (backend) => {
  const fx = useTestServer(backend);

  it('accepts, raises the floor, adds rules and removes releases, with history, versions, diffs and time travel', async () => {
    const { server, clock } = fx();
    await seedWorkload(server);
    const digests = Object.fromEntries(
      ((await get(server.app, `${WORKLOAD_PATH}/releases`)).json() as { releases: { version: string; digest: string }[] }).releases.map((r) => [r.version, r.digest]),
    );
    const beforeAny = clock().toISOString();
    expectProblem(await get(server.app, `${WORKLOAD_PATH}/policy`), 404, 'not-found');

    const update = async (body: Record<string, unknown>): Promise<PolicyBody> => {
      clock.advance(60_000);
      const { res, entry } = await expectChange(server.app, { type: 'policy.version-created', workload: WORKLOAD }, () =>
        server.signed('POST', `${WORKLOAD_PATH}/policy`, body),
      );
      expect(res.statusCode, res.body).toBe(201);
      const policy = res.json() as PolicyBody;
      expect((entry.payload as { id: string }).id).toBe(policy.id);
      const { id, ...document } = policy;
      expect(contentDigest(document)).toBe(id);
      expect(policy.actor).toBe('member:admin');
      expect(policy.createdAt).toBe(clock().toISOString());
      return policy;
    };

    const v1 = await update({ accept: ['1.0.0'], reason: 'initial' });
    expect(v1).toMatchObject({ number: 1, predecessor: null, reason: 'initial', securityVersionFloor: 0, rules: {}, accepted: [{ version: '1.0.0', digest: digests['1.0.0'] }] });
    expect((await get(server.app, `${WORKLOAD_PATH}/releases/1.0.0`)).json()).toMatchObject({ status: 'accepted' });
    expect((await get(server.app, WORKLOAD_PATH)).json()).toMatchObject({ policy: v1.id });

    const v2 = await update({ accept: ['2.0.0'], floor: 1, rules: { svn_ok: 'claims.svn >= 2' }, reason: 'phase in 2.0.0' });
    expect(v2).toMatchObject({
      number: 2,
      predecessor: v1.id,
      securityVersionFloor: 1,
      rules: { svn_ok: 'claims.svn >= 2' },
      accepted: [
        { version: '1.0.0', digest: digests['1.0.0'] },
        { version: '2.0.0', digest: digests['2.0.0'] },
      ],
    });

    const v3 = await update({ remove: ['1.0.0'], floor: 2, reason: 'rollout complete' });
    expect(v3).toMatchObject({ number: 3, predecessor: v2.id, securityVersionFloor: 2, accepted: [{ version: '2.0.0', digest: digests['2.0.0'] }] });
    const statuses = ((await get(server.app, WORKLOAD_PATH)).json() as { releases: { version: string; status: string }[] }).releases;
    expect(statuses).toEqual([
      { version: '1.0.0', status: 'retired' },
      { version: '2.0.0', status: 'accepted' },
    ]);

    const v4 = await update({ dropRules: ['svn_ok'], debug: 'allow', requiredTcbStatus: ['SWHardeningNeeded', 'UpToDate'], reason: 'relax' });
    expect(v4).toMatchObject({ number: 4, rules: {}, debugForbidden: false, requiredTcbStatus: ['UpToDate', 'SWHardeningNeeded'] });

    // Show: current, by full id, by unambiguous prefix.
    expect((await get(server.app, `${WORKLOAD_PATH}/policy`)).json()).toEqual(v4);
    expect((await get(server.app, `${WORKLOAD_PATH}/policy?version=${v1.id}`)).json()).toEqual(v1);
    expect((await get(server.app, `${WORKLOAD_PATH}/policy?version=${v2.id.slice(0, 12)}`)).json()).toEqual(v2);
    expectProblem(await get(server.app, `${WORKLOAD_PATH}/policy?version=${'0'.repeat(64)}`), 404, 'not-found');
    expectProblem(await get(server.app, `${WORKLOAD_PATH}/policy?version=XYZ`), 400, 'bad-request');

    const history = await get(server.app, `${WORKLOAD_PATH}/policy/history`);
    expect(history.statusCode).toBe(200);
    expect((history.json() as { versions: PolicyBody[] }).versions).toEqual([v1, v2, v3, v4]);

    const diff = await get(server.app, `${WORKLOAD_PATH}/policy/diff?from=${v1.id}&to=${v3.id}`);
    expect(diff.statusCode).toBe(200);
    expect(diff.json()).toEqual({
      from: v1.id,
      to: v3.id,
      diff: {
        identical: false,
        accepted: { added: [{ version: '2.0.0', digest: digests['2.0.0'] }], removed: [{ version: '1.0.0', digest: digests['1.0.0'] }] },
        securityVersionFloor: { from: 0, to: 2 },
        debugForbidden: null,
        requiredTcbStatus: null,
        rules: { added: [{ name: 'svn_ok', expression: 'claims.svn >= 2' }], removed: [], changed: [] },
      },
    });
    const same = await get(server.app, `${WORKLOAD_PATH}/policy/diff?from=${v2.id}&to=${v2.id.slice(0, 8)}`);
    expect((same.json() as { diff: { identical: boolean } }).diff.identical).toBe(true);

    // Time travel: the version in force is the newest created at or before the time.
    const at = async (time: string) => get(server.app, `${WORKLOAD_PATH}/policy/at?time=${enc(time)}`);
    expectProblem(await at(beforeAny), 404, 'not-found');
    expect((await at(v1.createdAt)).json()).toEqual(v1);
    const halfway = new Date(Date.parse(v2.createdAt) + 30_000).toISOString();
    expect((await at(halfway)).json()).toEqual(v2);
    // The same instant written with an offset.
    const v3Local = new Date(Date.parse(v3.createdAt) + 3_600_000).toISOString().replace('Z', '+01:00');
    expect((await at(v3Local)).json()).toEqual(v3);
    expect((await at('2099-01-01T00:00:00Z')).json()).toEqual(v4);

    const ledgered = await entries(server.app, `type=policy.version-created&workload=${enc(WORKLOAD)}`);
    expect(ledgered.map((e) => (e.payload as { id: string }).id)).toEqual([v1.id, v2.id, v3.id, v4.id]);
    await expectNo5xx(server.app);
  });
});

describeEachBackend('HTTP API: members', (backend) => {
  const fx = useTestServer(backend);

  it('adds a member who can then sign, removes it so it no longer can, and never removes the last admin', async () => {
    const { server, clock } = fx();
    const bob = newMember('bob');
    const added = await expectChange(server.app, { type: 'member.added' }, () =>
      server.signed('POST', '/v1/members', { name: 'bob', publicKey: bob.publicKey, roles: ['admin', 'admin'] }),
    );
    expect(added.res.statusCode).toBe(201);
    expect(added.res.json()).toEqual({
      name: 'bob',
      alg: 'ed25519',
      publicKey: bob.publicKey,
      thumbprint: createHash('sha256').update(Buffer.from(bob.publicKey, 'base64')).digest('hex'),
      roles: ['admin'],
      status: 'active',
      createdAt: clock().toISOString(),
    });
    expect(added.entry.payload).toEqual({ name: 'bob', publicKey: bob.publicKey, alg: 'ed25519', roles: ['admin'] });

    // The new member signs for itself, and the ledger names it.
    const made = await expectChange(server.app, { type: 'workload.created', actor: 'member:bob', workload: 'bob-made' }, () =>
      server.signed('POST', '/v1/workloads', { name: 'bob-made' }, bob),
    );
    expect(made.res.statusCode).toBe(201);
    expect(made.res.json()).toMatchObject({ createdBy: 'member:bob' });

    const list = async () => ((await get(server.app, '/v1/members')).json() as { members: { name: string; status: string }[] }).members;
    expect((await list()).map((m) => [m.name, m.status])).toEqual([
      ['admin', 'active'],
      ['bob', 'active'],
    ]);

    const removed = await expectChange(server.app, { type: 'member.removed' }, () => server.signed('DELETE', '/v1/members/bob'));
    expect(removed.res.statusCode).toBe(200);
    expect(removed.res.json()).toEqual({ name: 'bob' });
    expect(removed.entry.payload).toEqual({ name: 'bob' });
    expect((await list()).map((m) => [m.name, m.status])).toEqual([
      ['admin', 'active'],
      ['bob', 'removed'],
    ]);

    const refused = await expectNoEntry(server.app, () => server.signed('POST', '/v1/workloads', { name: 'bob-again' }, bob));
    expectProblem(refused, 401, 'unauthenticated');
    expectProblem(await expectNoEntry(server.app, () => server.signed('DELETE', '/v1/members/bob')), 404, 'not-found');
    expectProblem(await expectNoEntry(server.app, () => server.signed('DELETE', '/v1/members/nobody')), 404, 'not-found');

    // The last admin stays.
    const last = await expectNoEntry(server.app, () => server.signed('DELETE', '/v1/members/admin'));
    expect(expectProblem(last, 409, 'conflict').detail).toContain('last active admin');
    expect((await server.signed('POST', '/v1/workloads', { name: 'still-admin' })).statusCode).toBe(201);

    // With a second admin, one may go; the remaining one is then the last.
    const carol = newMember('carol', 'ecdsa-p256-sha256');
    expect((await server.signed('POST', '/v1/members', { name: 'carol', publicKey: carol.publicKey, roles: ['admin'] })).statusCode).toBe(201);
    expect((await server.signed('DELETE', '/v1/members/admin', undefined, carol)).statusCode).toBe(200);
    expectProblem(await server.signed('POST', '/v1/workloads', { name: 'admin-gone' }), 401, 'unauthenticated');
    expectProblem(await server.signed('DELETE', '/v1/members/carol', undefined, carol), 409, 'conflict');

    // A removed member's name can be given to a new key; the old key stays out.
    const bob2 = newMember('bob');
    expect((await server.signed('POST', '/v1/members', { name: 'bob', publicKey: bob2.publicKey, roles: ['admin'] }, carol)).statusCode).toBe(201);
    expect((await server.signed('POST', '/v1/workloads', { name: 'bob-two' }, bob2)).statusCode).toBe(201);
    expectProblem(await server.signed('POST', '/v1/workloads', { name: 'bob-one' }, bob), 401, 'signature-invalid');
    await expectNo5xx(server.app);
  });
});

describeEachBackend('HTTP API: audit', (backend) => {
  const fx = useTestServer(backend);

  it('filters ledger entries by type, actor, workload, time and position', async () => {
    const { server, clock } = fx();
    const t0 = clock().toISOString();
    await seedWorkload(server);
    clock.advance(10 * 60_000);
    const t1 = clock().toISOString();
    const bob = newMember('bob');
    expect((await server.signed('POST', '/v1/members', { name: 'bob', publicKey: bob.publicKey, roles: ['admin'] })).statusCode).toBe(201);
    expect((await server.signed('POST', '/v1/workloads', { name: 'other' }, bob)).statusCode).toBe(201);

    const all = await entries(server.app);
    // Each member's change comes after the entry that says who authorised it, under which rule.
    expect(all.map((e) => [e.seq, e.type, e.actor, e.workload ?? null])).toEqual([
      [0, 'tenant.created', 'system:bootstrap', null],
      [1, 'member.added', 'system:bootstrap', null],
      [2, 'change.authorized', 'member:admin', WORKLOAD],
      [3, 'workload.created', 'member:admin', WORKLOAD],
      [4, 'change.authorized', 'member:admin', WORKLOAD],
      [5, 'release.registered', 'member:admin', WORKLOAD],
      [6, 'change.authorized', 'member:admin', WORKLOAD],
      [7, 'release.registered', 'member:admin', WORKLOAD],
      [8, 'change.authorized', 'member:admin', null],
      [9, 'member.added', 'member:admin', null],
      [10, 'change.authorized', 'member:bob', 'other'],
      [11, 'workload.created', 'member:bob', 'other'],
    ]);
    expect(all.every((e) => e.tenant === 'default')).toBe(true);
    expect(all.slice(0, 8).every((e) => e.time === t0)).toBe(true);
    expect(all.slice(8).every((e) => e.time === t1)).toBe(true);

    const seqs = (list: LedgerEntry[]) => list.map((e) => e.seq);
    expect(seqs(await entries(server.app, 'type=workload.created'))).toEqual([3, 11]);
    expect(seqs(await entries(server.app, `actor=${enc('member:bob')}`))).toEqual([10, 11]);
    expect(seqs(await entries(server.app, `workload=${enc(WORKLOAD)}`))).toEqual([2, 3, 4, 5, 6, 7]);
    expect(seqs(await entries(server.app, `since=${enc(t1)}`))).toEqual([8, 9, 10, 11]);
    // The same instant with an offset, and a time just after it.
    const t1Offset = new Date(Date.parse(t1) - 2 * 3_600_000).toISOString().replace('Z', '-02:00');
    expect(seqs(await entries(server.app, `since=${enc(t1Offset)}`))).toEqual([8, 9, 10, 11]);
    expect(seqs(await entries(server.app, `since=${enc(new Date(Date.parse(t1) + 1).toISOString())}`))).toEqual([]);
    expect(seqs(await entries(server.app, `type=workload.created&actor=${enc('member:admin')}`))).toEqual([3]);
    expect(seqs(await entries(server.app, 'after=2&limit=2'))).toEqual([3, 4]);
    expect(seqs(await entries(server.app, 'type=no.such.type'))).toEqual([]);
    expectProblem(await get(server.app, '/v1/audit/entries?since=yesterday'), 400, 'validation-failed');
    expectProblem(await get(server.app, '/v1/audit/entries?limit=0'), 400, 'validation-failed');
  });

  it('serves raw entries and a head that an auditor recomputes from the raw bytes', async () => {
    const fixture = fx();
    const { server } = fixture;
    await seedWorkload(server);
    const raw = await rawEntries(fixture);
    const parsed = await entries(server.app);
    expect(raw.map((r) => r.seq)).toEqual(parsed.map((e) => e.seq));
    raw.forEach((row, i) => {
      const body = Buffer.from(row.body, 'base64');
      expect(JSON.parse(body.toString('utf8'))).toEqual(parsed[i]);
      expect(row.leafHash).toBe(hex(leafHash(body)));
      expect([row.type, row.actor, row.workload, row.time]).toEqual([parsed[i]!.type, parsed[i]!.actor, parsed[i]!.workload ?? null, parsed[i]!.time]);
    });
    const current = await head(fixture);
    expect(current.treeSize).toBe(raw.length);
    expect(current.root).toBe(hex(merkleTreeHash(await recomputedLeaves(fixture))));
    expect((await rawEntries(fixture, '?from=2&limit=2')).map((r) => r.seq)).toEqual([2, 3]);
    expect(await rawEntries(fixture, `?from=${raw.length}`)).toEqual([]);
  });

  it('proves inclusion of every entry against the root of a checkpoint signed by the published log key', async () => {
    const fixture = fx();
    const { server } = fixture;
    await seedWorkload(server);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0'], reason: 'go' })).statusCode).toBe(201);
    const vkey = await logKey(fixture);
    const leaves = await recomputedLeaves(fixture);
    const size = leaves.length;
    expect(size).toBe(10);

    for (const treeSizeParam of [undefined, 3, size]) {
      const n = treeSizeParam ?? size;
      for (let index = 0; index < n; index++) {
        const res = await get(server.app, `/v1/audit/proof?index=${index}${treeSizeParam === undefined ? '' : `&treeSize=${treeSizeParam}`}`);
        expect(res.statusCode, res.body).toBe(200);
        const proof = res.json() as { index: number; treeSize: number; leafHash: string; hashes: string[]; checkpoint: string };
        expect([proof.index, proof.treeSize]).toEqual([index, n]);
        expect(proof.leafHash).toBe(hex(leaves[index]!));
        const checkpoint = openCheckpoint(proof.checkpoint, vkey, { origin: ORIGIN });
        expect(checkpoint.size).toBe(n);
        expect(hex(checkpoint.root)).toBe(hex(merkleTreeHash(leaves.slice(0, n))));
        const hashes = proof.hashes.map(unhex);
        expect(verifyInclusion(index, n, unhex(proof.leafHash), hashes, checkpoint.root)).toBe(true);
        // The proof is specific: another leaf does not verify with it.
        const other = leaves[(index + 1) % n]!;
        if (n > 1) expect(verifyInclusion(index, n, other, hashes, checkpoint.root)).toBe(false);
      }
    }

    // A checkpoint verifies only with the log's own key.
    const proof = (await get(server.app, '/v1/audit/proof?index=0')).json() as { checkpoint: string };
    const stranger = parseVerifierKey(newLogKey(ORIGIN).vkey);
    expect(() => openCheckpoint(proof.checkpoint, stranger)).toThrow();

    expectProblem(await get(server.app, `/v1/audit/proof?index=${size}`), 404, 'proof-unavailable');
    expectProblem(await get(server.app, `/v1/audit/proof?index=0&treeSize=${size + 1}`), 404, 'proof-unavailable');
    expectProblem(await get(server.app, '/v1/audit/proof'), 400, 'validation-failed');
  });

  it('proves consistency between every pair of tree sizes, and the log only grows', async () => {
    const fixture = fx();
    const { server } = fixture;
    const early = await head(fixture);
    await seedWorkload(server);
    expect((await server.signed('POST', `${WORKLOAD_PATH}/policy`, { accept: ['1.0.0', '2.0.0'], reason: 'both' })).statusCode).toBe(201);
    expect((await server.signed('POST', '/v1/workloads', { name: 'second' })).statusCode).toBe(201);
    const leaves = await recomputedLeaves(fixture);
    const n = leaves.length;
    const roots = leaves.map((_, i) => merkleTreeHash(leaves.slice(0, i + 1)));
    const rootAt = (size: number): Buffer => (size === 0 ? merkleTreeHash([]) : roots[size - 1]!);
    // What the head said before the seed is still the prefix of today's log.
    expect(early.root).toBe(hex(rootAt(early.treeSize)));

    for (let to = 1; to <= n; to++) {
      for (let from = 1; from <= to; from++) {
        const res = await get(server.app, `/v1/audit/consistency?from=${from}&to=${to}`);
        expect(res.statusCode, res.body).toBe(200);
        const proof = res.json() as { from: number; to: number; hashes: string[] };
        expect([proof.from, proof.to]).toEqual([from, to]);
        const hashes = proof.hashes.map(unhex);
        expect(verifyConsistency(from, to, hashes, rootAt(from), rootAt(to)), `${from}→${to}`).toBe(true);
        if (from < to) expect(verifyConsistency(from, to, hashes, rootAt(from), rootAt(to - 1))).toBe(false);
      }
    }
    expect((await get(server.app, `/v1/audit/consistency?from=0&to=${n}`)).json()).toEqual({ from: 0, to: n, hashes: [] });
    expectProblem(await get(server.app, '/v1/audit/consistency?from=3&to=2'), 404, 'proof-unavailable');
    expectProblem(await get(server.app, `/v1/audit/consistency?from=1&to=${n + 1}`), 404, 'proof-unavailable');
  });

  it('serves the checkpoint of the current tree as text and stores checkpoints on request', async () => {
    const fixture = fx();
    const { server, clock } = fixture;
    const vkey = await logKey(fixture);
    await seedWorkload(server);

    const text = await get(server.app, '/v1/audit/checkpoint');
    expect(text.statusCode).toBe(200);
    expect(text.headers['content-type']).toMatch(/^text\/plain/);
    const current = await head(fixture);
    const opened = openCheckpoint(text.body, vkey, { origin: ORIGIN });
    expect([opened.size, hex(opened.root)]).toEqual([current.treeSize, current.root]);
    expect(text.body.startsWith(`${ORIGIN}\n${current.treeSize}\n`)).toBe(true);

    const listed = async () => ((await get(server.app, '/v1/audit/checkpoints')).json() as { checkpoints: { size: number; root: string; note: string }[] }).checkpoints;
    expect(await listed()).toEqual([]);

    // Storing a checkpoint is not a ledger entry: the ledger does not grow.
    const first = await expectNoEntry(server.app, () => server.signed('POST', '/v1/audit/checkpoints'));
    expect(first.statusCode).toBe(201);
    const stored = first.json() as { size: number; root: string; note: string; createdAt: string };
    expect(stored).toEqual({ size: current.treeSize, root: current.root, note: text.body, createdAt: clock().toISOString() });

    // Nothing new to cover: the latest stored checkpoint is returned again.
    clock.advance(1000);
    const repeat = await server.signed('POST', '/v1/audit/checkpoints');
    expect(repeat.statusCode).toBe(201);
    expect(repeat.json()).toEqual(stored);
    expect(await listed()).toHaveLength(1);

    expect((await server.signed('POST', '/v1/workloads', { name: 'later' })).statusCode).toBe(201);
    const second = (await server.signed('POST', '/v1/audit/checkpoints')).json() as typeof stored;
    // The workload and the entry authorising it.
    expect(second.size).toBe(stored.size + 2);
    expect(second.createdAt).toBe(clock().toISOString());
    const all = await listed();
    expect(all.map((c) => c.size)).toEqual([stored.size, second.size]);
    const after = (await get(server.app, `/v1/audit/checkpoints?after=${stored.size}`)).json() as { checkpoints: { size: number }[] };
    expect(after.checkpoints.map((c) => c.size)).toEqual([second.size]);

    // The two stored checkpoints are consistent with each other.
    const a = openCheckpoint(stored.note, vkey, { origin: ORIGIN });
    const b = openCheckpoint(second.note, vkey, { origin: ORIGIN });
    const proof = (await get(server.app, `/v1/audit/consistency?from=${a.size}&to=${b.size}`)).json() as { hashes: string[] };
    expect(verifyConsistency(a.size, b.size, proof.hashes.map(unhex), a.root, b.root)).toBe(true);
  });
});

describeEachBackend('HTTP API: operations', (backend) => {
  const fx = useTestServer(backend);

  it('answers liveness, readiness and Prometheus metrics', async () => {
    const { server } = fx();
    const health = await get(server.app, '/healthz');
    expect(health.statusCode).toBe(200);
    expect(health.json()).toEqual({ status: 'ok' });
    const ready = await get(server.app, '/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready', store: backend.name });

    expect((await server.signed('POST', '/v1/workloads', { name: WORKLOAD })).statusCode).toBe(201);
    expect((await server.signed('POST', '/v1/workloads', { name: WORKLOAD })).statusCode).toBe(409);
    const metrics = await get(server.app, '/metrics');
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
    expect(metrics.body).toContain('# TYPE covenant_http_requests_total counter');
    expect(metrics.body).toContain('covenant_http_requests_total{method="GET",route="/healthz",status="200"} 1');
    expect(metrics.body).toContain('covenant_http_requests_total{method="POST",route="/v1/workloads",status="201"} 1');
    expect(metrics.body).toContain('covenant_http_requests_total{method="POST",route="/v1/workloads",status="409"} 1');
    expect(metrics.body).toContain('# TYPE covenant_http_request_duration_seconds histogram');
  });
});

describe('HTTP API: OpenAPI document', () => {
  const fx = useTestServer(sqliteBackend);
  // Operational endpoints deliberately left out of the API description.
  const HIDDEN = new Set(['/metrics', '/openapi.json']);

  interface Operation {
    summary?: string;
    responses?: Record<string, unknown>;
    parameters?: { in: string; name: string; required?: boolean }[];
    requestBody?: { content?: Record<string, { schema?: { type?: string; required?: string[]; additionalProperties?: unknown } }> };
  }

  it('is an OpenAPI 3 document with an operation for every route and only for those', async () => {
    const { server } = fx();
    const res = await get(server.app, '/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = res.json() as { openapi: string; info: { title: string; version: string }; paths: Record<string, Record<string, Operation>> };
    expect(doc.openapi).toMatch(/^3\.\d+\.\d+$/);
    expect(doc.info.title.length).toBeGreaterThan(0);
    expect(doc.info.version).toBe('test');

    const routes = listRoutes(server.app);
    // The route table is read correctly: known routes are in it.
    expect(routes).toContainEqual({ url: '/v1/audit/checkpoints', methods: ['GET', 'POST'] });
    expect(routes).toContainEqual({ url: '/v1/members/:name', methods: ['DELETE'] });
    expect(routes).toContainEqual({ url: '/v1/workloads/:workload/releases/:version', methods: ['GET'] });

    const served = new Set<string>();
    for (const route of routes) {
      if (HIDDEN.has(route.url)) continue;
      const path = route.url.replace(/:(\w+)/g, '{$1}');
      for (const method of route.methods) {
        served.add(`${method} ${path}`);
        const operation = doc.paths[path]?.[method.toLowerCase()];
        expect(operation, `${method} ${path} is not in the OpenAPI document`).toBeDefined();
        expect(Object.keys(operation!.responses ?? {}).length).toBeGreaterThan(0);
        expect(operation!.summary?.length ?? 0, `${method} ${path} has no summary`).toBeGreaterThan(0);
        for (const [, name] of route.url.matchAll(/:(\w+)/g)) {
          expect(operation!.parameters ?? []).toContainEqual(expect.objectContaining({ in: 'path', name, required: true }));
        }
        // Deployment controllers put what they like in their bodies: the gates take extra fields.
        if (method === 'POST' && operation!.requestBody && !path.includes('/gates/')) {
          const schema = operation!.requestBody.content?.['application/json']?.schema;
          expect(schema?.type).toBe('object');
          expect(schema?.additionalProperties).toBe(false);
        }
      }
    }
    const documented = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`));
    expect(documented.sort()).toEqual([...served].sort());
    for (const entry of documented) {
      const [method, path] = entry.split(' ') as [string, string];
      expect(server.app.hasRoute({ method: method as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') })).toBe(true);
    }
    // Request bodies are described with their required fields.
    expect(doc.paths['/v1/workloads']?.['post']?.requestBody?.content?.['application/json']?.schema?.required).toEqual(['name']);
    expect(doc.paths['/v1/workloads/{workload}/policy']?.['post']?.requestBody?.content?.['application/json']?.schema?.required).toEqual(['reason']);
  });
});
