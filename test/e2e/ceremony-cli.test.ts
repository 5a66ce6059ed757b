/**
 * A two-person change from the real binary against a real server: the constitution is
 * tightened, a change becomes a proposal (exit 0, pending), a second admin approves it
 * once online and once with a signature made offline from an exported file, a
 * break-glass shows in the audit report, and who-approved names both signers.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServerProcess, type ServerProcess } from '../support/process.js';

const W = 'payments/ingest';
const digest = (c: string) => `sha256:${c.repeat(64)}`;

describe('covenant constitution, proposal and audit report (real binary, real server)', () => {
  let root: string;
  let server: ServerProcess;
  let admin: NodeJS.ProcessEnv;
  let bob: NodeJS.ProcessEnv;
  const as = (env: NodeJS.ProcessEnv, ...args: string[]) => runCli(args, env);

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'covenant-ceremony-'));
    admin = { COVENANT_HOME: join(root, 'admin') };
    server = await startServerProcess(['--data-dir', join(root, 'data')], admin);
    admin = { ...admin, COVENANT_SERVER: server.url };
    bob = { COVENANT_HOME: join(root, 'bob'), COVENANT_SERVER: server.url };
    const key = await as(bob, 'member', 'keygen', '--name', 'bob');
    expect(key.code, key.stderr).toBe(0);
    for (const args of [
      ['member', 'add', 'bob', '--key', key.stdout.trim(), '--role', 'admin'],
      ['workload', 'create', W],
      ['release', 'register', W, '--version', '1.0.0', '--class', 'sim', '--measurement', digest('a'), '--svn', '1'],
      ['release', 'register', W, '--version', '1.1.0', '--class', 'sim', '--measurement', digest('b'), '--svn', '2'],
      ['release', 'register', W, '--version', '1.2.0', '--class', 'sim', '--measurement', digest('c'), '--svn', '3'],
      ['constitution', 'set', 'policy', '--threshold', '2', '--role', 'admin', '--proposer-counts', '--expiry', '24h'],
    ]) {
      const result = await as(admin, ...args);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
  });

  afterAll(async () => {
    await server.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('shows the constitution, with defaults for the classes not set', async () => {
    const shown = await as(admin, 'constitution', 'show');
    expect(shown.stdout).toMatch(/^policy +2 of admin, proposer counts, expires after 1d /m);
    expect(shown.stdout).toMatch(/^workload +1 of admin, proposer counts, expires after 3d +\(default\)$/m);
    const bad = await as(admin, 'constitution', 'set', 'policy', '--threshold', '5', '--role', 'admin');
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^covenant: .*lock the tenant out.*\(conflict, HTTP 409\)$/);
  });

  it('a change needing two signatures is pending (exit 0); the second admin approves it online', async () => {
    const proposed = await as(admin, 'policy', 'update', W, '--accept', '1.0.0', '--reason', 'first release');
    expect(proposed.code, proposed.stderr).toBe(0);
    expect(proposed.stdout).toMatch(/^proposal [0-9a-f]{64} pending: policy\.update needs 2 approvals, has 1 \(admin\); open until /m);
    const id = /^proposal ([0-9a-f]{64})/m.exec(proposed.stdout)![1]!;

    const listed = await as(bob, 'proposal', 'list', '--status', 'open');
    expect(listed.stdout).toMatch(new RegExp(`^${id.slice(0, 16)} +open +policy\\.update +policy/${W} +admin +1/2 `, 'm'));
    const shown = await as(bob, 'proposal', 'show', id.slice(0, 12));
    expect(shown.stdout).toMatch(/^rule +2 of admin, proposer counts, expires after 1d$/m);
    expect(shown.stdout).toContain('"accept": [');

    // The proposer cannot push it through alone a second time.
    const again = await as(admin, 'proposal', 'approve', id);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/admin has already decided/);
    const approved = await as(bob, 'proposal', 'approve', id.slice(0, 16));
    expect(approved.code, approved.stderr).toBe(0);
    expect(approved.stdout.trim()).toBe(`proposal ${id}: executed; 2 of 2 approvals (admin, bob)`);
    const policy = JSON.parse((await as(admin, 'policy', 'show', W, '--json')).stdout) as { id: string; accepted: { version: string }[] };
    expect(policy.accepted.map((a) => a.version)).toEqual(['1.0.0']);

    const who = await as(admin, 'audit', 'who-approved', '--policy', policy.id.slice(0, 12));
    expect(who.stdout).toMatch(/^approved by +admin, bob$/m);
    expect(who.stdout).toMatch(new RegExp(`^proposal +${id}$`, 'm'));
  });

  it('approves with a signature made offline from an exported file', async () => {
    const proposed = await as(admin, 'policy', 'update', W, '--accept', '1.1.0', '--reason', 'phase in');
    const id = /^proposal ([0-9a-f]{64})/m.exec(proposed.stdout)![1]!;
    const exported = join(root, 'decision.json');
    const written = await as(bob, 'proposal', 'export', id, '--out', exported);
    expect(written.code, written.stderr).toBe(0);
    expect(written.stdout).toMatch(/approve policy\.update on policy\/payments\/ingest, proposed by admin/);
    expect(JSON.parse(await readFile(exported, 'utf8'))).toMatchObject({ purpose: 'covenant/proposal-decision/v1', decision: 'approve', proposal: { id, command: 'policy.update' } });

    // On the air-gapped side: no server, only the key file.
    const signed = await runCli(['proposal', 'sign', exported, '--key', join(root, 'bob', 'member.pem'), '--member', 'bob', '--out', join(root, 'decision.sig')], { COVENANT_HOME: join(root, 'nowhere') });
    expect(signed.code, signed.stderr).toBe(0);
    const submitted = await as(admin, 'proposal', 'approve', '--signature', join(root, 'decision.sig'));
    expect(submitted.code, submitted.stderr).toBe(0);
    expect(submitted.stdout.trim()).toMatch(/: executed; 2 of 2 approvals \(admin, bob\)$/);

    // A signature file applied as a rejection, or to an edited export, is refused.
    expect((await as(admin, 'proposal', 'reject', '--signature', join(root, 'decision.sig'))).code).toBe(1);
    const usage = await as(admin, 'proposal', 'approve');
    expect(usage.code).toBe(2);
  });

  it('imports several collateral files under a two-signature rule: each becomes its own proposal', async () => {
    expect((await as(admin, 'constitution', 'set', 'collateral', '--threshold', '2', '--role', 'admin', '--proposer-counts')).code).toBe(0);
    const fixture = (path: string): string => fileURLToPath(new URL(`../fixtures/${path}`, import.meta.url));
    const files = [fixture('sgx/intel_sgx_root_ca.der'), fixture('nitro/aws-nitro-root-g1.pem')];
    const imported = await as(admin, 'collateral', 'import', ...files);
    expect(imported.code, imported.stderr).toBe(0);
    for (const file of files) expect(imported.stdout).toMatch(new RegExp(`^${file.replaceAll('.', '\\.')}: proposal [0-9a-f]{64} pending: collateral\\.import needs 2 approvals, has 1 \\(admin\\)`, 'm'));
    const open = JSON.parse((await as(bob, 'proposal', 'list', '--status', 'open', '--json')).stdout) as { command: string }[];
    expect(open.filter((p) => p.command === 'collateral.import')).toHaveLength(2);
  });

  it('names an unknown action class in one line, exit 2', async () => {
    const unknown = await as(admin, 'constitution', 'set', 'frobnicate', '--threshold', '1', '--role', 'admin');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/frobnicate/);
  });

  it('a break-glass is flagged in the Markdown audit report', async () => {
    const retire = await as(admin, 'rollout', 'start', W, '--to', '1.1.0', '--reason', 'x');
    expect(retire.code).toBe(1);
    expect(retire.stderr).toMatch(/already accepted/);
    const settled = await as(admin, 'policy', 'break-glass', W, '--accept', '1.0.0', '--reason', 'incident 7');
    expect(settled.code).toBe(1);
    expect(settled.stderr).toMatch(/release 1\.0\.0 is already accepted: break-glass only admits a release the policy does not/);
    // A change of acceptance meets the 2-of-admin policy rule too: bob approves it.
    const proposed = await as(admin, 'policy', 'break-glass', W, '--accept', '1.2.0', '--reason', 'incident 7', '--duration', '30m');
    expect(proposed.code, proposed.stderr).toBe(0);
    const id = /^proposal ([0-9a-f]{64}) pending: policy\.break-glass needs 2 approvals/m.exec(proposed.stdout)?.[1];
    expect(id, proposed.stdout).toBeDefined();
    const opened = await as(bob, 'proposal', 'approve', id!);
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout.trim()).toBe(`proposal ${id}: executed; 2 of 2 approvals (admin, bob)`);
    const report = await as(admin, 'audit', 'report', '--since', '2000-01-01T00:00:00Z');
    expect(report.code, report.stderr).toBe(0);
    expect(report.stdout).toMatch(/^# Changes of trust since 2000-01-01T00:00:00\.000Z$/m);
    expect(report.stdout).toMatch(/^### ⚠ BREAK-GLASS: policy\.break-glass on payments\/ingest/m);
    expect(report.stdout).toMatch(/^- proposed by admin; approved by admin, bob \(proposal [0-9a-f]{16}…\)$/m);
    const json = JSON.parse((await as(admin, 'audit', 'report', '--since', '2000-01-01T00:00:00Z', '--format', 'json')).stdout) as { breakGlass: number };
    expect(json.breakGlass).toBe(1);
  });
});
