/**
 * The rollout, release revoke and fleet commands, from the real binary against a real
 * server whose rollout driver ticks every second.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimDeployment, type SimDeployment } from '../support/process.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const W = 'payments/ingest';

describe('covenant rollout, release revoke and fleet (real binary, real server)', () => {
  let deployment: SimDeployment;
  const cli = (...args: string[]) => deployment.cli(...args);
  const simDir = () => deployment.simDir;
  const attest = (measurement: string, svn: string) => cli('attest', '--workload', W, '--sim', '--measurement', measurement, '--svn', svn, '--sim-dir', simDir());

  beforeAll(async () => {
    deployment = await startSimDeployment('rollout', {
      serverArgs: ['--rollout-interval', '1'],
      setup: [
        ['workload', 'create', W],
        ['release', 'register', W, '--version', '1.0.0', '--class', 'sim', '--measurement', A, '--svn', '1'],
        ['release', 'register', W, '--version', '1.1.0', '--class', 'sim', '--measurement', B, '--svn', '2'],
        ['policy', 'update', W, '--accept', '1.0.0', '--reason', 'first release'],
      ],
    });
  });

  afterAll(() => deployment?.stop());

  it('has --help for every rollout and fleet command', async () => {
    for (const args of [['rollout', 'start'], ['rollout', 'advance'], ['rollout', 'complete'], ['rollout', 'rollback'], ['rollout', 'status'], ['rollout', 'watch'], ['rollout', 'history'], ['rollout', 'signal'], ['release', 'revoke'], ['fleet', 'status'], ['fleet', 'compliance']]) {
      const help = await cli(...args, '--help');
      expect(help.code, args.join(' ')).toBe(0);
      expect(help.stdout).toMatch(/^Usage: covenant /);
    }
  });

  it('refuses a bad gates file and bad waves with one line, before anything changes', async () => {
    const gate = join(deployment.root, 'bad-gate.json');
    await writeFile(gate, JSON.stringify({ minAffirming: [1, 2, 3], minSoak: 'soon' }));
    const refused = await cli('rollout', 'start', W, '--to', '1.1.0', '--waves', '50,100', '--gate', gate, '--reason', 'x');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    expect(refused.stderr).toMatch(/gate\.minAffirming: give one value, or one per wave \(2\), got 3; gate\.minSoak: must be a duration/);
    const waves = await cli('rollout', 'start', W, '--to', '1.1.0', '--waves', '50,10', '--reason', 'x');
    expect(waves.code).toBe(2);
    expect(waves.stderr).toMatch(/--waves.*must increase/);
    expect(JSON.parse((await cli('rollout', 'status', W, '--json')).stdout)).toMatchObject({ rollout: null });
  });

  it('rolls out with a gate the server drives, watched until completion; old releases stay out', async () => {
    expect((await attest(A, '1')).code).toBe(0);
    const gate = join(deployment.root, 'gate.json');
    // The A instance attested once and is gone: after the 5 s live window it no longer counts, and the fleet is all B.
    await writeFile(gate, JSON.stringify({ minAffirming: 1, maxContraindicatedPercent: 0, minSoak: '0s', liveWindow: '5s' }));
    const started = await cli('rollout', 'start', W, '--to', '1.1.0', '--waves', '50,100', '--gate', gate, '--reason', 'upgrade');
    expect(started.code, started.stderr).toBe(0);
    expect(started.stdout).toMatch(/^rollout #1 of payments\/ingest: wave 1 of 2 \(50%\)$/m);

    const status = await cli('rollout', 'status', W);
    expect(status.stdout).toMatch(/^rollout #1 of payments\/ingest: active, 1\.0\.0 → 1\.1\.0$/m);
    expect(status.stdout).toMatch(/^gate: pending$/m);
    expect(status.stdout).toMatch(/^ {2}min-affirming +0 \(≥ 1\) +pending$/m);

    // B instances keep arriving; the driver passes wave 1, then wave 2, and completes.
    let done = false;
    const watching = cli('rollout', 'watch', W, '--interval', '1s', '--timeout', '90s').finally(() => (done = true));
    for (let i = 0; i < 30 && !done; i++) {
      expect((await attest(B, '2')).code).toBe(0);
      await new Promise((resolve) => setTimeout(resolve, 1200));
    }
    const watched = await watching;
    expect(watched.code, watched.stderr).toBe(0);
    const lines = watched.stdout.trim().split('\n');
    // The first B instance may pass wave 1 before watch has started: it then begins at wave 2.
    expect(lines[0]).toMatch(/#1 active wave (1\/2 50%|2\/2 100%) gate /);
    const waves = lines.map((line) => Number(/ wave (\d)\/2 /.exec(line)?.[1]));
    expect(waves).toEqual([...waves].sort());
    expect(lines.at(-1)).toMatch(/#1 completed wave 2\/2 100% .*: gate of wave 2 passed/);

    const history = await cli('rollout', 'history', W);
    expect(history.stdout).toMatch(/^1 +1\.0\.0 → 1\.1\.0 +completed /m);
    const policy = JSON.parse((await cli('policy', 'show', W, '--json')).stdout) as { accepted: { version: string }[] };
    expect(policy.accepted.map((a) => a.version)).toEqual(['1.1.0']);
    const readmit = await cli('policy', 'update', W, '--accept', '1.0.0', '--reason', 'back');
    expect(readmit.code).toBe(1);
    expect(readmit.stderr.trim()).toMatch(/^covenant: release 1\.0\.0 is retired .*\(readmission-refused, HTTP 422\)$/);
  }, 180_000);

  it('revokes with a deadline: warning attestations, a compliance report, a signal', async () => {
    const deadline = new Date(Date.now() + 3 * 86_400_000).toISOString();
    const revoked = await cli('release', 'revoke', W, '1.1.0', '--reason', 'CVE-2026-0002', '--deadline', deadline);
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked payments\/ingest 1\.1\.0: accepted with a warning until /m);
    const attested = await attest(B, '2');
    expect(attested.code).toBe(0);
    expect(attested.stderr).toMatch(/^status\s+warning$/m);

    const compliance = await cli('fleet', 'compliance', W);
    expect(compliance.code, compliance.stderr).toBe(0);
    expect(compliance.stdout).toMatch(/^1\.1\.0: revoked, deadline .* \((2d 23h|3d) left\), \d+ instances$/m);
    expect(compliance.stdout).toMatch(/^1\.0\.0: not-accepted, 1 instances$/m);
    const status = await cli('fleet', 'status', W, '--json');
    expect(JSON.parse(status.stdout)).toEqual(expect.arrayContaining([{ release: '1.1.0', status: 'warning', instances: 1 }]));

    const signal = await cli('rollout', 'signal', W, '--source', 'prometheus', '--unhealthy', '--detail', 'error rate 5%');
    expect(signal.code, signal.stderr).toBe(0);
    expect(signal.stdout).toMatch(/^healthy +false$/m);
    expect((await cli('rollout', 'signal', W, '--source', 'prometheus')).code).toBe(2);
    expect((await cli('rollout', 'advance', W)).code).toBe(1);
    expect((await cli('rollout', 'advance', W, '--force')).stderr).toMatch(/--force needs --reason/);
  });
});
