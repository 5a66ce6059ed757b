/**
 * What a newcomer tripped over (issue 13, section 4), through the real binary against a
 * real server: relative times, rule names with "-", refused changes in the audit
 * report, retirement and break-glass in the words of the refusal, KBS refusals with
 * the appraisal's reasons, `rollout watch` after a refused start, the fleet of every
 * workload and `token check`.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startSimDeployment, type SimDeployment } from '../support/process.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const W = 'payments/ingest';
const OTHER = 'payments/audit';

describe('the CLI as a newcomer meets it (real binary, real server)', () => {
  let deployment: SimDeployment;
  const cli = (...args: string[]) => deployment.cli(...args);
  const attest = (workload: string, measurement: string) => cli('attest', '--workload', workload, '--sim', '--measurement', measurement, '--sim-dir', deployment.simDir);

  beforeAll(async () => {
    deployment = await startSimDeployment('newcomer', {
      setup: [
        ['workload', 'create', W],
        ['workload', 'create', OTHER],
        ['release', 'register', W, '--version', '1.0.0', '--class', 'sim', '--measurement', A],
        ['release', 'register', W, '--version', '1.1.0', '--class', 'sim', '--measurement', B],
        ['policy', 'update', W, '--accept', '1.0.0', '--reason', 'first release'],
      ],
    });
  });

  afterAll(() => deployment?.stop());

  it('takes relative times in every time option, and refuses one pointing the wrong way as a usage error', async () => {
    const log = await cli('audit', 'log', '--since', '1h ago', '--workload', W, '--json');
    expect(log.code, log.stderr).toBe(0);
    expect((JSON.parse(log.stdout) as { type: string }[]).map((e) => e.type)).toContain('policy.version-created');
    const future = await cli('audit', 'log', '--since', '+1h');
    expect(future.code).toBe(2);
    expect(future.stderr).toMatch(/--since <time>' argument '\+1h' is invalid\. must lie in the past/);

    const at = await cli('policy', 'at', W, 'now', '--json');
    expect(at.code, at.stderr).toBe(0);
    expect(JSON.parse(at.stdout)).toMatchObject({ number: 1 });
    expect((await cli('policy', 'at', W, '2h ago')).stderr).toMatch(/not-found/);

    const report = await cli('audit', 'report', '--since', '1d', '--format', 'json');
    expect(report.code, report.stderr).toBe(0);
    expect(JSON.parse(report.stdout)).toMatchObject({ changes: expect.arrayContaining([expect.objectContaining({ command: 'policy.update' })]) as unknown });

    const backwards = await cli('release', 'revoke', W, '1.1.0', '--reason', 'typo', '--deadline', '-2h');
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toMatch(/must lie in the future/);
    const ambiguous = await cli('token', 'verify', 'x.y.z', '--at', '2h');
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toMatch(/could be ahead or behind/);
  });

  it('accepts rule names with "-"', async () => {
    const updated = await cli('policy', 'update', W, '--rule', "min-svn=svn >= 0", '--reason', 'dashes');
    expect(updated.code, updated.stderr).toBe(0);
    expect(JSON.parse((await cli('policy', 'show', W, '--json')).stdout)).toMatchObject({ rules: { 'min-svn': 'svn >= 0' } });
    expect((await attest(W, A)).code).toBe(0);
  });

  it('says --remove retires a release for good, points at break-glass when re-adding it, and reports the refusal', async () => {
    expect((await cli('policy', 'update', '--help')).stdout).toMatch(/--remove <version>\s+stop accepting a release for good: it becomes retired/);
    expect((await cli('policy', 'update', W, '--accept', '1.1.0', '--reason', 'next')).code).toBe(0);
    expect((await cli('policy', 'update', W, '--remove', '1.0.0', '--reason', 'done with it')).code).toBe(0);
    const again = await cli('policy', 'update', W, '--accept', '1.0.0', '--reason', 'want it back');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/release 1\.0\.0 is retired .* cannot be accepted again; register and roll out a new release \(in an emergency, `covenant policy break-glass` accepts it for a time box\) \(readmission-refused, HTTP 422\)/);

    const markdown = await cli('audit', 'report', '--since', '1h ago');
    expect(markdown.code, markdown.stderr).toBe(0);
    expect(markdown.stdout).toMatch(/, 1 refused\./);
    expect(markdown.stdout).toMatch(/## Refused\n\n- entry \d+, \S+, policy\.update by member:\S+ on payments\/ingest: readmission-refused: release 1\.0\.0 is retired/);
    const json = JSON.parse((await cli('audit', 'report', '--since', '1h ago', '--format', 'json')).stdout) as { refused: unknown[] };
    expect(json.refused).toEqual([expect.objectContaining({ command: 'policy.update', workload: W, refusal: 'readmission-refused' })]);
  });

  it('gives the appraisal’s reasons when the key broker refuses a contraindicated instance', async () => {
    expect((await cli('secret', 'put', 'default/key/db', '--value', 'v')).code).toBe(0);
    expect((await cli('secret', 'rules', 'default/key/db', '--allow-workload', W)).code).toBe(0);
    const refused = await cli('kbs', 'get', 'default/key/db', '--workload', W, '--sim', '--measurement', `sha256:${'c'.repeat(64)}`, '--sim-dir', deployment.simDir);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/the verdict was contraindicated; the appraisal's trust vector says payments\/ingest: executables=96 contraindicated/);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('refuses to watch a finished rollout after a refused start unless named with --number', async () => {
    expect((await cli('release', 'register', W, '--version', '1.2.0', '--class', 'sim', '--measurement', `sha256:${'d'.repeat(64)}`)).code).toBe(0);
    expect((await cli('rollout', 'start', W, '--to', '1.2.0', '--reason', 'first')).code).toBe(0);
    expect((await cli('rollout', 'complete', W, '--reason', 'done')).code).toBe(0);
    expect((await cli('rollout', 'start', W, '--to', '1.0.0', '--reason', 'back to the retired one')).code).toBe(1);

    const watch = await cli('rollout', 'watch', W);
    expect(watch.code).toBe(1);
    expect(watch.stderr).toMatch(/no rollout of payments\/ingest in progress: the latest, #1 \(→ 1\.2\.0\), completed at \S+; run with --number 1 to watch it anyway/);
    const named = await cli('rollout', 'watch', W, '--number', '1');
    expect(named.code, named.stderr).toBe(0);
    expect(named.stdout).toMatch(/#1 completed/);
    const missing = await cli('rollout', 'watch', W, '--number', '7');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/has no rollout #7 \(the latest is #1\)/);
    expect((await cli('rollout', 'watch', W, '--number', '0')).code).toBe(2);
  });

  it('shows the fleet of every workload', async () => {
    const all = await cli('fleet', 'status');
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout).toMatch(/^WORKLOAD\s+RELEASE\s+AFFIRMING/);
    expect(all.stdout).toMatch(/^payments\/audit\s+\(no instances\)/m);
    expect(all.stdout).toMatch(/^payments\/ingest\s+\S+\s+\d+/m);
    const json = JSON.parse((await cli('fleet', 'status', '--json')).stdout) as { workload: string; fleet: unknown[] }[];
    expect(json.map((f) => f.workload).sort()).toEqual([OTHER, W]);
  });

  it('asks the server whether a token still stands', async () => {
    const token = (await attest(W, `sha256:${'d'.repeat(64)}`)).stdout.trim();
    const stands = await cli('token', 'check', token);
    expect(stands.code, stands.stderr).toBe(0);
    expect(stands.stdout.trim()).toBe('the token stands');
    expect(JSON.parse((await cli('token', 'check', token, '--json')).stdout)).toEqual({ valid: true, reasons: [] });

    expect((await cli('release', 'revoke', W, '1.2.0', '--reason', 'CVE-2026-0001')).code).toBe(0);
    const fallen = await cli('token', 'check', token);
    expect(fallen.code).toBe(1);
    expect(fallen.stderr).toMatch(/^covenant: the token does not stand: payments\/ingest: release 1\.2\.0 is no longer accepted/);
    const garbage = await cli('token', 'check', 'not-a-token');
    expect(garbage.code).toBe(1);
    // A relying party asks without a member key: the token is the credential.
    const stranger = await runCli(['token', 'check', token, '--server', deployment.server.url], { COVENANT_HOME: join(deployment.root, 'relying-party') });
    expect(stranger.code).toBe(1);
    expect(stranger.stderr).toMatch(/^covenant: the token does not stand: payments\/ingest: release 1\.2\.0 is no longer accepted/);
  });
});
