import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../src/ledger/checkpoint.js';
import { verifyConsistency, verifyInclusion } from '../../src/ledger/merkle.js';
import { parseVerifierKey } from '../../src/ledger/note.js';
import { runCli, startServerProcess, type ServerProcess } from '../support/process.js';

const hex64 = (c: string): string => c.repeat(64);

describe('the covenant CLI against a real server', () => {
  let root: string;
  let server: ServerProcess;
  let env: NodeJS.ProcessEnv;
  const cli = (...args: string[]) => runCli([...args], env);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'covenant-cli-'));
    env = { COVENANT_HOME: join(root, 'home') };
    server = await startServerProcess(['--data-dir', join(root, 'data')], env);
    env = { ...env, COVENANT_SERVER: server.url };
  });

  afterAll(async () => {
    await server.stop();
  });

  it('has --help on every command and a usage error exit code', async () => {
    const top = await cli('--help');
    expect(top.code).toBe(0);
    for (const group of ['init', 'serve', 'workload', 'release', 'policy', 'audit', 'member']) expect(top.stdout).toContain(group);
    for (const args of [['workload', 'create', '--help'], ['release', 'register', '--help'], ['policy', 'update', '--help'], ['audit', 'proof', '--help'], ['member', 'add', '--help']]) {
      const help = await cli(...args);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/^Usage: covenant /);
    }
    const unknown = await cli('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split('\n')[0]).toMatch(/unknown command/);
  });

  it('governs a workload end to end, with --json on read commands', async () => {
    expect((await cli('workload', 'create', 'payments/ingest')).code).toBe(0);
    expect((await cli('release', 'register', 'payments/ingest', '--version', '1.0.0', '--class', 'sev-snp', '--measurement', `sha384:${'a'.repeat(96)}`, '--svn', '1')).code).toBe(0);
    expect(
      (await cli('release', 'register', 'payments/ingest', '--version', '1.1.0', '--class', 'sgx', '--signer', hex64('b'), '--product', '1', '--min-svn', '2', '--config', `roots=sha256:${hex64('c')}`)).code,
    ).toBe(0);
    expect((await cli('policy', 'update', 'payments/ingest', '--accept', '1.0.0', '--reason', 'first')).code).toBe(0);
    const second = await cli('policy', 'update', 'payments/ingest', '--accept', '1.1.0', '--floor', '1', '--rule', "tcb=tcb_status == 'UpToDate'", '--reason', 'phase in');
    expect(second.code).toBe(0);

    const workloads = JSON.parse((await cli('workload', 'list', '--json')).stdout) as { name: string }[];
    expect(workloads.map((w) => w.name)).toEqual(['payments/ingest']);
    const releases = JSON.parse((await cli('release', 'list', 'payments/ingest', '--json')).stdout) as { version: string; status: string }[];
    expect(releases.map((r) => [r.version, r.status])).toEqual([
      ['1.0.0', 'accepted'],
      ['1.1.0', 'accepted'],
    ]);
    const history = JSON.parse((await cli('policy', 'history', 'payments/ingest', '--json')).stdout) as { id: string; number: number; predecessor: string | null; createdAt: string }[];
    expect(history.map((v) => v.number)).toEqual([1, 2]);
    expect(history[1]!.predecessor).toBe(history[0]!.id);
    const shown = JSON.parse((await cli('policy', 'show', 'payments/ingest', '--json')).stdout) as { id: string; rules: Record<string, string> };
    expect(shown.id).toBe(history[1]!.id);
    expect(shown.rules).toEqual({ tcb: "tcb_status == 'UpToDate'" });
    const byPrefix = JSON.parse((await cli('policy', 'show', 'payments/ingest', '--version', history[0]!.id.slice(0, 12), '--json')).stdout) as { id: string };
    expect(byPrefix.id).toBe(history[0]!.id);
    const diff = await cli('policy', 'diff', 'payments/ingest', history[0]!.id, history[1]!.id);
    expect(diff.stdout).toContain('+ accept 1.1.0');
    const at = JSON.parse((await cli('policy', 'at', 'payments/ingest', history[0]!.createdAt, '--json')).stdout) as { id: string };
    expect(at.id).toBe(history[0]!.id);
  });

  it('refuses with one line and exit 1; floor decrease and unknown release name the problem', async () => {
    const refused = await cli('policy', 'update', 'payments/ingest', '--floor', '0', '--reason', 'down');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/^covenant: .*floor.*floor-decrease/);
    const unknown = await cli('policy', 'update', 'payments/ingest', '--accept', '9.9.9', '--reason', 'x');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('9.9.9');
    const missing = await cli('workload', 'show', 'nope/none');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^covenant: no workload named nope\/none/);
  });

  it('enrols a second member from its own COVENANT_HOME, who can then sign', async () => {
    const bobEnv = { COVENANT_HOME: join(root, 'bob'), COVENANT_SERVER: server.url };
    const keygen = await runCli(['member', 'keygen', '--name', 'bob', '--alg', 'ecdsa-p256-sha256'], bobEnv);
    expect(keygen.code).toBe(0);
    const publicKey = keygen.stdout.trim();
    expect((await cli('member', 'add', 'bob', '--key', publicKey, '--role', 'admin')).code).toBe(0);
    expect((await runCli(['workload', 'create', 'bob/service'], bobEnv)).code).toBe(0);
    const entries = JSON.parse((await cli('audit', 'log', '--workload', 'bob/service', '--json')).stdout) as { actor: string; type: string }[];
    expect(entries).toEqual([expect.objectContaining({ actor: 'member:bob', type: 'change.authorized' }), expect.objectContaining({ actor: 'member:bob', type: 'workload.created' })]);
    const members = JSON.parse((await cli('member', 'list', '--json')).stdout) as { name: string; alg: string }[];
    expect(members.map((m) => [m.name, m.alg])).toEqual([
      ['admin', 'ed25519'],
      ['bob', 'ecdsa-p256-sha256'],
    ]);
    expect((await cli('member', 'remove', 'bob')).code).toBe(0);
    const gone = await runCli(['workload', 'create', 'bob/other'], bobEnv);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain('unauthenticated');
  });

  it('imports collateral recognised by content and lists it; expired collateral is refused with one line', async () => {
    const fixture = (path: string): string => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url));
    const imported = await cli('collateral', 'import', fixture('sgx/intel_sgx_root_ca.der'));
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toMatch(/intel_sgx_root_ca\.der: certificates, 1 certificate\(s\), first .*Intel SGX Root CA.*; valid 2018-05-21T.* to 2049-12-31T23:59:59\.000Z; sha256:[0-9a-f]{64}/);
    const listed = JSON.parse((await cli('collateral', 'list', '--json')).stdout) as { kind: string; valid: boolean; classes: string[] }[];
    expect(listed).toEqual([expect.objectContaining({ kind: 'certificates', valid: true, classes: expect.arrayContaining(['sgx', 'nitro', 'sev-snp']) as unknown })]);
    expect((await cli('collateral', 'list')).stdout).toMatch(/^DIGEST +KIND +CLASSES +VALID/);
    // The shipped SGX vector's collateral expired in July 2025.
    const expired = await cli('collateral', 'import', fixture('sgx/sgx_quote_collateral.json'));
    expect(expired.code).toBe(1);
    expect(expired.stderr.trim().split('\n')).toHaveLength(1);
    expect(expired.stderr).toMatch(/^covenant: collateral: Intel PCS collateral: SGX TCB info.* expired at 2025-07-19T10:01:18\.000Z/);
    const missing = await cli('collateral', 'import', join(root, 'nothing-here'));
    expect(missing.code).toBe(1);
  });

  it('adds, lists and removes a trust anchor; a class without vendor roots is a usage error', async () => {
    const root = fileURLToPath(new URL('../fixtures/sgx/intel_sgx_root_ca.der', import.meta.url));
    const added = await cli('anchor', 'add', 'tdx', root);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/^tdx: trusting 1 certificate\(s\), first .*Intel SGX Root CA.*; valid .* to 2049-12-31T23:59:59\.000Z; sha256:44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3\n$/);
    expect(JSON.parse((await cli('anchor', 'list', '--json')).stdout)).toEqual([expect.objectContaining({ tee: 'tdx', valid: true, addedBy: 'member:admin' })]);
    expect((await cli('anchor', 'list')).stdout).toMatch(/^TEE +DIGEST +VALID/);
    const removed = await cli('anchor', 'remove', 'tdx', 'sha256:44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3');
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse((await cli('anchor', 'list', '--json')).stdout)).toEqual([]);
    const usage = await cli('anchor', 'add', 'sim', root);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/value 'sim' is invalid.*Allowed choices are sev-snp, azure-snp-vtpm, sgx, tdx, nitro, nvidia-gpu/);
  });

  it('prints proofs, checkpoints and the log key that verify independently', async () => {
    const vkey = parseVerifierKey((await cli('audit', 'log-key')).stdout.trim());
    const proof = JSON.parse((await cli('audit', 'proof', '--index', '2', '--json')).stdout) as { index: number; treeSize: number; leafHash: string; hashes: string[]; checkpoint: string };
    expect(Object.keys(proof).sort()).toEqual(['checkpoint', 'hashes', 'index', 'leafHash', 'treeSize']);
    const checkpoint = openCheckpoint(proof.checkpoint, vkey, { origin: 'covenant/default' });
    expect(checkpoint.size).toBe(proof.treeSize);
    const bytes = (h: string): Buffer => Buffer.from(h, 'hex');
    expect(verifyInclusion(2, proof.treeSize, bytes(proof.leafHash), proof.hashes.map(bytes), checkpoint.root)).toBe(true);

    const older = JSON.parse((await cli('audit', 'proof', '--index', '0', '--tree-size', '3', '--json')).stdout) as { checkpoint: string };
    const old = openCheckpoint(older.checkpoint, vkey);
    const consistency = JSON.parse((await cli('audit', 'consistency', '--from', '3', '--to', String(proof.treeSize), '--json')).stdout) as { from: number; to: number; hashes: string[] };
    expect(Object.keys(consistency).sort()).toEqual(['from', 'hashes', 'to']);
    expect(verifyConsistency(3, proof.treeSize, consistency.hashes.map(bytes), old.root, checkpoint.root)).toBe(true);

    const latest = await cli('audit', 'checkpoint');
    expect(openCheckpoint(`${latest.stdout.trimEnd()}\n`, vkey).size).toBeGreaterThanOrEqual(proof.treeSize);
    const verified = await cli('audit', 'verify');
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(/^ok: \d+ entries, \d+ checkpoints verified/);
  });

  it('refuses a second server on the same data directory at once', async () => {
    const started = Date.now();
    const second = await runCli(['serve', '--data-dir', join(root, 'data'), '--listen', '127.0.0.1:0'], env);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/in use by another covenant process \(pid \d+\)/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('exits 3 with one line when the server cannot be reached', async () => {
    const down = await runCli(['workload', 'list'], { ...env, COVENANT_SERVER: 'http://127.0.0.1:9' });
    expect(down.code).toBe(3);
    expect(down.stderr.trim().split('\n')).toHaveLength(1);
    expect(down.stderr).toMatch(/^covenant: cannot reach the server/);
  });

  it('exits 4 and names the index when a stored entry was altered', async () => {
    await server.stop();
    const db = new Database(join(root, 'data', 'covenant.db'));
    const row = db.prepare('select body from ledger_entries where seq = 4').get() as { body: Buffer };
    const body = Buffer.from(row.body);
    body[body.length - 10] = body[body.length - 10]! ^ 0x01;
    db.prepare('update ledger_entries set body = ? where seq = 4').run(body);
    db.close();
    server = await startServerProcess(['--data-dir', join(root, 'data')], env);
    env = { ...env, COVENANT_SERVER: server.url };
    const verified = await cli('audit', 'verify');
    expect(verified.code).toBe(4);
    expect(verified.stderr).toMatch(/^covenant: ledger verification failed at index 4/);
  });
});
