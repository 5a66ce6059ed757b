/**
 * The key broker from the command line, against a real server process: `covenant secret`
 * to store a value and grant it, `covenant kbs get` as a simulated TEE instance to fetch
 * it over the KBS protocol, and the refusals' one line and exit codes.
 */
import { createHash } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startSimDeployment, type SimDeployment } from '../support/process.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const WORKLOAD = 'payments/ingest';

describe('covenant secret and covenant kbs get (real binary, real server)', () => {
  let deployment: SimDeployment;
  const cli = (...args: string[]) => deployment.cli(...args);
  const simDir = () => deployment.simDir;
  const get = (resource: string, measurement: string, ...more: string[]) => cli('kbs', 'get', resource, '--workload', WORKLOAD, '--sim', '--measurement', measurement, '--sim-dir', simDir(), ...more);

  beforeAll(async () => {
    deployment = await startSimDeployment('kbs', {
      setup: [
        ['workload', 'create', WORKLOAD],
        ['release', 'register', WORKLOAD, '--version', '1.0.0', '--class', 'sim', '--measurement', A],
        ['release', 'register', WORKLOAD, '--version', '1.1.0', '--class', 'sim', '--measurement', B, '--svn', '2'],
        ['policy', 'update', WORKLOAD, '--accept', '1.0.0', '--reason', 'first release'],
      ],
    });
  });

  afterAll(() => deployment?.stop());

  it('creates the broker’s key files on first start, private to the server', async () => {
    for (const name of ['kek.key', 'sealing.key']) {
      const info = await stat(join(deployment.root, 'data', 'keys', 'default', name));
      expect(info.mode & 0o777).toBe(0o600);
      expect(Buffer.from((await readFile(join(deployment.root, 'data', 'keys', 'default', name), 'utf8')).trim(), 'base64')).toHaveLength(32);
    }
  });

  it('stores, grants and releases a secret; the value is printed only by the attested instance', async () => {
    const put = await cli('secret', 'put', 'default/key/db', '--value', 'hunter2-from-cli');
    expect(put.code, put.stderr).toBe(0);
    expect(put.stdout).toMatch(/^stored default\/key\/db version 1 \(16 bytes, sha256:[0-9a-f]{64}, key file:[0-9a-f]{16}\)$/m);

    const denied = await get('default/key/db', A);
    expect(denied.code).toBe(1);
    expect(denied.stderr.trim()).toMatch(/^covenant: the resource has no release rules: nothing is released \(default deny\) \(no-rules, HTTP 403\)$/);

    const rules = await cli('secret', 'rules', 'default/key/db', '--allow-workload', WORKLOAD, '--allow-release', '1.0.0', '--allow-release', '1.1.0');
    expect(rules.code, rules.stderr).toBe(0);
    expect(rules.stdout).toContain('rule allow_payments_ingest: workloads payments/ingest; releases 1.0.0, 1.1.0; versions latest');

    const got = await get('default/key/db', A);
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toBe('hunter2-from-cli\n');

    const meta = await cli('secret', 'meta', 'default/key/db');
    expect(meta.code).toBe(0);
    expect(meta.stdout).toMatch(/^latest\s+1$/m);
    expect(meta.stdout).not.toContain('hunter2');
    const list = await cli('secret', 'list', '--json');
    expect(JSON.parse(list.stdout)).toMatchObject([{ resource: 'default/key/db', latestVersion: 1 }]);
  });

  it('rotates from a file and a server-side generator, and reads versions as the rules allow', async () => {
    const file = join(deployment.root, 'value.bin');
    await writeFile(file, 'second-value');
    expect((await cli('secret', 'put', 'default/key/rot', '--value', 'first-value')).code).toBe(0);
    const rotated = await cli('secret', 'rotate', 'default/key/rot', '--file', file);
    expect(rotated.stdout).toMatch(/^rotated default\/key\/rot version 2 \(12 bytes/m);
    expect((await cli('secret', 'rules', 'default/key/rot', '--allow-workload', WORKLOAD, '--versions', 'all')).code).toBe(0);
    expect((await get('default/key/rot', A)).stdout).toBe('second-value\n');
    expect((await get('default/key/rot', A, '--version', '1')).stdout).toBe('first-value\n');
    const generated = await cli('secret', 'rotate', 'default/key/rot', '--generate', '32');
    expect(generated.stdout).toMatch(/version 3 \(32 bytes/);
    const out = join(deployment.root, 'out.bin');
    const written = await get('default/key/rot', A, '--out', out, '--key-type', 'rsa');
    expect(written.code, written.stderr).toBe(0);
    expect((await readFile(out)).length).toBe(32);
    expect((await stat(out)).mode & 0o777).toBe(0o600);
  });

  it('phases with a rollout: B gets the legacy slot; after completion A is refused with exit 1', async () => {
    expect((await cli('secret', 'migration-window', WORKLOAD, '1h')).stdout).toMatch(/close 3600 s after a rollout completes/);
    const aKey = JSON.parse((await get('sealing/key/current', A)).stdout) as { kid: string; release: string };
    expect(aKey.release).toBe('1.0.0');
    expect((await cli('rollout', 'start', WORKLOAD, '--to', '1.1.0', '--reason', 'upgrade')).code).toBe(0);
    const legacy = JSON.parse((await get('sealing/key/legacy', B, '--svn', '2')).stdout) as { kid: string; release: string };
    expect(legacy).toMatchObject({ kid: aKey.kid, release: '1.0.0' });
    expect((await get('default/key/db', B, '--svn', '2')).stdout).toBe('hunter2-from-cli\n');
    const slots = await cli('secret', 'slots', WORKLOAD);
    expect(slots.stdout).toMatch(new RegExp(`^1\\.1\\.0\\s+\\S+\\s+1\\.0\\.0 ${aKey.kid}\\s+after completion$`, 'm'));

    // The A instance is still live: completion is forced past the fleet's share, to show it refused.
    expect((await cli('rollout', 'complete', WORKLOAD, '--reason', 'A still live', '--force')).code).toBe(0);
    const refused = await get('default/key/db', A);
    expect(refused.code).toBe(1);
    // A fresh A instance is appraised against the completed policy: its verdict stands for nothing.
    expect(refused.stderr.trim()).toBe(
      "covenant: the token does not stand: payments/ingest: the verdict was contraindicated; the appraisal's trust vector says payments/ingest: executables=96 contraindicated (covenant attest prints the reason codes) (token-not-standing, HTTP 401)",
    );
    expect((await get('default/key/db', B, '--svn', '2')).code).toBe(0);

    const log = await cli('audit', 'log', '--type', 'secret.refused', '--json');
    const reasons = (JSON.parse(log.stdout) as { payload: { reason: string } }[]).map((e) => e.payload.reason);
    expect(reasons).toEqual(expect.arrayContaining(['no-rules', 'token-not-standing']));
  });

  it('answers usage errors with exit 2 and an absent server with exit 3; every command has --help', async () => {
    expect((await cli('secret', 'put', 'default/key/x')).code).toBe(2);
    expect((await cli('secret', 'put', 'default/key/x', '--value', 'a', '--file', 'b')).code).toBe(2);
    expect((await cli('secret', 'rules', 'default/key/db', '--when', 'true')).code).toBe(2);
    expect((await cli('kbs', 'get', 'default/key/db', '--workload', WORKLOAD)).code).toBe(2);
    expect((await cli('kbs', 'get', 'default/key/db', '--workload', WORKLOAD, '--sim', '--measurement', 'sha256:zz')).code).toBe(2);
    const unreachable = await runCli(['kbs', 'get', 'default/key/db', '--workload', WORKLOAD, '--sim', '--sim-dir', simDir(), '--server', 'http://127.0.0.1:1'], deployment.env);
    expect(unreachable.code).toBe(3);
    const unknown = await get('default/key/none', B, '--svn', '2');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/\(unknown-resource, HTTP 404\)/);
    for (const command of [['secret'], ['secret', 'put'], ['secret', 'rotate'], ['secret', 'meta'], ['secret', 'list'], ['secret', 'rules'], ['secret', 'slots'], ['secret', 'migration-window'], ['kbs'], ['kbs', 'get']]) {
      const help = await cli(...command, '--help');
      expect(help.code, command.join(' ')).toBe(0);
      expect(help.stdout).toMatch(/^Usage: covenant /);
    }
  });

  it('without --measurement, the simulated instance reports sha256 of the workload name', async () => {
    const demo = 'demo/app';
    const measurement = `sha256:${createHash('sha256').update(demo).digest('hex')}`;
    for (const args of [
      ['workload', 'create', demo],
      ['release', 'register', demo, '--version', '1', '--class', 'sim', '--measurement', measurement],
      ['policy', 'update', demo, '--accept', '1', '--reason', 'demo'],
      ['secret', 'put', 'demo/key/k', '--value', 'demo-value'],
      ['secret', 'rules', 'demo/key/k', '--allow-workload', demo],
    ]) {
      const result = await cli(...args);
      expect(result.code, result.stderr).toBe(0);
    }
    const got = await cli('kbs', 'get', 'demo/key/k', '--workload', demo, '--sim', '--sim-dir', simDir());
    expect(got.code, got.stderr).toBe(0);
    expect(got.stdout).toBe('demo-value\n');
  });
});
