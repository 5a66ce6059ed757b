/**
 * `covenant attest` and `covenant token verify` against a real server process that
 * trusts the simulated TEE made by `covenant sim init` in its data directory.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startSimDeployment, type SimDeployment } from '../support/process.js';

const ACCEPTED = `sha256:${'a'.repeat(64)}`;
const UNKNOWN = `sha256:${'b'.repeat(64)}`;

describe('covenant attest (real binary, real server)', () => {
  let deployment: SimDeployment;
  const cli = (...args: string[]) => deployment.cli(...args);
  const simDir = () => deployment.simDir;

  beforeAll(async () => {
    deployment = await startSimDeployment('attest', {
      setup: [
        ['workload', 'create', 'payments/ingest'],
        ['release', 'register', 'payments/ingest', '--version', '1.0.0', '--class', 'sim', '--measurement', ACCEPTED, '--svn', '2'],
        ['policy', 'update', 'payments/ingest', '--accept', '1.0.0', '--reason', 'first release'],
      ],
    });
  });

  afterAll(() => deployment?.stop());

  it('warns at start that simulated evidence is accepted', () => {
    expect(deployment.server.output()).toMatch(/WARNING: simulated-TEE evidence is accepted; it offers no security/);
  });

  it('attests an accepted measurement: exit 0, the token on stdout, and it verifies against the server', async () => {
    const attested = await cli('attest', '--workload', 'payments/ingest', '--sim', '--measurement', ACCEPTED, '--svn', '2', '--sim-dir', simDir());
    expect(attested.code, attested.stderr).toBe(0);
    const token = attested.stdout.trim();
    expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(attested.stderr).toMatch(/^status\s+affirming$/m);
    expect(attested.stderr).toMatch(/^release\s+1\.0\.0$/m);

    const verified = await cli('token', 'verify', token, '--workload', 'payments/ingest', '--json');
    expect(verified.code, verified.stderr).toBe(0);
    const claims = JSON.parse(verified.stdout) as { submods: Record<string, Record<string, unknown>> };
    expect(claims.submods['payments/ingest']).toMatchObject({ 'ear.status': 'affirming', 'covenant.tee': 'sim', 'covenant.release': { version: '1.0.0' } });
    const summary = await cli('token', 'verify', token);
    expect(summary.stdout).toMatch(/^tee\s+sim$/m);
  });

  it('an unknown measurement: still a signed token, but exit 1 with one line naming the reason', async () => {
    const attested = await cli('attest', '--workload', 'payments/ingest', '--sim', '--measurement', UNKNOWN, '--sim-dir', simDir());
    expect(attested.code).toBe(1);
    expect(attested.stdout.trim()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(attested.stderr.trim().split('\n').at(-1)).toBe('covenant: attestation contraindicated: no-matching-release');
  });

  it('--json prints the whole reply', async () => {
    const attested = await cli('attest', '--workload', 'payments/ingest', '--sim', '--measurement', ACCEPTED, '--svn', '2', '--sim-dir', simDir(), '--json');
    expect(attested.code).toBe(0);
    expect(JSON.parse(attested.stdout)).toMatchObject({ status: 'complete', appraisal: { status: 'affirming', reasons: [] } });
  });

  it('policy dry-run lists who a candidate would fail and why, changing nothing', async () => {
    const candidate = join(deployment.root, 'retire.json');
    await writeFile(candidate, JSON.stringify({ remove: ['1.0.0'] }));
    const before = await cli('policy', 'show', 'payments/ingest', '--json');
    const run = await cli('policy', 'dry-run', 'payments/ingest', '--policy', candidate);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^INSTANCE\s+TEE\s+RELEASE\s+LASTSEEN\s+CURRENT\s+WOULDBE\s+REASONS$/m);
    expect(run.stdout).toMatch(/sim\s+1\.0\.0\s+\S+\s+affirming\s+contraindicated\s+no-matching-release,release-not-accepted/);
    expect(run.stdout).toMatch(/^\d+ instances: 0 affirming, 0 warning, \d+ contraindicated, 0 without retained evidence$/m);
    expect((await cli('policy', 'show', 'payments/ingest', '--json')).stdout).toBe(before.stdout);

    const current = (JSON.parse(before.stdout) as { id: string }).id;
    const same = await cli('policy', 'dry-run', 'payments/ingest', '--policy', current, '--json');
    expect(same.code, same.stderr).toBe(0);
    expect(JSON.parse(same.stdout)).toMatchObject({ candidate: current, counts: { unavailable: 0 } });

    await writeFile(candidate, '{not json');
    const broken = await cli('policy', 'dry-run', 'payments/ingest', '--policy', candidate);
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim()).toMatch(/^covenant: .*retire\.json is not JSON: /);
  });

  it('serve takes admission limits, and refuses a limit below 1 as a usage error', async () => {
    const help = await runCli(['serve', '--help'], deployment.env);
    expect(help.stdout).toMatch(/--attest-rate <n>/);
    expect(help.stdout).toMatch(/--attest-in-flight <n>/);
    const bad = await runCli(['serve', '--data-dir', join(deployment.root, 'unused'), '--attest-rate', '0'], { COVENANT_HOME: join(deployment.root, 'unused-home') });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--attest-rate/);
  });

  it('a server told to trust a --sim-dir without a vendor root refuses to start', async () => {
    const result = await runCli(['serve', '--data-dir', join(deployment.root, 'other'), '--sim-dir', join(deployment.root, 'empty'), '--listen', '127.0.0.1:0'], { COVENANT_HOME: join(deployment.root, 'other-home') });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^covenant: --sim-dir .*empty holds no vendor-root\.pem: run `covenant sim init --dir .*empty`$/);
  });

  it('serve --anchor: a class without shipped roots is a usage error; a file without certificates stops the start and creates nothing', async () => {
    const home = { COVENANT_HOME: join(deployment.root, 'anchor-home') };
    const usage = await runCli(['serve', '--data-dir', join(deployment.root, 'anchor-data'), '--anchor', 'tpm=ak.pem'], home);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/--anchor.*"tpm" ships no vendor root to replace/);
    const junk = join(deployment.root, 'junk.pem');
    await writeFile(junk, 'not a certificate\n');
    const refused = await runCli(['serve', '--data-dir', join(deployment.root, 'anchor-data'), '--anchor', `nitro=${junk}`, '--listen', '127.0.0.1:0'], home);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(`covenant: --anchor nitro=${junk} holds no PEM or DER certificate`);
    expect(existsSync(join(deployment.root, 'anchor-data'))).toBe(false);
  });

  it('refuses usage errors with exit 2, missing pieces with exit 1, an absent server with exit 3', async () => {
    expect((await cli('attest', '--workload', 'payments/ingest', '--sim', '--measurement', 'sha256:zz')).code).toBe(2);
    expect((await cli('attest', '--workload', 'payments/ingest', '--sim')).code).toBe(2);
    const noSim = await cli('attest', '--workload', 'payments/ingest', '--measurement', ACCEPTED, '--sim-dir', simDir());
    expect(noSim.code).toBe(2);
    expect(noSim.stderr).toMatch(/required option '--sim' not specified/);
    const noPlatform = await cli('attest', '--workload', 'payments/ingest', '--sim', '--measurement', ACCEPTED, '--sim-dir', join(deployment.root, 'nowhere'));
    expect(noPlatform.code).toBe(1);
    expect(noPlatform.stderr.trim()).toMatch(/^covenant: no simulated TEE in .*nowhere: run `covenant sim init` first$/);
    const unknown = await cli('attest', '--workload', 'no/such', '--sim', '--measurement', ACCEPTED, '--sim-dir', simDir());
    expect([unknown.code, unknown.stderr.trim()]).toEqual([1, 'covenant: no workload named no/such (not-found, HTTP 404)']);
    const away = await runCli(['attest', '--workload', 'payments/ingest', '--sim', '--measurement', ACCEPTED, '--sim-dir', simDir(), '--server', 'http://127.0.0.1:9'], deployment.env);
    expect(away.code).toBe(3);
  });
});
